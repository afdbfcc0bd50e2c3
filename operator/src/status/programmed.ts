// `Programmed` tells the truth end to end: an object is Programmed only when every live
// gateway replica serves a snapshot that contains the object's current generation. The
// replicas report in per-replica Leases (core/api/replica-report.ts); the
// operator remembers which object generations each recent snapshot version contains.
import {
  REJECTED_ANNOTATION,
  REJECTED_REASON_ANNOTATION,
  SERVING_ANNOTATION,
} from "../../../core/api/replica-report.ts";
import type { ConditionDraft, ObjectStatus } from "../../../core/compile/status-book.ts";

export interface ReportLease {
  metadata: { name?: string; annotations?: Record<string, string> };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string | Date };
}

interface Replica {
  identity: string;
  serving: string | undefined;
  rejected: { version: string | undefined; reason: string } | undefined;
  expiresAt: number;
}

const HISTORY = 64;

/** When a replica's report lapses: its last renewal plus the lease duration (epoch ms). */
function reportExpiresAt(l: ReportLease): number {
  const renewed = l.spec?.renewTime ? new Date(l.spec.renewTime).getTime() : 0;
  return renewed + (l.spec?.leaseDurationSeconds ?? 0) * 1000;
}
const key = (s: { kind: string; namespace: string; name: string }) => `${s.kind}/${s.namespace}/${s.name}`;

export class ProgrammedTracker {
  /** Snapshot version → object key → the generation that version contains. */
  readonly #versions = new Map<string, Map<string, number>>();

  /** Records what a compiled snapshot contains: every accepted object at its generation. */
  record(version: string, statuses: ObjectStatus[]) {
    if (this.#versions.has(version)) return;
    const contained = new Map<string, number>();
    for (const s of statuses) {
      const accepted = s.conditions.find((c) => c.type === "Accepted");
      if (accepted?.status === "True") contained.set(key(s), accepted.observedGeneration ?? 0);
    }
    this.#versions.set(version, contained);
    // Oldest first in a Map: drop beyond the history a replica could still be serving.
    while (this.#versions.size > HISTORY) this.#versions.delete(this.#versions.keys().next().value as string);
  }

  /** The report leases of live replicas (not expired). */
  static live(leases: readonly ReportLease[], now: number): ReportLease[] {
    return leases.filter((l) => reportExpiresAt(l) > now);
  }

  /** Live replicas (unexpired report leases), and when the next one expires. */
  static replicas(
    leases: readonly ReportLease[],
    now: number,
  ): { live: Replica[]; nextExpiry: number | undefined } {
    const live: Replica[] = [];
    let nextExpiry: number | undefined;
    for (const l of leases) {
      const expiresAt = reportExpiresAt(l);
      if (expiresAt <= now) continue;
      nextExpiry = Math.min(nextExpiry ?? expiresAt, expiresAt);
      const a = l.metadata.annotations ?? {};
      const reason = a[REJECTED_REASON_ANNOTATION];
      live.push({
        identity: l.spec?.holderIdentity ?? l.metadata.name ?? "?",
        serving: a[SERVING_ANNOTATION],
        rejected: reason ? { version: a[REJECTED_ANNOTATION], reason } : undefined,
        expiresAt,
      });
    }
    live.sort((x, y) => (x.identity < y.identity ? -1 : 1));
    return { live, nextExpiry };
  }

  /**
   * The Programmed condition of one object, given the live replicas and the latest version;
   * `unpublished` when that version could not be published (why): an object the replicas do
   * not serve at its current generation then says so, instead of waiting in silence.
   */
  condition(
    s: ObjectStatus,
    replicas: Replica[],
    latest: string | undefined,
    unpublished?: string,
  ): ConditionDraft {
    const accepted = s.conditions.find((c) => c.type === "Accepted");
    const generation = accepted?.observedGeneration;
    const draft = (ok: boolean, reason: string, message: string): ConditionDraft => ({
      type: "Programmed",
      status: ok ? "True" : "False",
      reason,
      message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
    if (accepted?.status !== "True")
      return draft(false, "Invalid", "Not accepted, so no gateway serves it; see Accepted.");
    const notPublished = `Snapshot ${latest} with this generation could not be published: ${unpublished}`;
    if (replicas.length === 0) {
      if (unpublished !== undefined) return draft(false, "PublishFailed", `${notPublished}.`);
      return draft(false, "Pending", "No gateway replica reports what it serves.");
    }
    const waiting: string[] = [];
    for (const r of replicas) {
      const has = r.serving ? this.#versions.get(r.serving)?.get(key(s)) : undefined;
      if (has !== undefined && has >= (generation ?? 0)) continue;
      if (r.rejected && (r.rejected.version === latest || r.rejected.version === undefined)) {
        waiting.push(
          `replica ${r.identity} rejected snapshot ${r.rejected.version ?? "(unreadable)"}: ${r.rejected.reason}`,
        );
      } else {
        waiting.push(`replica ${r.identity} serves ${r.serving ?? "nothing yet"}`);
      }
    }
    const n = replicas.length;
    if (waiting.length === 0) return draft(true, "Programmed", `Served by ${n}/${n} gateway replicas.`);
    if (unpublished !== undefined) {
      return draft(
        false,
        "PublishFailed",
        `${notPublished}; served by ${n - waiting.length}/${n} gateway replicas; ${waiting.join("; ")}.`,
      );
    }
    const rejected = waiting.some((w) => w.includes(" rejected snapshot "));
    return draft(
      false,
      rejected ? "Rejected" : "Pending",
      `Served by ${n - waiting.length}/${n} gateway replicas; ${waiting.join("; ")}.`,
    );
  }
}
