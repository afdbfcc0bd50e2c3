// URLRewrite and RequestRedirect, as the Gateway API defines them.
import type { SnapshotFilter } from "../../../core/api/snapshot/schema.ts";

type Rewrite = Extract<SnapshotFilter, { type: "URLRewrite" }>;
type Redirect = Extract<SnapshotFilter, { type: "RequestRedirect" }>;

/**
 * The path sent upstream. ReplacePrefixMatch swaps the matched prefix (whole segments)
 * for the replacement: prefix /api, replacement /v2, path /api/users → /v2/users;
 * replacement "/" gives /users.
 */
export function rewritePath(
  path: string,
  rewrite: Rewrite["path"],
  matchedPrefix: string | undefined,
): string {
  if (!rewrite) return path;
  if (rewrite.type === "ReplaceFullPath") return rewrite.value;
  const rest = path.slice((matchedPrefix ?? "").length);
  const base = rewrite.value.endsWith("/") ? rewrite.value.slice(0, -1) : rewrite.value;
  const joined = `${base}${rest.startsWith("/") || rest === "" ? rest : `/${rest}`}`;
  return joined === "" ? "/" : joined;
}

/** The Location of a redirect; parts not given keep the request's values. */
export function redirectLocation(
  redirect: Redirect,
  request: { proto: "http" | "https"; host: string; path: string; query: string },
): string {
  const scheme = redirect.scheme ?? request.proto;
  const hostname = redirect.hostname ?? request.host.replace(/:\d+$/, "");
  const defaultPort = scheme === "https" ? 443 : 80;
  const requestPort = /:(\d+)$/.exec(request.host)?.[1];
  // Gateway API: with a new scheme and no port, the scheme's default port is used.
  const port =
    redirect.port ?? (redirect.scheme ? defaultPort : requestPort ? Number(requestPort) : defaultPort);
  const path = redirect.path ?? request.path;
  return `${scheme}://${hostname}${port === defaultPort ? "" : `:${port}`}${path}${request.query}`;
}
