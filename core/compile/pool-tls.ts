// A BackendPool's upstream TLS → the snapshot's: the server name, and the CA certificates
// read from their Secret and checked here, so a key that holds no certificate is named in
// the pool's status instead of failing every connection in the gateway.
import { X509Certificate } from "node:crypto";
import type { BackendPoolSpec } from "../api/backend-pool.ts";
import type { SnapshotPool } from "../api/snapshot/schema.ts";
import type { ObjectIndex } from "./object-index.ts";
import { Reason } from "./reasons.ts";
import { secretValue } from "./secrets.ts";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Why the text is not a PEM bundle of certificates, or undefined when it is one. */
export function pemProblem(text: string): string | undefined {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return "holds no PEM certificate";
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      return `certificate ${i + 1} of ${blocks.length} does not parse`;
    }
  }
  return undefined;
}

/**
 * The pool's snapshot `tls` (nothing when the pool is cleartext), or why its CA cannot be
 * used: then the pool gets no endpoints, so its traffic fails closed (503), never cleartext.
 */
export function poolTls(
  index: ObjectIndex,
  namespace: string,
  tls: BackendPoolSpec["tls"],
): Pick<SnapshotPool, "tls"> | { problem: Reason; message: string } {
  if (!tls) return {};
  const ref = tls.caCertificateRef;
  if (!ref) return { tls: { serverName: tls.serverName } };
  const value = secretValue(index, namespace, ref);
  if ("missing" in value)
    return { problem: Reason.SecretNotFound, message: `spec.tls.caCertificateRef: ${value.missing}` };
  const ca = value.bytes.toString("utf8");
  const problem = pemProblem(ca);
  if (problem)
    return {
      problem: Reason.InvalidSecret,
      message: `spec.tls.caCertificateRef: the key "${ref.key}" of Secret "${ref.name}" ${problem}`,
    };
  return { tls: { serverName: tls.serverName, ca } };
}
