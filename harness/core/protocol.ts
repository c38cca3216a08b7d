/**
 * The protocol between the plugin and the harness, in one place: every
 * message the plugin writes to the control socket (one JSON object a line,
 * `t` names its kind), its parser, every command the harness writes back
 * (one text line), and the kinds of events. plugin-src/protocol.h is its C
 * mirror; test/unit/protocol_test.ts checks that the two agree.
 */

/** Message kinds (`t`), by the name protocol.h gives them. */
export const MESSAGES = {
  HELLO: "hello",
  REGS: "regs",
  PROGRESS: "progress",
  END: "end",
  LIMIT: "limit",
  PEER_LOST: "peer-lost",
  DIVERGED: "diverged",
  BLOCK: "blk",
  EVENT: "ev",
  DUMPED: "dumped",
  STEP: "step",
  NARROWED: "narrowed",
  LOCATED: "located",
  AT: "at",
  APART: "apart",
  EXEC: "exec",
  HANDLER: "handler",
  THREAD: "thread",
  UNFOLLOWED: "unfollowed",
  SCHED: "sched",
  ERROR: "error",
} as const;

/** Commands the harness sends, by the name protocol.h gives them. */
export const COMMANDS = {
  REGS: "regs",
  RESYNC: "resync",
  WHERE: "where",
  QUIT: "quit",
} as const;

/** Event kinds: what an instruction did besides running (the `k` of an "ev" message). */
export const EventKind = {
  /** An event dropped when the comparison restarted after a transient excursion. */
  NONE: 0,
  LOAD: 1,
  STORE: 2,
  /** A system call: address = its number, value = a fold of its arguments (0 without addresses). */
  SYSCALL: 3,
  /**
   * A system call's result: address = its number, value = what it returned
   * (0 for an address result when addresses are not compared).
   */
  SYSRET: 4,
  /** A register snapshot before the instruction: address = its block's, value = a hash. */
  REGS: 5,
  /**
   * Eight bytes an environment-reading system call wrote (API 4): address =
   * its number, size = their offset (4096 + offset in its second buffer),
   * value = the bytes, in the target's byte order read as a host integer.
   */
  SYSOUT: 6,
  /**
   * A system call's result noted where system calls are not compared
   * (sysnote=on): never in the checkpoints' hash, never a difference of
   * its own; it tells what a divergence after it follows from.
   */
  SYSNOTE: 7,
  /** The call itself, noted likewise: its number, a fold of its arguments. */
  SYSNOTE_CALL: 8,
} as const;

/**
 * The record stream's frames (record=, plugin-src/record.c): a one-byte
 * kind, three zero bytes, a little-endian u32 payload length, the payload.
 */
export const RecFrame = {
  /** Begins a chunk: u64 index, u64 position and u64 target of the jump before it. */
  CHUNK: 1,
  /** The chunk's encoded jumps: u64 jumps so far in the chunk, then bytes. */
  JUMPS: 2,
  /** The chunk's encoded detail records. */
  DETAIL: 3,
} as const;

/** Kinds of the trace's detail records: the event kinds they are. */
export const DetailKind = {
  /** A system call: its number and a hash of its arguments. */
  SYSCALL: 3,
  /** What a system call returned. */
  SYSRET: 4,
  /** A hash of the picked registers at a jump target. */
  REGS: 5,
  /** Eight bytes a system call wrote: its number, their offset, the bytes. */
  SYSOUT: 6,
} as const;

/** One of EventKind's values. */
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** A side of the run. */
export type Role = "a" | "b";

/** One retired block as a plugin dumped it. */
export interface DumpBlock {
  /** Stream index of its first instruction. */
  readonly i: number;
  /** Guest virtual address of its first instruction. */
  readonly pc: bigint;
  /** Size in bytes of each retired instruction. */
  readonly sizes: readonly number[];
  /** The retired instructions' bytes, hex, concatenated. */
  readonly bytes: string;
  /** The vCPU that ran it, where several run as one stream and the plugin can tell (vcpus=). */
  readonly cpu?: number;
}

/** An event of the instruction at stream index `pos` (see EventKind). */
export interface DumpEvent {
  readonly pos: number;
  readonly kind: number;
  readonly a: bigint;
  readonly size: number;
  readonly v: bigint;
}

/** A register as a plugin described it. */
export interface RegInfo {
  readonly name: string;
  readonly feature: string;
  /** Bytes read at start-up (-1: the read failed). */
  readonly size: number;
}

/** One instruction of a narrowing run (see narrow.ts). */
export interface Step {
  readonly pos: number;
  readonly pc: bigint;
  readonly bytes: string;
  /** QEMU's disassembly ("" where it has none). */
  readonly disas: string;
  /** Registers that changed since the previous step (all at the first), by index in the agreed list: hex bytes, target order. */
  readonly regs: ReadonlyMap<number, string>;
  /** The vCPU it runs on, where several run as one stream and the plugin can tell (vcpus=). */
  readonly cpu?: number;
}

/** Counts a plugin reports with most messages. */
interface Counts {
  readonly insns: number;
  readonly blocks: number;
  /** Peak RSS of the QEMU in kB. */
  readonly rss: number;
}

/** A message from a plugin. */
export type PluginMessage =
  | {
    t: "hello";
    role: Role;
    target: string;
    api: number;
    /** The QEMU's own pid. */
    pid: number;
    memValues: boolean;
    /**
     * Its place in the guest's process tree: "1" the guest, "1.2" its
     * second child (linux-user); absent means "1".
     */
    proc?: string;
    /** A forked child: it compares with the peer's child of its path (children=on). */
    paired?: boolean;
    /** A forked child: the position of the fork that made it (its stream up to there is its parent's). */
    at?: number;
  }
  /** The guest executes a program (path and argv null where the plugin could not read them). */
  | { t: "exec"; path: string | null; argv: string[] | null }
  /**
   * The guest installed a handler for a signal that comes at a moment (a
   * child's end, a timer), not at an instruction: its address ("0x…"),
   * null where the plugin cannot read it (before plugin API 4).
   */
  | { t: "handler"; sig: number; pc: string | null }
  /** threads=on: the guest's thread `n` (by creation order) started, with its thread id. */
  | { t: "thread"; n: number; tid: number }
  /** threads=on: the threads run free from here on (the comparison cannot follow them), and why. */
  | { t: "unfollowed"; why: string }
  /** threads=on: a decision of the side's own: thread `n` runs from position `pos`. */
  | { t: "sched"; pos: number; n: number }
  | { t: "regs"; regs: RegInfo[] }
  | { t: "step"; step: Step }
  | ({ t: "progress" | "peer-lost" | "narrowed" } & Counts)
  /** The fast pass: the streams part between logical positions good and bad. */
  | ({ t: "apart"; good: number; bad: number } & Counts)
  | ({ t: "end"; hash: string; tail: number } & Counts)
  /**
   * locate=: the first instruction at locatepc= from the position asked
   * for on is at `at`, and `hits` instructions at that address ran before it.
   */
  | ({ t: "located"; at: number; hits: number } & Counts)
  /**
   * The answer to "where" (locatepc=): the position of the instruction
   * that runs next, whether the block before it ran whole, and how many
   * instructions at locatepc= ran so far.
   */
  | { t: "at"; next: number; whole: boolean; hits: number }
  | ({ t: "limit"; at: number; atHash: string } & Counts)
  | {
    t: "diverged";
    good: number;
    bad: number;
    insns: number;
    /** Where this side's comparison restarted after the last transient excursion. */
    origin: number;
    /** False when its rings no longer reached back to where the streams last agreed. */
    complete: boolean;
    /** Several vCPUs (vcpus=): the instructions each had run where the dump's first block starts. */
    vcpuInsns?: number[];
  }
  | { t: "blk"; block: DumpBlock }
  | { t: "ev"; event: DumpEvent }
  | { t: "dumped" }
  | { t: "error"; msg: string };

const KNOWN = new Set<string>(Object.values(MESSAGES));

/** Parses one line a plugin sent; throws SyntaxError when it is not one. */
export function parseMessage(line: string): PluginMessage {
  const raw = JSON.parse(line) as Record<string, unknown>;
  if (typeof raw !== "object" || raw === null || typeof raw.t !== "string" || !KNOWN.has(raw.t)) {
    throw new SyntaxError(`Unknown plugin message: ${line.slice(0, 80)}`);
  }
  switch (raw.t) {
    case MESSAGES.BLOCK:
      return {
        t: "blk",
        block: {
          i: Number(raw.i),
          pc: BigInt(String(raw.pc)),
          sizes: Array.from(String(raw.sz), (c) => parseInt(c, 16)),
          bytes: String(raw.b),
          ...(raw.cpu === undefined ? {} : { cpu: Number(raw.cpu) }),
        },
      };
    case MESSAGES.EVENT:
      return {
        t: "ev",
        event: {
          pos: Number(raw.p),
          kind: Number(raw.k),
          a: BigInt(String(raw.a)),
          size: Number(raw.s),
          v: BigInt(String(raw.v)),
        },
      };
    case MESSAGES.REGS: {
      const list = raw.regs as [string, string, number][];
      return { t: "regs", regs: list.map(([name, feature, size]) => ({ name, feature, size })) };
    }
    case MESSAGES.STEP: {
      const r = raw.r as Record<string, string>;
      return {
        t: "step",
        step: {
          pos: Number(raw.p),
          pc: BigInt(String(raw.pc)),
          bytes: String(raw.b),
          disas: String(raw.d ?? "").trim().replace(/\s+/g, " "),
          regs: new Map(Object.entries(r).map(([k, v]) => [Number(k), v])),
          ...(raw.cpu === undefined ? {} : { cpu: Number(raw.cpu) }),
        },
      };
    }
  }
  return raw as PluginMessage;
}

/** The answer to both sides' "regs" messages: indices into that side's list, in the agreed order. */
export function regsCommand(indices: readonly number[]): string {
  return [COMMANDS.REGS, ...indices].join(" ");
}

/** Where a side resumes after a transient excursion (see session.ts). */
export interface Resync {
  /** Comparisons restarted so far: peer messages of older epochs are dropped. */
  readonly epoch: number;
  /** The side's own position where its comparison restarts. */
  readonly origin: number;
  /** The side's own position to stop at (--max-insns), 0 for none. */
  readonly limit: number;
  /** The logical position from which the next register snapshot may be taken. */
  readonly regsNext: number;
}

/** The "resync" command for one side. */
export function resyncCommand(r: Resync): string {
  return [COMMANDS.RESYNC, r.epoch, r.origin, r.limit, r.regsNext].join(" ");
}

/** Asks a plugin with locatepc= where its stream is (answered by an "at" message). */
export const WHERE_COMMAND: string = COMMANDS.WHERE;

/** Ends a plugin's QEMU at once (a parked plugin waits for it). */
export const QUIT_COMMAND: string = COMMANDS.QUIT;
