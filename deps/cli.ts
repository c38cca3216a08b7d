// The one place argv parsing comes from (stands in for @std/cli's parseArgs).
export { parseArgs } from "node:util";
