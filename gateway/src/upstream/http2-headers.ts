// HTTP/2 has no connection-specific header fields (RFC 9113 §8.2.2): a peer must treat a
// request carrying one as malformed, and Node's http2 refuses to send it, so the request
// would fail as a 502. The data plane already drops the client's hop-by-hop headers, but a
// route's RequestHeaderModifier can set them again; a request to an HTTP/2 pool is checked
// once more just before it leaves. TE survives only as "trailers", the one value allowed.
const CHECKED = ["connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade", "te"];

type Headers = Record<string, string | string[]>;

function forbidden(headers: Headers, name: string): boolean {
  if (name !== "te") return true;
  const te = headers.te;
  return typeof te !== "string" || te.trim().toLowerCase() !== "trailers";
}

/** The headers without what HTTP/2 forbids; the same object when nothing is forbidden. */
export function http2Headers(headers: Headers): Headers {
  let out = headers;
  for (const name of CHECKED) {
    if (!(name in headers) || !forbidden(headers, name)) continue;
    if (out === headers) out = { ...headers };
    delete out[name];
  }
  return out;
}
