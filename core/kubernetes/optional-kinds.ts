// Kinds the operator reads when their CRD is installed and does without when it is not: the
// Gateway API's ReferenceGrant. The store waits for every kind to be listed before it
// compiles (a kind not listed yet would turn "not known" into "not found"), and a list of a
// kind whose CRD is absent answers 404 forever, so one uninstalled optional CRD would stop
// every publish. Through this client such a list answers as an empty collection (nothing is
// granted: cross-namespace references stay refused, which fails closed), and the watch that
// follows stays quiet — no event, so no recompile — while it checks every POLL_MS whether the
// CRD has been installed; then it ends as a watch that is too old ends (410), and the
// informer lists the kind for real. No error is logged for a CRD that is simply not there.
import { setTimeout as sleep } from "node:timers/promises";
import { REFERENCE_GRANT_API_VERSION } from "../api/reference-grant.ts";
import { ApiClient, ApiError } from "./api-client.ts";

/** Collection paths of the optional kinds, as the store watches them. */
export const OPTIONAL_KIND_PATHS: readonly string[] = [
  `/apis/${REFERENCE_GRANT_API_VERSION}/referencegrants`,
];

/** How soon an installed optional CRD is noticed. */
const POLL_MS = 10_000;

const collection = (path: string) => path.split("?")[0] ?? path;
const missing = (err: unknown) => err instanceof ApiError && err.status === 404;

/** An ApiClient on which listing or watching an optional kind without its CRD is not an error. */
export class OptionalKindsClient extends ApiClient {
  readonly #optional: Set<string>;

  constructor(inner: ApiClient, paths: readonly string[] = OPTIONAL_KIND_PATHS) {
    super(inner.access);
    this.#optional = new Set(paths);
  }

  override async send<T = Record<string, unknown>>(...args: Parameters<ApiClient["send"]>): Promise<T> {
    try {
      return await super.send<T>(...args);
    } catch (err) {
      const [method, path] = args;
      if (method !== "GET" || !this.#optional.has(collection(path)) || !missing(err)) throw err;
      return { apiVersion: "v1", kind: "List", metadata: { resourceVersion: "" }, items: [] } as T;
    }
  }

  override async watch(...args: Parameters<ApiClient["watch"]>): Promise<void> {
    try {
      await super.watch(...args);
    } catch (err) {
      const [path, , , signal] = args;
      const kind = collection(path);
      if (!this.#optional.has(kind) || !missing(err)) throw err;
      for (;;) {
        const waited = await sleep(POLL_MS, true, { signal }).catch(() => false);
        if (!waited) return;
        try {
          await super.send("GET", `${kind}?limit=1`);
        } catch (probe) {
          if (missing(probe)) continue;
          throw probe;
        }
        throw new ApiError(410, "GET", path, {
          reason: "Expired",
          message: `${kind} is served now: list it`,
        });
      }
    }
  }
}
