/**
 * The guest's forked children compared in lockstep (linux-user,
 * children=on): each child's plugin pairs with the peer's child of the
 * same path in the process tree and reports on a control connection of its
 * own (plugin-src/process.c). Each side of each pair has a SideState,
 * folded from its messages as the guest's own is; a pair decides the run
 * when its streams part, both its dumps are in, a side fails, or a side
 * ends without its plugin's word while the other ran to its end. The first
 * such pair, in the order their news came, is the run's outcome, its
 * process named. Children stay uncompared (listed only) when the peer's
 * child did not come.
 */
import { compareOutcome, type Outcome, peerLost, streamsApart } from "./judge.ts";
import { applyMessage, initialState, type SideState } from "./side_state.ts";
import type { PairSide } from "./side_pair.ts";
import type { ControlMessage } from "./control_socket.ts";
import type { Role } from "../core/protocol.ts";

/** A process the verdict names: its path, and what it ran as far as known. */
export interface NamedProcess {
  readonly path: string;
  readonly command: readonly string[] | null;
}

/** Both sides of one forked child, once each said hello paired. */
type ChildPair = Partial<Record<Role, SideState>>;

/** Every compared child of a run; see the module comment. */
export class ChildPairs {
  readonly #pairs = new Map<string, ChildPair>();
  /** Paths in the order their news came, the first deciding. */
  readonly #order: string[] = [];
  /** Pairs that reached their limit alike, told to quit already. */
  readonly #quit = new Set<string>();
  /** Each child's fork position: its stream up to there is its parent's. */
  readonly #forkedAt = new Map<string, number>();

  /** Folds one message of the child at `path` of side `role` (`side`: its connection). */
  hear(role: Role, path: string, msg: ControlMessage, side: PairSide): void {
    let pair = this.#pairs.get(path);
    if (!pair) {
      pair = {};
      this.#pairs.set(path, pair);
      this.#order.push(path);
    }
    if (msg.t === "hello") {
      if (msg.paired) pair[role] = initialState(side);
      if (msg.at !== undefined) this.#forkedAt.set(path, msg.at);
      return;
    }
    const s = pair[role];
    if (!s || msg.t === "closed" || msg.t === "regs" || msg.t === "exec") return;
    applyMessage(s, msg);
  }

  /** The children compared with the peer's (both sides paired). */
  compared(): string[] {
    return this.#order.filter((p) => this.#pairs.get(p)?.a && this.#pairs.get(p)?.b);
  }

  /**
   * The sides of pairs that both reached the limit (--max-insns) with the
   * same hash, each returned once: their plugins wait for "quit", which
   * ends that child, as the limit ends the guest.
   */
  takeLimits(): PairSide[] {
    const sides: PairSide[] = [];
    for (const path of this.compared()) {
      const { a, b } = this.#pairs.get(path)!;
      if (this.#quit.has(path) || !a!.limit || a!.limit.atHash !== b!.limit?.atHash) continue;
      this.#quit.add(path);
      sides.push(a!.pair, b!.pair);
    }
    return sides;
  }

  /** Whether every compared child's connections have ended on both sides. */
  settled(): boolean {
    return this.compared().every((p) => {
      const { a, b } = this.#pairs.get(p)!;
      return a!.pair.closed && b!.pair.closed;
    });
  }

  /**
   * The outcome the first deciding pair gives (see the module comment),
   * or undefined; `name` says what a process ran.
   */
  outcome(history: number, name: (path: string) => NamedProcess): Outcome | undefined {
    for (const path of this.compared()) {
      const { a, b } = this.#pairs.get(path) as Record<Role, SideState>;
      const o = pairOutcome(a, b, history);
      if (!o) continue;
      // A difference at or before the fork is in the stream the child
      // shares with its parent: the process it is in is an ancestor.
      let owner = path;
      const at = o.divergence?.insn ?? o.apart?.bad;
      // (A program executed under QEMU again, "1.2@1", shares nothing.)
      while (
        at !== undefined && /\.\d+$/.test(owner) && at <= (this.#forkedAt.get(owner) ?? 0)
      ) {
        owner = owner.slice(0, owner.lastIndexOf("."));
      }
      return owner === "1" ? o : inProcess(o, name(owner));
    }
    return undefined;
  }
}

/** What one pair decides, or undefined while it runs (or ran alike). */
function pairOutcome(a: SideState, b: SideState, history: number): Outcome | undefined {
  for (const s of [a, b]) {
    const role = s.pair.plan.role;
    if (s.error) return { status: "error", stoppedBy: null, message: `Side ${role}: ${s.error}` };
    if (s.apart) return streamsApart(s.apart);
  }
  if (a.dump?.done && b.dump?.done) return compareOutcome(a, b, history);
  for (const [s, other] of [[a, b], [b, a]] as const) {
    const gone = s.pair.closed && !s.end && !s.limit;
    if (gone && s.dump?.done && other.pair.closed && !other.dump) return peerLost(s, other);
    if (gone && !s.dump && other.end) {
      return {
        status: "inconclusive",
        stoppedBy: "crash",
        message: `Its QEMU on side ${s.pair.plan.role} ended without its plugin's word (crashed ` +
          `or killed) at about instruction ${s.insns}, while side ${other.pair.plan.role}'s ran ` +
          "to its end",
      };
    }
  }
  return undefined;
}

/** An outcome of a child's pair, its process named in the message and the divergence. */
function inProcess(o: Outcome, p: NamedProcess): Outcome {
  const named = `${p.path}${p.command ? ` (${p.command.join(" ").slice(0, 80)})` : ""}`;
  return {
    ...o,
    message: `In process ${named}: ${o.message.charAt(0).toLowerCase()}${o.message.slice(1)}`,
    ...(o.divergence ? { divergence: { ...o.divergence, process: p } } : {}),
  };
}
