import { describe, expect, it } from "vitest";
import { parseStrictJson } from "../../test-support/strict-json.ts";
import { createLogger } from "./log-format.ts";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function capture(fields?: Record<string, unknown>) {
  const lines: string[] = [];
  const log = createLogger("sluice-operator", "debug", {
    stream: { write: (line: string) => lines.push(line) },
    ...(fields ? { fields } : {}),
  });
  return { log, lines };
}

describe("parseStrictJson", () => {
  it.each([
    ['{"a":1,"a":2}', /duplicate key "a"/],
    ['{"x":{"name":"a","name":"b"}}', /duplicate key "name"/],
    ['{"a":1} {"b":2}', /one value expected/],
    ["{'a':1}", /a string expected/],
  ])("refuses %s", (text, error) => {
    expect(() => parseStrictJson(text)).toThrow(error);
  });

  it("reads what JSON.parse reads", () => {
    const text = '{"a":[1,-2.5e3,true,null,{"b":"\\u00e9\\n"}],"c":{}}';
    expect(parseStrictJson(text)).toEqual(JSON.parse(text));
  });
});

describe("the log format", () => {
  it("starts every line with the level's name and an ISO time, then pid, hostname and logger", () => {
    const { log, lines } = capture();
    log.info({ version: "v1" }, "compiled");
    log.error("boom");
    const [info, error] = lines.map((l) => parseStrictJson(l) as Record<string, unknown>);
    expect(Object.keys(info ?? {})).toEqual(["level", "time", "pid", "hostname", "logger", "version", "msg"]);
    expect(info).toMatchObject({ level: "info", logger: "sluice-operator", version: "v1", msg: "compiled" });
    expect(info?.time).toMatch(ISO);
    expect(Math.abs(Date.parse(info?.time as string) - Date.now())).toBeLessThan(5_000);
    expect(error).toMatchObject({ level: "error", msg: "boom" });
  });

  it("keeps an object's `name` (the process is `logger`) and renames fields the line already has", () => {
    const { log, lines } = capture({ worker: 1 });
    // What the status writer logs for every condition it sets.
    log.info({ kind: "GatewayRoute", namespace: "shop", name: "orders" }, "condition set");
    log.warn(
      { level: 5, time: "then", msg: "inner", pid: 7, worker: 2, logger: "x", time_: "kept" },
      "outer",
    );
    const [set, clash] = lines.map((l) => parseStrictJson(l) as Record<string, unknown>);
    expect(set).toMatchObject({ logger: "sluice-operator", worker: 1, name: "orders", msg: "condition set" });
    expect(clash).toMatchObject({
      level: "warn",
      msg: "outer",
      worker: 1,
      level_: 5,
      time_: "then",
      time__: "kept",
      msg_: "inner",
      pid_: 7,
      worker_: 2,
      logger_: "x",
    });
  });

  it("changes level at runtime and still writes names", () => {
    const { log, lines } = capture();
    log.level = "warn";
    log.info("hidden");
    log.warn("shown");
    expect(lines.map((l) => (parseStrictJson(l) as { level: string }).level)).toEqual(["warn"]);
  });
});
