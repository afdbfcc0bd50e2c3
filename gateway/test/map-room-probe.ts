// Run by plain-object-maps.test.ts as `node --allow-natives-syntax map-room-probe.ts`: compiles
// every JSON schema a gateway compiles at start — its own config's and the snapshot's on
// import, the kinds' (standalone mode) on first use — then prints how many new first
// properties V8's map for `{}` can still take as transitions, counted up to PROBE_LIMIT.
//
// V8 keeps at most 1,536 transitions from one map. While the map of `{}` has that many, an
// object made from `{}` (or from a literal that starts with a computed key, such as
// process.nextTick's) whose first property is not one of them gets a map of its own, every
// time. A store site that sees more than four maps goes megamorphic and stays so: in
// CPU-profiled gateways, Node's nextTick took V8's slow path on every call after it. A probe
// key that still shares a map between two objects is a transition V8 kept.
import { validatorFor } from "../../core/api/validate.ts";
import "../../core/api/snapshot/validate.ts";
import "../src/config.ts";

const PROBE_LIMIT = 1_600;

// %HaveSameMap is V8 natives syntax: only a function compiled at run time can hold it here.
const haveSameMap = new Function("a", "b", "return %HaveSameMap(a, b)") as (a: object, b: object) => boolean;

function transitionRoom(): number {
  // Held until counted: a transition whose maps were collected would free its place.
  const held: object[] = [];
  for (let i = 0; i < PROBE_LIMIT; i++) {
    const key = `mapRoomProbe${i}`;
    const a: Record<string, number> = {};
    a[key] = 1;
    const b: Record<string, number> = {};
    b[key] = 2;
    held.push(a, b);
    if (!haveSameMap(a, b)) return i;
  }
  return PROBE_LIMIT;
}

validatorFor("GatewayRoute");
console.log(transitionRoom());
