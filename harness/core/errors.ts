/**
 * A problem with the set-up or the input that stops a run before it starts
 * (missing image, unknown arch, no compiler, ...). `message` names the
 * problem, `hint` the fix. The CLI maps it to exit code 2.
 */
export class SetupError extends Error {
  /** What the user can do about it. */
  readonly hint: string;
  constructor(message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SetupError";
    this.hint = hint;
  }
}

/**
 * A set-up error that lies with the QEMU under test, so another build of
 * it may not have it: it cannot be found or started, says no version, is
 * too old, cannot take what a trace holds, or its plugin header does not
 * build the plugin. `--bisect` skips such a commit (125); every other
 * set-up error (the image, the architecture, an output, the cache, the
 * machine) would be the same at every commit and stops it (128).
 */
export class QemuSetupError extends SetupError {
  constructor(message: string, hint: string, options?: ErrorOptions) {
    super(message, hint, options);
    this.name = "QemuSetupError";
  }
}

/**
 * A SetupError (or `kind` of one) for an operating-system error met while
 * setting a run up (`doing` says what was being done), with the fix for
 * the usual causes.
 */
export function fromOsError(
  doing: string,
  e: unknown,
  kind: typeof SetupError = SetupError,
): SetupError {
  const msg = (e as Error)?.message ?? String(e);
  const hint = /os error 24\b|Too many open files/.test(msg)
    ? "raise the limit on open files (ulimit -n 1024)"
    : /os error 28\b|No space left/.test(msg)
    ? "free some space on the disk (TMPDIR, the plugin cache), or point TMPDIR elsewhere"
    : /os error 13\b|Permission denied/.test(msg)
    ? "check the permissions of the files and directories named"
    : /os error 2\b|No such file/.test(msg)
    ? "check that the program or file named exists"
    : "see the message; it comes from the operating system";
  return new kind(`${doing}: ${msg}`, hint, { cause: e });
}
