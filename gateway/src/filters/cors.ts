// CORS: preflight requests are answered by the gateway; actual requests get the
// Access-Control-Allow-* headers on the way back. Origin lists are compiled to a Set.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { SnapshotFilter } from "../../../core/api/snapshot/schema.ts";

type CorsFilter = Extract<SnapshotFilter, { type: "CORS" }>;

export interface CorsRuntime {
  any: boolean;
  origins: Set<string>;
  methods: string;
  allowHeaders: string | undefined;
  exposeHeaders: string | undefined;
  credentials: boolean;
  maxAge: string | undefined;
}

export function compileCors(f: CorsFilter): CorsRuntime {
  return {
    any: f.allowOrigins.includes("*"),
    origins: new Set(f.allowOrigins),
    methods: (f.allowMethods.length > 0 ? f.allowMethods : ["GET", "HEAD", "POST"]).join(", "),
    allowHeaders: f.allowHeaders.length > 0 ? f.allowHeaders.join(", ") : undefined,
    exposeHeaders: f.exposeHeaders.length > 0 ? f.exposeHeaders.join(", ") : undefined,
    credentials: f.allowCredentials,
    maxAge: f.maxAgeSeconds !== undefined ? String(f.maxAgeSeconds) : undefined,
  };
}

function allowedOrigin(cors: CorsRuntime, origin: string | undefined): string | undefined {
  if (!origin) return undefined;
  if (cors.origins.has(origin)) return origin;
  return cors.any ? "*" : undefined;
}

export function isPreflight(method: string, headers: IncomingHttpHeaders): boolean {
  return (
    method === "OPTIONS" &&
    headers.origin !== undefined &&
    headers["access-control-request-method"] !== undefined
  );
}

/** Headers of the gateway's answer to a preflight (204); no Allow-Origin when refused. */
export function preflightHeaders(cors: CorsRuntime, headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
  };
  const origin = allowedOrigin(cors, headers.origin);
  if (!origin) return out;
  out["access-control-allow-origin"] = origin;
  out["access-control-allow-methods"] = cors.methods;
  const requested = headers["access-control-request-headers"];
  const allow = cors.allowHeaders ?? requested;
  if (allow) out["access-control-allow-headers"] = allow;
  if (cors.credentials) out["access-control-allow-credentials"] = "true";
  if (cors.maxAge) out["access-control-max-age"] = cors.maxAge;
  return out;
}

/** Adds the CORS response headers for an actual (non-preflight) request. */
export function addCorsHeaders(cors: CorsRuntime, origin: string | undefined, out: OutgoingHttpHeaders) {
  const allowed = allowedOrigin(cors, origin);
  if (!allowed) return;
  out["access-control-allow-origin"] = allowed;
  if (allowed !== "*") out.vary = out.vary ? `${String(out.vary)}, Origin` : "Origin";
  if (cors.credentials) out["access-control-allow-credentials"] = "true";
  if (cors.exposeHeaders) out["access-control-expose-headers"] = cors.exposeHeaders;
}
