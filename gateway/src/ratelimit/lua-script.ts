// The Redis script, read once at startup. It lives in check.lua (not a template string) so it
// can be syntax-checked with luac and read beside the TypeScript it mirrors.
import { readFileSync } from "node:fs";

export const CHECK_SCRIPT = readFileSync(new URL("./check.lua", import.meta.url), "utf8");

/** Values per rule in ARGV, and integers per rule in the reply: keep in step with check.lua. */
export const ARGS_PER_RULE = 6;
export const REPLY_PER_RULE = 5;
