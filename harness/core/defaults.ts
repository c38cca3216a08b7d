/**
 * Every default of a lockstep run, once. The CLI's help text is built from
 * this object, and the plugin's own defaults (plugin-src) are the same
 * values; the harness always passes them explicitly.
 */
export const DEFAULTS = {
  /** Blocks of context per side in a verdict. */
  history: 8,
  /**
   * Rows of history in the text verdict. 16 instructions cover the divergent
   * block and the two or three before it (the bundled guests' blocks hold 2
   * to 8), and the section, with its header and function labels, stays
   * within the 24 lines of a default terminal. --json and --html have all
   * `history` blocks.
   */
  historyLines: 16,
  /**
   * Instructions between register snapshots. Every snapshot reads every
   * compared register, so one at every jump target makes a tight loop many
   * times slower; spaced out they cost little (docs/performance.md has the
   * figures), and narrowing finds the instruction between two snapshots.
   */
  regsEvery: 4096,
  /** Instructions between checkpoints (exact counts; docs/performance.md). */
  interval: 1 << 17,
  /** How far (instructions) one side may run ahead of the other. */
  window: 1 << 20,
  /**
   * The fast pass's checkpoints: far apart, since it keeps no blocks to
   * dump (a disagreement is named by the detail pass), and its window.
   */
  fastInterval: 1 << 22,
  fastWindow: 1 << 24,
  /**
   * A trace's chunks: the unit it is compressed and read in. Each starts
   * its jump prediction afresh, so larger ones are smaller on disk, and a
   * window costs the decoding of one (docs/trace-format.md).
   */
  traceChunk: 1 << 24,
  /**
   * Instructions between a trace's register snapshots: a value difference
   * is named within this many instructions (docs/trace-format.md has the
   * size each costs).
   */
  traceDetail: 16384,
  /** Transient excursions are off unless asked for. */
  transientWindow: 0,
  /** A window that goes past the excursions timer differences make (the help suggests it). */
  suggestedTransientWindow: 50_000,
  /** What is compared: everything both QEMUs support. */
  compare: ["all"] as readonly string[],
  /** Seconds a QEMU has to answer --version. */
  probeSeconds: 10,
  /** Seconds each QEMU has to load the plugin. */
  startSeconds: 60,
  /** Milliseconds a QEMU has to end after "quit" before SIGTERM, then SIGKILL. */
  stopGraceMs: 1500,
  /** The same on a path that already failed (clean-up). */
  cleanupGraceMs: 500,
  /**
   * Seconds the other side has to refuse the guest too, once one refused,
   * so that both are named, not whichever exit was seen first.
   */
  refusalGraceSeconds: 1,
  /**
   * Seconds the other side has to end too, once one side's guest executed a
   * program that ran natively, so that the verdict says what both did.
   */
  execGraceSeconds: 5,
  /** Seconds a QEMU may stay stopped (SIGSTOP, a debugger) before the run gives up on it. */
  stoppedSeconds: 5,
  /** Seconds in which no side retires an instruction before the run is called stalled. */
  stallSeconds: 60,
  /** Narrowing reports at most this many steps (a bound on its output and time). */
  narrowMaxSteps: 200_000,
  /** Narrowing's re-runs get this many times the first run's time... */
  narrowTimeFactor: 3,
  /** ...and at least this many seconds, within what --timeout leaves. */
  narrowMinSeconds: 60,
} as const;

/**
 * The largest values a run accepts: beyond them the plugin's buffers (its
 * block ring covers the window, two intervals, the transient window and
 * the history) would not fit in memory, or a timer would overflow. The
 * detail pass's dump spans up to a window and two intervals, and the
 * harness holds it instruction by instruction in Deno's heap: these
 * bounds keep that dump within what the heap can hold (docs/performance.md
 * has what larger values cost).
 */
export const LIMITS = {
  history: 10_000,
  interval: 1 << 22,
  window: 1 << 24,
  /** The plugin keeps the hashes of this many checkpoints ahead of its peer. */
  windowIntervals: 4000,
  transientWindow: 10_000_000,
  /** Instructions one trace chunk covers (the plugin's default is 2^24). */
  chunk: 1 << 26,
  /** setTimeout's largest delay, in whole seconds (24.8 days). */
  timeoutSeconds: 2_147_483,
} as const;
