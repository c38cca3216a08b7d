/**
 * How a guest ended: by an exit, or killed by a signal. In linux-user a
 * guest's fatal signal ends QEMU with that signal (QEMU kills itself after
 * its plugin reported the guest's end, see plugin-src/death.c), so a QEMU
 * killed by a signal after its plugin's end is the guest's death, and one
 * killed without it is QEMU's own (a crash, or a kill from outside).
 */
import type { SideState } from "./side_state.ts";

/** A guest's end: its exit code, or the signal that killed it. */
export type GuestEnd = { readonly signal: string } | { readonly exitCode: number };

/**
 * How the side's guest ended; undefined while its QEMU runs, and when the
 * guest did not end by itself (no end from its plugin).
 */
export function guestEnd(s: SideState): GuestEnd | undefined {
  const exit = s.pair.exit;
  if (!s.end || !exit) return undefined;
  return exit.signal ? { signal: exit.signal } : { exitCode: exit.code ?? 0 };
}

/** "exited with code 0", "was killed by SIGSEGV". */
export function describeGuestEnd(e: GuestEnd): string {
  return "signal" in e ? `was killed by ${e.signal}` : `exited with code ${e.exitCode}`;
}

/**
 * Whether two guests that ran the same instructions to their ends ended
 * differently in a way the comparison owns: a signal on one side and not
 * the same one on the other. Exit codes alone are values the comparison
 * may not have compared (the session says so).
 */
export function endsDiffer(a: GuestEnd, b: GuestEnd): boolean {
  const sig = (e: GuestEnd) => "signal" in e ? e.signal : undefined;
  return (sig(a) !== undefined || sig(b) !== undefined) && sig(a) !== sig(b);
}
