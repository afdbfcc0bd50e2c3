// Every validation case of the unit tests (test-support/validation-cases.ts), judged
// by the real API server: what our validator accepts, the server accepts; what it refuses
// for a CEL rule, the server refuses with the same rule's message.
import { beforeAll, describe, expect, inject, it } from "vitest";
import { kindDefinition } from "../core/api/kinds.ts";
import {
  celInvalid,
  celValid,
  type Obj,
  schemaInvalid,
  uniquenessInvalid,
  uniquenessValid,
} from "../test-support/validation-cases.ts";
import { dryRunCreate, installCrds } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";

let kube: KubeClient;

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube);
});

function serverVerdict(object: Obj) {
  const def = kindDefinition(String(object.kind));
  if (!def) throw new Error(`no kind ${String(object.kind)}`);
  return dryRunCreate(kube, def.plural, structuredClone(object) as { metadata: { namespace?: string } });
}

describe("the API server agrees with our validator", () => {
  it.each([...celValid, ...uniquenessValid])("accepts: $name", async ({ object }) => {
    const res = await serverVerdict(object);
    expect({ status: res.status, message: res.body.message }).toEqual({ status: 201, message: undefined });
  });

  it.each(celInvalid)("refuses with the CEL rule's message: $name", async ({ object, issues }) => {
    const res = await serverVerdict(object);
    expect(res.status).toBe(422);
    for (const [, message] of issues) expect(String(res.body.message)).toContain(message);
  });

  it.each([...schemaInvalid, ...uniquenessInvalid])("refuses: $name", async ({ object }) => {
    const res = await serverVerdict(object);
    expect([400, 422]).toContain(res.status);
  });
});
