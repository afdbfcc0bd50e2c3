// Stage 3, forward, for a request admission let through: a redirect is answered here;
// otherwise the body size is checked, the upstream headers are built, the path rewritten,
// and the request forwarded (weighted backendRef, circuit breaker, balanced healthy
// endpoint, timeouts, safe retries, streaming both ways: upstream/proxy.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { watchBodyIdle } from "../filters/body-idle.ts";
import { limitBody } from "../filters/body-limit.ts";
import { redirectLocation, rewritePath } from "../filters/rewrite.ts";
import type { RequestRecord } from "../observability/request-record.ts";
import { Problem, sendProblem } from "../problem.ts";
import { hashKeyOf } from "../upstream/hash-key.ts";
import { forward } from "../upstream/proxy.ts";
import { proxyUpgrade } from "../upstream/upgrade.ts";
import type { Admitted } from "./admission.ts";
import type { Routed } from "./route.ts";
import { type UpstreamHeaderSettings, upstreamHeaders } from "./upstream-headers.ts";

/** What forwarding needs, fixed when the data plane is created. */
export interface ForwardSettings extends UpstreamHeaderSettings {
  /** --max-body-bytes; 0 for no limit. */
  maxBodyBytes: number;
  /** --body-idle-timeout-ms; 0 for none. */
  bodyIdleMs: number;
}

/** Redirects the request, or forwards it to the rule's backends. `admission` is undefined on a rule with no policy. */
export function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  routed: Routed,
  admission: Admitted | undefined,
  record: RequestRecord | undefined,
  settings: ForwardSettings,
) {
  const { hit, requestId: id } = routed;
  const rule = hit.rule;
  if (rule.redirect) {
    const location = redirectLocation(rule.redirect, {
      proto: settings.proto,
      host: routed.host,
      path: routed.path,
      query: routed.query,
    });
    res.writeHead(rule.redirect.statusCode, { location, "x-request-id": id, "content-length": 0 });
    res.end();
    return;
  }
  const length = req.headers["content-length"];
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (settings.maxBodyBytes > 0 && length !== undefined && Number(length) > settings.maxBodyBytes) {
    sendProblem(res, Problem.PayloadTooLarge, `at most ${settings.maxBodyBytes} bytes`, {
      connection: "close",
    });
    return;
  }
  const headers = upstreamHeaders(req, routed, admission, settings);
  // undici refuses Expect; Node has already answered "100 Continue" to the client.
  delete headers.expect;
  const upstreamPath = rewritePath(routed.path, rule.rewrite?.path, hit.prefix) + routed.query;
  const hasBody = chunked || (length !== undefined && length !== "0");
  // A chunked body has no announced length: count it on the way through.
  const limited =
    hasBody && chunked && settings.maxBodyBytes > 0 ? limitBody(req, settings.maxBodyBytes) : undefined;
  if (hasBody) watchBodyIdle(req, res, settings.bodyIdleMs, id);
  forward({
    req,
    res,
    rule,
    path: upstreamPath,
    headers,
    body: limited?.stream ?? (hasBody ? req : null),
    bodyTooLarge: limited ? () => limited.exceeded : () => false,
    requestId: id,
    client: routed.client,
    record,
    responseHeaders: admission?.responseHeaders,
  });
}

/** Relays an admitted WebSocket handshake (upstream/upgrade.ts joins the sockets after its 101). */
export function forwardUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  routed: Routed,
  admission: Admitted | undefined,
  settings: UpstreamHeaderSettings,
) {
  const rule = routed.hit.rule;
  const upstreamPath = rewritePath(routed.path, rule.rewrite?.path, routed.hit.prefix) + routed.query;
  const headers = upstreamHeaders(req, routed, admission, settings);
  proxyUpgrade(req, socket, head, rule, upstreamPath, headers, (pool) => hashKeyOf(pool, req, routed.client));
}
