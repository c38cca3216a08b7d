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
