// Reads a key of a Secret: `data` (base64, as the API server returns it) or `stringData`
// (as written in standalone YAML files). Messages name the Secret and key, never the value.
import type { SecretKeySelector } from "../api/common.ts";
import type { ObjectIndex } from "./object-index.ts";

interface SecretBody {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export function secretValue(
  index: ObjectIndex,
  namespace: string,
  ref: SecretKeySelector,
): { bytes: Buffer } | { missing: string } {
  const secret = index.get("Secret", namespace, ref.name) as unknown as SecretBody | undefined;
  if (!secret) return { missing: `Secret "${ref.name}" not found in namespace "${namespace}"` };
  const text = typeof secret.stringData === "object" ? secret.stringData?.[ref.key] : undefined;
  if (typeof text === "string") return { bytes: Buffer.from(text, "utf8") };
  const b64 = typeof secret.data === "object" ? secret.data?.[ref.key] : undefined;
  if (typeof b64 === "string") return { bytes: Buffer.from(b64, "base64") };
  return { missing: `Secret "${ref.name}" has no key "${ref.key}"` };
}
