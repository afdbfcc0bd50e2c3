// The authentication and authorization objects of one snapshot, built when it loads
// (every CEL expression, path pattern, CIDR and key parsed once) and immutable after.
// Remote JWKS caches outlive the snapshot: the next runtime takes over those with the
// same URI, so a reload neither refetches every IdP's keys nor forgets them while an
// IdP is down.
import { GatewayError, SnapshotRejectedError } from "../../../core/api/errors.ts";
import type { Snapshot } from "../../../core/api/snapshot/schema.ts";
import { ApiKeyStore } from "./api-key-store.ts";
import { ApiKeyUsage } from "./api-key-usage.ts";
import { type AuthFailure, AuthPolicyRuntime } from "./auth-policy.ts";
import { identityHeaderNames } from "./identity.ts";
import { JwtProvider } from "./jwt-provider.ts";
import { RemoteJwks, type RemoteJwksOptions } from "./remote-jwks.ts";

export interface AuthRuntimeOptions {
  /** The installation's API key hash key (SLUICE_API_KEY_HASH_KEY). */
  hashKey: string;
  /** Told of every presented-and-refused credential (brute-force counting). */
  onFailure?: (failure: AuthFailure) => void;
  /** Usage counters; pass the previous runtime's to keep counting across reloads. */
  usage?: ApiKeyUsage;
  now?: () => number;
  jwks?: Partial<RemoteJwksOptions>;
}

export interface AuthRuntime {
  /** The policy for a rule's `authzPolicy` id. */
  policy(id: string): AuthPolicyRuntime | undefined;
  /** Every header claimToHeaders may set in this snapshot: strip client copies on every request. */
  readonly identityHeaders: ReadonlySet<string>;
  readonly usage: ApiKeyUsage;
  /** Remote key caches by URI (taken over by the next runtime). */
  readonly remoteJwks: ReadonlyMap<string, RemoteJwks>;
}

function sameOptions(
  a: Readonly<RemoteJwksOptions>,
  b: Partial<RemoteJwksOptions>,
  now: () => number,
): boolean {
  return (
    (b.timeoutMs ?? a.timeoutMs) === a.timeoutMs &&
    (b.refreshIntervalMs ?? a.refreshIntervalMs) === a.refreshIntervalMs &&
    (b.cooldownMs ?? a.cooldownMs) === a.cooldownMs &&
    (b.maxBytes ?? a.maxBytes) === a.maxBytes &&
    (b.fetch ?? fetch) === (a.fetch ?? fetch) &&
    (b.now ?? now) === (a.now ?? now)
  );
}

/** Throws a GatewayError (the loader keeps the previous snapshot) when something cannot be built. */
export function buildAuthRuntime(
  snapshot: Pick<Snapshot, "authzPolicies" | "apiKeys">,
  options: AuthRuntimeOptions,
  previous?: AuthRuntime,
): AuthRuntime {
  const now = options.now ?? Date.now;
  const usage = options.usage ?? previous?.usage ?? new ApiKeyUsage();
  const apiKeys = new ApiKeyStore(options.hashKey, snapshot.apiKeys.keys);
  const identityHeaders = identityHeaderNames(snapshot);
  const remoteJwks = new Map<string, RemoteJwks>();
  const policies = new Map<string, AuthPolicyRuntime>();
  const jwksOptions = { ...options.jwks, now };
  for (const policy of snapshot.authzPolicies) {
    try {
      const providers = (policy.authentication?.jwt ?? []).map((config) => {
        let remote: RemoteJwks | undefined;
        if ("jwksUri" in config.keys) {
          const uri = config.keys.jwksUri;
          remote = remoteJwks.get(uri);
          if (!remote) {
            const old = previous?.remoteJwks.get(uri);
            remote =
              old && sameOptions(old.options, jwksOptions, now) ? old : new RemoteJwks(uri, jwksOptions);
            remoteJwks.set(uri, remote);
          }
        }
        return new JwtProvider(config, { now, ...(remote ? { remote } : {}) });
      });
      policies.set(
        policy.id,
        new AuthPolicyRuntime(policy, {
          providers,
          apiKeys,
          usage,
          identityHeaders,
          now,
          ...(options.onFailure ? { onFailure: options.onFailure } : {}),
        }),
      );
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new SnapshotRejectedError(`AuthzPolicy ${policy.id}: ${(err as Error).message}`);
    }
  }
  // Fetch keys now, not on the first request.
  for (const r of remoteJwks.values()) r.warm();
  return { policy: (id) => policies.get(id), identityHeaders, usage, remoteJwks };
}
