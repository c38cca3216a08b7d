/**
 * Where this checkout's set-up puts its newer QEMUs (scripts/setup.sh
 * --tests): links in .cache/ to the builds kept outside the checkout; and
 * the world probe guests it builds (test/guests). The CLI's doctor and
 * runs, the bench and the tests look there; the library does not.
 */

/** Debian trixie's QEMU 10.0 (system emulators, plugin API 4), as scripts/setup.sh --tests installs it. */
export const QEMU_10_0_DIR: string = new URL("../.cache/qemu-10/bin/", import.meta.url).pathname;

/**
 * QEMU 10.2.2 built from Debian's source by scripts/setup.sh --tests (plugin API 5,
 * linux-user that loads plugins: the QEMU a TCG developer builds).
 */
export const QEMU_10_2_DIR: string = new URL("../.cache/qemu-10.2/bin/", import.meta.url).pathname;

/** Both directories, for findQemus(). */
export const SETUP_QEMU_DIRS: readonly string[] = [QEMU_10_0_DIR, QEMU_10_2_DIR];

/**
 * The world probe guest of each arch that has one, as set-up builds it
 * (test/guests/glibc/world_probe.c): run under both QEMUs of a linux-user
 * run across QEMUs (docs/environment.md, "Their worlds"). Only those built.
 */
export function worldProbes(): Record<string, string> {
  const probes: Record<string, string> = {};
  for (const arch of ["x86_64", "aarch64"]) {
    const path = new URL(`../test/guests/build/${arch}-world-probe`, import.meta.url).pathname;
    try {
      if (Deno.statSync(path).isFile) probes[arch] = path;
    } catch {
      // not built: that arch's worlds are not compared
    }
  }
  return probes;
}
