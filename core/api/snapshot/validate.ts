// A gateway trusts nothing it loads: a snapshot must match the schema and its version
// must be the hash of its content, or it is rejected and the last good one keeps serving.
import { createAjv } from "../ajv.ts";
import { Snapshot } from "./schema.ts";
import { snapshotVersion } from "./version.ts";

const validateSchema = createAjv({ allErrors: true, strict: false }).compile<Snapshot>(Snapshot);

export function snapshotProblems(candidate: unknown): string[] {
  if (!validateSchema(candidate)) {
    return (validateSchema.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message ?? e.keyword}`);
  }
  const { version, ...body } = candidate;
  const expected = snapshotVersion(body);
  return version === expected ? [] : [`/version: ${version} does not match the content hash ${expected}`];
}
