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
 * A SetupError for an operating-system error met while setting a run up
 * (`doing` says what was being done), with the fix for the usual causes.
 */
export function fromOsError(doing: string, e: unknown): SetupError {
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
  return new SetupError(`${doing}: ${msg}`, hint, { cause: e });
}
