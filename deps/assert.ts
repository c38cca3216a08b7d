// The one place test assertions come from (stands in for @std/assert).
export { deepEqual, equal, match, notEqual, ok, rejects, throws } from "node:assert/strict";
