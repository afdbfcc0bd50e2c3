// Key names in the store. Everything of one (policy, rule, key value) shares one Redis
// Cluster hash tag, so a rule's state and block keys sit in one slot and one script call can
// touch both. Key values are hashed: a client-chosen header can be megabytes long and an API
// key id or consumer must never appear in Redis in clear.
import { createHash } from "node:crypto";
import { BoundedCache } from "../bounded-cache.ts";
import { ALGORITHM_CODE, isAlgorithm } from "./algorithm.ts";
import type { Algorithm, LimitCheck } from "./types.ts";

const PREFIX = "sluice:rl:";
/** Tag part for requests that lack the key's source; hashes are base64url, so it cannot collide. */
const MISSING = "-missing";

/** 128 bits of SHA-256, base64url: short, fixed length, collisions out of reach. */
export function hashKeyValue(value: string): string {
  return createHash("sha256").update(value).digest("base64url").slice(0, 22);
}

export interface RuleKeys {
  /** The algorithm's state (a Redis hash). */
  state: string;
  /** Present while a blockDuration penalty runs (expires with PX). */
  block: string;
}

/**
 * Braces would end the hash tag early and change the slot; policy ids are Kubernetes
 * names and rule names DNS labels, so this only guards against a caller's mistake.
 */
function tagPart(s: string): string {
  return s.replace(/[{}]/g, "_");
}

const keysCache = new BoundedCache<RuleKeys>(10_000);

/** Keys for one check; the same (policy, rule, algorithm, value) comes back with every request. */
export function ruleKeys(check: Pick<LimitCheck, "policyId" | "rule" | "key">): RuleKeys {
  const id = `${check.policyId}\u0000${check.rule.name}\u0000${check.rule.algorithm}\u0000${check.key ?? "\u0001"}`;
  return keysCache.get(id, () => buildRuleKeys(check));
}

function buildRuleKeys(check: Pick<LimitCheck, "policyId" | "rule" | "key">): RuleKeys {
  const tag = `{${tagPart(check.policyId)}:${tagPart(check.rule.name)}:${check.key === undefined ? MISSING : hashKeyValue(check.key)}}`;
  return {
    state: `${PREFIX}${tag}:${ALGORITHM_CODE[algorithmOf(check.rule.algorithm)]}`,
    block: `${PREFIX}${tag}:block`,
  };
}

/** Every state key a (policy, rule, key) may have had, whatever its algorithm was: for reset. */
export function allStateKeys(check: Pick<LimitCheck, "policyId" | "rule" | "key">): string[] {
  const { state } = ruleKeys(check);
  const stem = state.slice(0, state.lastIndexOf(":") + 1);
  return Object.values(ALGORITHM_CODE).map((code) => stem + code);
}

/** The snapshot types the algorithm as a string; compile only emits the four known names. */
export function algorithmOf(name: string): Algorithm {
  if (!isAlgorithm(name)) throw new TypeError(`unknown rate-limit algorithm ${JSON.stringify(name)}`);
  return name;
}
