/**
 * The QEMUs: finding and probing a binary (version, plugin API), building
 * and caching the plugin for it, firmware, and the doctor that checks a
 * machine's QEMUs.
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
export { buildPlugin, type BuiltPlugin } from "./plugin_build.ts";
export { openCacheDir } from "./plugin_cache.ts";
export { pluginApiFor, probeQemu, type QemuBinary } from "./binary.ts";
export { checkQemus, type DoctorRow, findQemus } from "./doctor.ts";
