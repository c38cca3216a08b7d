/**
 * Why the debuggers cannot be stopped at the divergence: a verdict that
 * names no instruction or cannot be read, a re-run that does not retrace
 * the verdict's run, a stub that does not get there. A SetupError: the CLI
 * says it with its hint and exits 2.
 */
import { SetupError } from "../core/errors.ts";

/** See the module comment. */
export class DebugError extends SetupError {
  constructor(message: string, hint: string, options?: ErrorOptions) {
    super(message, hint, options);
    this.name = "DebugError";
  }
}

/** The hint of a re-run that did not go where the verdict's run went. */
export const NOT_RETRACED =
  "the re-runs must execute as the verdict's run did: run from the same directory, " +
  "with the same QEMUs and images (docs/debugging.md#when-the-re-run-goes-elsewhere)";
