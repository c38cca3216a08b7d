// The one place path helpers come from (stands in for @std/path, which JSR
// would provide; swap here to move to it).
export { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
