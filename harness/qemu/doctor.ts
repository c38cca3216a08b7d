/**
 * What QEMUs this machine has for lockstep: each binary found, its version
 * and plugin API, and whether the plugin builds for it.
 */
import { PRESETS } from "../core/arch_presets.ts";
import { probeQemu, whichBinary } from "./binary.ts";
import { buildPlugin } from "./plugin_build.ts";
import { SetupError } from "../core/errors.ts";
import { join } from "../../deps/path.ts";

/** One QEMU binary as doctor found it. */
export interface DoctorRow {
  readonly path: string;
  readonly version: string | null;
  readonly pluginApi: number | null;
  /** The built plugin, or null when it does not build. */
  readonly plugin: string | null;
  /** Which header it was built against: "own", "qemu-tree" or "given". */
  readonly header: string | null;
  /** What went wrong, or null. */
  readonly problem: string | null;
}

/** Every QEMU binary named by a preset, on PATH or in `dirs`. */
export function findQemus(dirs: readonly string[] = []): string[] {
  const names = [...new Set(Object.values(PRESETS).flatMap((p) => [p.system, p.user]))];
  const found: string[] = [];
  for (const name of names) {
    const onPath = whichBinary(name, Deno.env.toObject());
    if (onPath) found.push(onPath);
    for (const dir of dirs) {
      const path = whichBinary(join(dir, name), {});
      if (path) found.push(path);
    }
  }
  return found;
}

/** Checks each binary: version, API, plugin build. */
export async function checkQemus(
  paths: readonly string[],
  cacheDir?: string,
): Promise<DoctorRow[]> {
  const rows: DoctorRow[] = [];
  for (const path of paths) {
    try {
      const q = await probeQemu(path);
      try {
        const built = await buildPlugin({
          source: "lockstep",
          api: q.pluginApi,
          qemuPath: q.path,
          cacheDir,
        });
        rows.push({
          path,
          version: q.version,
          pluginApi: q.pluginApi,
          plugin: built.path,
          header: built.header.origin,
          problem: null,
        });
      } catch (e) {
        if (!(e instanceof SetupError)) throw e;
        rows.push({
          path,
          version: q.version,
          pluginApi: q.pluginApi,
          plugin: null,
          header: null,
          problem: e.message,
        });
      }
    } catch (e) {
      if (!(e instanceof SetupError)) throw e;
      rows.push({
        path,
        version: null,
        pluginApi: null,
        plugin: null,
        header: null,
        problem: e.message,
      });
    }
  }
  return rows;
}
