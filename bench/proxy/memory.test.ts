import { describe, expect, it } from "vitest";
import { parseProcStatus } from "./memory.ts";

describe("parseProcStatus", () => {
  it("reads VmRSS, VmHWM, RssAnon and RssFile in MB", () => {
    const status = [
      "Name:\tnode",
      "VmPeak:\t 1300000 kB",
      "VmHWM:\t  602112 kB",
      "VmRSS:\t  563200 kB",
      "RssAnon:\t  503808 kB",
      "RssFile:\t   59392 kB",
      "RssShmem:\t       0 kB",
    ].join("\n");
    expect(parseProcStatus(status)).toEqual({ rss: 550, hwm: 588, anon: 492, file: 58 });
  });

  it("names the line it did not find", () => {
    expect(() => parseProcStatus("Name:\tnode\nVmRSS:\t1 kB\n")).toThrow(/no VmHWM line/);
  });
});
