import { Pool as Exported } from "undici";
import { describe, expect, it } from "vitest";
import { Pool } from "./backend-pool.ts";

describe("the Pool the gateway dispatches through", () => {
  // Required from undici's own file (backend-pool.ts): an undici upgrade that moves it must
  // fail here, not leave the gateway on a different class than the one undici documents.
  it("is the class undici exports", () => {
    expect(Pool).toBe(Exported);
  });
});
