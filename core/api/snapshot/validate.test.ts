// A gateway must refuse a snapshot that is malformed or whose content does not match its
// version, whatever produced it.
import { describe, expect, it } from "vitest";
import { compileSnapshot } from "../../compile/compile.ts";
import { snapshotProblems } from "./validate.ts";
import { canonicalJson, snapshotVersion } from "./version.ts";

const objects = [
  {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "BackendPool",
    metadata: { name: "app", namespace: "default" },
    spec: { endpoints: [{ address: "127.0.0.1", port: 8080 }] },
  },
  {
    apiVersion: "sluice.dev/v1alpha1",
    kind: "GatewayRoute",
    metadata: { name: "app", namespace: "default" },
    spec: { rules: [{ backendRefs: [{ name: "app" }] }] },
  },
];
const { snapshot } = compileSnapshot(objects, { apiKeyHashKey: "test" });

describe("snapshotProblems", () => {
  it("accepts what compile produced, also after a JSON round trip", () => {
    expect(snapshotProblems(snapshot)).toEqual([]);
    expect(snapshotProblems(JSON.parse(JSON.stringify(snapshot)))).toEqual([]);
  });

  it("refuses a snapshot whose content was changed after it was versioned", () => {
    const tampered = structuredClone(snapshot);
    const pool = tampered.pools[0];
    if (!pool) throw new Error("no pool");
    pool.endpoints[0] = { address: "10.66.6.6", port: 8080, weight: 1 };
    expect(snapshotProblems(tampered)).toEqual([
      expect.stringMatching(/^\/version: sha256:[0-9a-f]{64} does not match the content hash sha256:/),
    ]);
  });

  it("refuses a malformed snapshot, naming the path", () => {
    const broken = { ...structuredClone(snapshot), pools: [{ id: "x" }] };
    expect(snapshotProblems(broken)).toContainEqual(
      expect.stringMatching(/^\/pools\/0: must have required property/),
    );
    expect(snapshotProblems("not a snapshot")).toEqual(["/: must be object"]);
  });
});

describe("version", () => {
  it("is the same for equal content with keys in another order", () => {
    const { version: _v, ...body } = snapshot;
    const reordered = JSON.parse(canonicalJson(body));
    expect(snapshotVersion(reordered)).toBe(snapshot.version);
    expect(Object.keys(reordered)).not.toEqual(Object.keys(body));
  });
});
