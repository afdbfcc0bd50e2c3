import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["operator/**/*.test.ts", "gateway/**/*.test.ts"],
    testTimeout: 20_000,
  },
});
