// A chunked request body announces no length, so --max-body-bytes is checked on the way
// through: the stream fails once the body goes over, and the answer is then 413.
import type { IncomingMessage } from "node:http";
import { pipeline, Transform } from "node:stream";

/** Passes the body through, failing the stream once it exceeds `max` bytes. */
export function limitBody(req: IncomingMessage, max: number) {
  let seen = 0;
  const state = { exceeded: false, stream: undefined as unknown as Transform };
  state.stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) {
        state.exceeded = true;
        callback(new Error(`request body over ${max} bytes`));
      } else callback(null, chunk);
    },
  });
  pipeline(req, state.stream, () => {});
  return state;
}
