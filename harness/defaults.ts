/**
 * Every default of a lockstep run, once. The CLI's help text is built from
 * this object, and the plugin's own defaults (plugin-src) are the same
 * values; the harness always passes them explicitly.
 */
export const DEFAULTS = {
  /** Blocks of context per side in a verdict. */
  history: 8,
  /**
   * Instructions between register snapshots. Reading a register costs about
   * 15 ns (aarch64, QEMU 10.0): one snapshot a jump target made a
   * 3-instruction loop 100 times slower, one per 4096 instructions costs a
   * few per cent (docs/comparisons.md). Narrowing finds the instruction
   * between two snapshots.
   */
  regsEvery: 4096,
  /** Instructions between checkpoints (exact counts; docs/performance.md). */
  interval: 1 << 17,
  /** How far (instructions) one side may run ahead of the other. */
  window: 1 << 20,
  /** Transient excursions are off unless asked for. */
  transientWindow: 0,
  /** A window that goes past the excursions timer differences make (the help suggests it). */
  suggestedTransientWindow: 50_000,
  /** What is compared: everything both QEMUs support. */
  compare: ["all"] as readonly string[],
  /** Seconds each QEMU has to load the plugin. */
  startSeconds: 60,
  /** Milliseconds a QEMU has to end after "quit" before SIGTERM, then SIGKILL. */
  stopGraceMs: 1500,
  /** The same on a path that already failed (clean-up). */
  cleanupGraceMs: 500,
  /** Narrowing reports at most this many steps (a bound on its output and time). */
  narrowMaxSteps: 200_000,
  /** Narrowing's re-runs get this many times the first run's time... */
  narrowTimeFactor: 3,
  /** ...and at least this many seconds, within what --timeout leaves. */
  narrowMinSeconds: 60,
} as const;
