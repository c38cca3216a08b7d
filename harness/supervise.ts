/**
 * What the session and the narrowing re-runs share to supervise QEMUs: a
 * private run directory, and a waker for the loop that reads the plugins'
 * messages.
 */

/** A fresh private directory (mode 0700) for one run's sockets and logs. */
export async function makeRunDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qemu-lockstep-" });
  await Deno.chmod(dir, 0o700);
  return dir;
}

/**
 * Wakes a supervision loop on an external event (a child exits, a timer
 * fires, an abort). A notify() that comes before the loop waits is kept.
 */
export class Waker {
  #woken = false;
  #wake = () => {};

  readonly notify = (): void => {
    this.#woken = true;
    this.#wake();
  };

  /** Resolves at the next notify() (at once if one came since the last wait). */
  next(): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((r) => {
      this.#wake = () => {
        this.#woken = false;
        r();
      };
    });
  }
}
