/**
 * Where this checkout's set-up puts its newer QEMUs (scripts/setup.sh
 * --tests): links in .cache/ to the builds kept outside the checkout. The
 * CLI's doctor, the bench and the tests look there; the library does not.
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
