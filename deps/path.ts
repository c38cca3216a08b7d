// The one place path helpers come from (stands in for @std/path, which JSR
// would provide; swapping to it touches this file only).
export { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
