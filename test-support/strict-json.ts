// JSON.parse, but refusing what some consumers refuse: a key twice in one object (JSON.parse
// keeps the last; Elasticsearch rejects the document) and anything that is not one JSON
// value. For log lines, which must read the same in every pipeline.

/** The value of `text`; throws naming the first duplicate key or syntax error. */
export function parseStrictJson(text: string): unknown {
  let at = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at ${at} in ${text}`);
  };
  const space = () => {
    while (at < text.length && " \t\n\r".includes(text[at] as string)) at++;
  };
  const string = (): string => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: JSON refuses them raw in a string
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(at));
    if (!m) return fail("a string expected");
    at += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const value = (): void => {
    space();
    const c = text[at];
    if (c === "{") {
      at++;
      const keys = new Set<string>();
      space();
      if (text[at] === "}") {
        at++;
        return;
      }
      for (;;) {
        space();
        const key = string();
        if (keys.has(key)) fail(`duplicate key ${JSON.stringify(key)}`);
        keys.add(key);
        space();
        if (text[at++] !== ":") fail('":" expected');
        value();
        space();
        const next = text[at++];
        if (next === "}") return;
        if (next !== ",") fail('"," or "}" expected');
      }
    }
    if (c === "[") {
      at++;
      space();
      if (text[at] === "]") {
        at++;
        return;
      }
      for (;;) {
        value();
        space();
        const next = text[at++];
        if (next === "]") return;
        if (next !== ",") fail('"," or "]" expected');
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(at));
    if (!m) fail("a value expected");
    at += (m as RegExpExecArray)[0].length;
  };
  value();
  space();
  if (at !== text.length) fail("one value expected");
  return JSON.parse(text);
}
