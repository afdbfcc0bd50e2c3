// Stage 1, route: the request id, the normalised target, one valid Host, the route that
// matches on the current snapshot (host hash, then wildcard hosts, then routes without
// hostnames; exact path, regular expressions, longest prefix; method, headers, query), and
// who the client is. A request this stage cannot take further is answered here.
import type { IncomingMessage, ServerResponse } from "node:http";
import { normalizeRequestTarget } from "../../../core/api/normalize-path.ts";
import { clientAddress, peerAddress } from "../filters/forwarded.ts";
import { underscoredHeader } from "../filters/headers.ts";
import { requestId } from "../filters/request-id.ts";
import type { RequestRecord } from "../observability/request-record.ts";
import { Problem, type ProblemKind, sendProblem } from "../problem.ts";
import type { GatewayRuntime } from "../runtime/gateway-runtime.ts";
import { type RouteHit, routeHost } from "../runtime/router.ts";
import type { RuleRuntime } from "../runtime/rule-runtime.ts";

const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=]+)(?::[0-9]{1,5})?$/;

/** What routing needs, fixed when the data plane is created. */
export interface RouteSettings {
  /** The runtime of the snapshot being served; undefined until the first one loads. */
  current: () => GatewayRuntime | undefined;
  trustedHops: number;
  /** --headers-with-underscores: "reject" refuses such a request here. */
  underscores: "drop" | "reject" | "allow";
}

/** A routed request: what admission and forwarding read. Nothing later writes to it. */
export interface Routed {
  hit: RouteHit<RuleRuntime>;
  path: string;
  query: string;
  /** The request's Host header (exactly one, validated). */
  host: string;
  requestId: string;
  /** The socket peer (for X-Forwarded-For and Forwarded). */
  peer: string;
  /** The client address through the trusted hops (for limits, policies, hashing). */
  client: string;
}

/** How many Host lines the request had (Node keeps only the first in req.headers). */
function hostCount(raw: string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === "host") n++;
  }
  return n;
}

/** Answers a request routing refused (when there is a response to answer on). */
function refuse(
  res: ServerResponse | undefined,
  problem: ProblemKind,
  detail: string,
  id: string,
): undefined {
  if (res) sendProblem(res, problem, detail, { "x-request-id": id });
  return undefined;
}

/** Routes a request; answers it on `res` (when given) and returns undefined when it cannot be routed. */
export function route(
  req: IncomingMessage,
  res: ServerResponse | undefined,
  record: RequestRecord | undefined,
  settings: RouteSettings,
): Routed | undefined {
  const runtime = settings.current();
  const id = requestId(req.headers["x-request-id"]);
  if (record) record.requestId = id;
  if (!runtime) return refuse(res, Problem.NotReady, "the gateway has not loaded a snapshot yet", id);
  const target = normalizeRequestTarget(req.url ?? "");
  if (typeof target === "string")
    return refuse(res, Problem.BadRequest, `request path refused: ${target}`, id);
  if (record) record.path = target.path;
  const hostHeader = req.headers.host;
  // RFC 9112 §3.2: exactly one Host, a valid uri-host[:port]. Two Host lines could be
  // read differently by a proxy in front; a quote or '/' would leak into headers.
  if (hostCount(req.rawHeaders) !== 1 || !HOST_VALUE.test(hostHeader ?? "")) {
    return refuse(res, Problem.BadRequest, "exactly one valid Host header is required", id);
  }
  const host = routeHost(hostHeader);
  const method = req.method ?? "GET";
  const hit = runtime.router.match({
    host,
    path: target.path,
    method,
    headers: req.headers,
    query: target.query,
  });
  if (!hit) return refuse(res, Problem.RouteNotFound, `${method} ${target.path} on host "${host}"`, id);
  // Fail closed: a policy meant to protect this rule is invalid and has no good version
  // to keep. The route is never served with less protection than its owner asked for.
  if (hit.rule.refused) {
    if (record) record.route = hit.rule.route;
    return refuse(
      res,
      Problem.PolicyInvalid,
      "the route's configuration is invalid; its owner can read why in the policy's status",
      id,
    );
  }
  const peer = peerAddress(req.socket.remoteAddress);
  const client = clientAddress(peer, req.headers["x-forwarded-for"], settings.trustedHops);
  if (record) {
    record.route = hit.rule.route;
    record.client = client;
  }
  if (settings.underscores === "reject") {
    const name = underscoredHeader(req.headers);
    if (name !== undefined)
      return refuse(res, Problem.BadRequest, `header names with '_' are refused (${name}); use '-'`, id);
  }
  return {
    hit,
    path: target.path,
    query: target.query,
    host: hostHeader ?? host,
    requestId: id,
    peer,
    client,
  };
}
