/**
 * What the session knows of one side while a run lasts: its counts, the
 * end or limit its plugin reported, and the dump it sent at a
 * disagreement, built up message by message.
 */
import type { DumpBlock, DumpEvent, PluginMessage } from "../core/protocol.ts";
import type { SideDump } from "../verdict/dump_diff.ts";
import type { PairSide } from "./side_pair.ts";

/** One side of a running session. */
export interface SideState {
  /** Its QEMU, and what its plugin said at start-up. */
  readonly pair: PairSide;
  /**
   * Where this side's comparison restarted after the last transient
   * excursion, in its own instruction count; end, limit and dump positions
   * below are counted from it ("logical").
   */
  origin: number;
  insns: number;
  blocks: number;
  /** Peak RSS of the QEMU in kB, as its plugin last read it. */
  rss: number;
  /** The guest's end: its length, hash, and how many of its last instructions may not have run. */
  end?: { insns: number; hash: string; tail: number };
  limit?: { at: number; atHash: string };
  dump?: {
    good: number;
    bad: number;
    /** This side's own count when it dumped. */
    insns: number;
    origin: number;
    /** False when its rings no longer reached back to where the streams last agreed. */
    complete: boolean;
    blocks: DumpBlock[];
    events: DumpEvent[];
    done: boolean;
    /** Several vCPUs: the instructions each had run at the first block. */
    vcpuInsns?: readonly number[];
  };
  error?: string;
  /** The fast pass: the streams part between these logical positions. */
  apart?: { good: number; bad: number };
}

/** A fresh state for a side that has just started. */
export function initialState(pair: PairSide): SideState {
  return { pair, origin: 0, insns: 0, blocks: 0, rss: 0 };
}

/** Folds one message from the side's plugin into its state. */
export function applyMessage(s: SideState, msg: PluginMessage): void {
  switch (msg.t) {
    case "progress":
      s.insns = msg.insns;
      s.blocks = msg.blocks;
      s.rss = msg.rss;
      break;
    case "end":
      s.insns = msg.insns;
      s.blocks = msg.blocks;
      s.rss = msg.rss;
      s.end = { insns: msg.insns - s.origin, hash: msg.hash, tail: msg.tail };
      break;
    case "limit":
      s.insns = msg.at;
      s.blocks = msg.blocks;
      s.rss = msg.rss;
      s.limit = { at: msg.at, atHash: msg.atHash };
      break;
    case "diverged":
      s.dump = {
        good: msg.good - msg.origin,
        bad: msg.bad - msg.origin,
        insns: msg.insns,
        origin: msg.origin,
        complete: msg.complete,
        ...(msg.vcpuInsns ? { vcpuInsns: msg.vcpuInsns } : {}),
        blocks: [],
        events: [],
        done: false,
      };
      break;
    case "blk":
      if (s.dump) s.dump.blocks.push({ ...msg.block, i: msg.block.i - s.dump.origin });
      break;
    case "ev":
      if (s.dump) s.dump.events.push({ ...msg.event, pos: msg.event.pos - s.dump.origin });
      break;
    case "dumped":
      if (s.dump) s.dump.done = true;
      break;
    case "apart":
      s.insns = msg.insns;
      s.blocks = msg.blocks;
      s.rss = msg.rss;
      s.apart = { good: msg.good, bad: msg.bad };
      break;
    case "error":
      s.error = msg.msg;
      break;
      // "peer-lost": the lost peer's own exit status decides the outcome (judge.ts).
  }
}

/** A side's dump, in logical positions. */
export function sideDump(s: SideState): SideDump {
  return {
    good: s.dump!.good,
    bad: s.dump!.bad,
    blocks: s.dump!.blocks,
    events: s.dump!.events,
    ended: s.end !== undefined,
    ...(s.dump!.vcpuInsns ? { vcpuInsns: s.dump!.vcpuInsns } : {}),
  };
}
