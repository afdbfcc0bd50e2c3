// X-Request-Id: propagated when the client (or a proxy in front) sent a sane one,
// generated otherwise, and returned to the client, so one id follows a request everywhere.
import { randomUUID } from "node:crypto";

const SANE = /^[A-Za-z0-9._:/+=@-]{1,128}$/;

export function requestId(incoming: string | string[] | undefined): string {
  return typeof incoming === "string" && SANE.test(incoming) ? incoming : randomUUID();
}
