// The upstream request's headers, built once admission has passed: the client's end-to-end
// headers (hop-by-hop, the rule's dropped names and, with --headers-with-underscores=drop,
// names with '_' removed), Host, X-Forwarded-For/Proto/Host and Forwarded through trusted
// hops only, X-Request-Id, the route's RequestHeaderModifier, then what admission
// established (claimToHeaders), which no modifier or client can override.
import type { IncomingMessage } from "node:http";
import { setForwardedHeaders } from "../filters/forwarded.ts";
import { applyHeaderOps, endToEnd } from "../filters/headers.ts";
import type { Admitted } from "./admission.ts";
import type { Routed } from "./route.ts";

/** What building the upstream headers needs, fixed when the data plane is created. */
export interface UpstreamHeaderSettings {
  proto: "http" | "https";
  /** --trusted-hops > 0: incoming X-Forwarded-* and Forwarded are extended, not replaced. */
  trustForwarded: boolean;
  /** --headers-with-underscores=drop. */
  dropUnderscored: boolean;
}

export function upstreamHeaders(
  req: IncomingMessage,
  routed: Routed,
  admission: Admitted | undefined,
  settings: UpstreamHeaderSettings,
): Record<string, string | string[]> {
  const rule = routed.hit.rule;
  const headers = endToEnd(req.headers, rule.dropHeaders, settings.dropUnderscored);
  headers.host = rule.rewrite?.hostname ?? routed.host;
  setForwardedHeaders(
    headers,
    req.headers,
    routed.peer,
    settings.proto,
    routed.host,
    settings.trustForwarded,
  );
  headers["x-request-id"] = routed.requestId;
  if (rule.requestHeaders) applyHeaderOps(headers, rule.requestHeaders);
  if (admission?.upstreamHeaders) Object.assign(headers, admission.upstreamHeaders);
  return headers;
}
