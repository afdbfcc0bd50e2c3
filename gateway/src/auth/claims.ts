// Reading claims: paths with dots for nesting (realm_access.roles), roles and scopes in
// the shapes identity providers actually send them.

export type Claims = Readonly<Record<string, unknown>>;

/**
 * The claim at `path`. A claim whose own name contains dots (common for namespaced claims
 * such as "https://example.com/roles") is found first; otherwise dots walk into objects.
 */
export function claimAt(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let node: unknown = claims;
  for (const part of path.split(".")) {
    if (typeof node !== "object" || node === null || Array.isArray(node) || !Object.hasOwn(node, part))
      return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Strings of a claim that is either a list of strings or one space-separated string. */
export function stringsOf(value: unknown): string[] {
  if (typeof value === "string") return value.split(" ").filter((s) => s !== "");
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string" && v !== "");
  return [];
}

/** Roles from the configured claim: a list of strings, or a single role as a string. */
export function rolesOf(claims: Claims, rolesClaim: string): string[] {
  const value = claimAt(claims, rolesClaim);
  // A lone string is one role; roles are not space-separated like scopes.
  if (typeof value === "string") return value === "" ? [] : [value];
  return stringsOf(value);
}

/**
 * Scopes from `scope` (RFC 8693/9068: space-separated string) and `scp` (Okta sends a
 * list, Microsoft a space-separated string); both are read and merged.
 */
export function scopesOf(claims: Claims): string[] {
  return [...new Set([...stringsOf(claims.scope), ...stringsOf(claims.scp)])];
}

/** A claim as a header value: strings as they are, numbers and booleans printed, else nothing. */
export function claimHeaderValue(value: unknown): string | undefined {
  let text: string | undefined;
  if (typeof value === "string") text = value;
  else if (typeof value === "number" || typeof value === "boolean") text = String(value);
  else if (Array.isArray(value) && value.every((v) => typeof v === "string")) text = value.join(",");
  // A value that cannot be a header (CR, LF, NUL, other controls, beyond Latin-1) is left
  // out rather than letting the IdP's data split or break the upstream request.
  if (text === undefined || !isHeaderSafe(text)) return undefined;
  return text;
}

function isHeaderSafe(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}
