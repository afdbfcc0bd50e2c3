// Admin endpoints for one rate-limit key: GET to read its state, DELETE to reset it
// (counters and block). ?key= is the value the rule counts by: a client address, consumer,
// tenant, header or claim value. Both are guarded by the admin token (or loopback): a
// key's state says who is busy.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { GUARDED } from "../../core/admin/admin-server.ts";
import type { SnapshotRateLimitPolicy } from "../../core/api/snapshot/schema.ts";
import { clientIpKey, GLOBAL_KEY } from "./ratelimit/key-value.ts";
import type { LimitCheck, Limiter } from "./ratelimit/types.ts";

export function rateLimitRoutes(
  admin: FastifyInstance,
  /** The RateLimitPolicies of the snapshot being served, by id. */
  rateLimits: () => ReadonlyMap<string, SnapshotRateLimitPolicy> | undefined,
  limiter: Limiter,
  log: Logger,
) {
  const limitCheck = (request: FastifyRequest): LimitCheck | string => {
    const { namespace, policy, rule } = request.params as { namespace: string; policy: string; rule: string };
    const id = `${namespace}/${policy}`;
    const found = rateLimits()
      ?.get(id)
      ?.rules.find((r) => r.name === rule);
    if (!found) return `no rule "${rule}" in RateLimitPolicy ${id} of the snapshot being served`;
    const raw = (request.query as { key?: string }).key;
    const key =
      found.key.type === "Global"
        ? GLOBAL_KEY
        : raw === undefined
          ? undefined
          : found.key.type === "ClientIP"
            ? clientIpKey(raw)
            : raw;
    return { policyId: id, rule: found, key };
  };
  admin.get("/ratelimit/:namespace/:policy/:rule", GUARDED, async (request, reply) => {
    const check = limitCheck(request);
    if (typeof check === "string") return reply.code(404).send({ error: check });
    try {
      return await limiter.inspect(check);
    } catch (err) {
      return reply.code(503).send({ error: (err as Error).message });
    }
  });
  admin.delete("/ratelimit/:namespace/:policy/:rule", async (request, reply) => {
    const check = limitCheck(request);
    if (typeof check === "string") return reply.code(404).send({ error: check });
    try {
      await limiter.reset(check);
      log.info({ policy: check.policyId, rule: check.rule.name }, "rate-limit key reset by admin");
      return { reset: true };
    } catch (err) {
      return reply.code(503).send({ error: (err as Error).message });
    }
  });
}
