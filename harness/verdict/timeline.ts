/**
 * The run over time: each side's instruction count as its plugin reported
 * it, with when. Bounded: when TIMELINE_POINTS samples of a side are kept,
 * every other one is dropped and from then on only every other report is
 * kept (the start and the latest report always are), so a run of hours
 * costs as little as one of seconds and still draws its whole shape.
 */
import type { PluginMessage, Role } from "../core/protocol.ts";
import type { Timeline } from "./verdict.ts";

/** The most samples kept per side. */
export const TIMELINE_POINTS = 256;

/** Collects a Timeline from the messages a session hears. */
export class TimelineRecorder {
  readonly #points: Record<Role, [number, number][]> = { a: [[0, 0]], b: [[0, 0]] };
  /** Every `stride`th report is kept; the stride doubles each time the points are halved. */
  readonly #stride: Record<Role, number> = { a: 1, b: 1 };
  readonly #heard: Record<Role, number> = { a: 0, b: 0 };
  readonly #latest: Partial<Record<Role, [number, number]>> = {};
  #disagreedAt: number | null = null;

  /** Notes `msg` from side `role`, heard `seconds` after the start. */
  hear(role: Role, seconds: number, msg: PluginMessage): void {
    const t = Math.round(seconds * 1000) / 1000;
    switch (msg.t) {
      case "progress":
      case "end":
        this.#add(role, t, msg.insns);
        break;
      case "limit":
        this.#add(role, t, msg.at);
        break;
      case "diverged":
        this.#add(role, t, msg.insns);
        this.#disagreedAt ??= t;
        break;
    }
  }

  #add(role: Role, t: number, insns: number): void {
    const latest = this.#latest[role];
    if (latest && latest[0] === t && latest[1] === insns) return;
    this.#latest[role] = [t, insns];
    if (++this.#heard[role] % this.#stride[role] !== 0) return;
    const pts = this.#points[role];
    pts.push([t, insns]);
    if (pts.length >= TIMELINE_POINTS) {
      this.#points[role] = pts.filter((_, i) => i % 2 === 0);
      this.#stride[role] *= 2;
    }
  }

  /** The timeline so far: the kept points and each side's latest. */
  result(): Timeline {
    const side = (role: Role) => {
      const pts = this.#points[role].map(([t, n]) => [t, n] as const);
      const latest = this.#latest[role];
      if (latest && pts[pts.length - 1]![0] !== latest[0]) pts.push([latest[0], latest[1]]);
      return pts;
    };
    return { a: side("a"), b: side("b"), disagreedAt: this.#disagreedAt };
  }
}
