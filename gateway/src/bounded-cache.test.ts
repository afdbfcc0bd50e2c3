import { describe, expect, it } from "vitest";
import { BoundedCache } from "./bounded-cache.ts";

describe("BoundedCache", () => {
  it("makes a value once, undefined included, and forgets the oldest past its bound", () => {
    const cache = new BoundedCache<string | undefined>(2);
    let made = 0;
    const make = (v: string | undefined) => () => {
      made++;
      return v;
    };
    expect(cache.get("a", make("A"))).toBe("A");
    expect(cache.get("a", make("other"))).toBe("A");
    expect(cache.get("none", make(undefined))).toBeUndefined();
    expect(cache.get("none", make("late"))).toBeUndefined();
    expect(made).toBe(2);
    cache.set("b", "B"); // a third entry: "a", the oldest, goes
    expect(cache.size).toBe(2);
    expect(cache.peek("a")).toBeUndefined();
    expect(cache.peek("b")).toBe("B");
  });

  it("peek never creates; delete forgets", () => {
    const cache = new BoundedCache<number>(10);
    expect(cache.peek("x")).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set("x", 1);
    cache.delete("x");
    expect(cache.peek("x")).toBeUndefined();
  });
});
