// The one place terminal colours come from (stands in for @std/fmt/colors).
import { styleText } from "node:util";

/** A colour function for one style, or the identity when colour is off. */
export type Paint = (text: string) => string;

/** Returns paint functions that colour only when `enabled`. */
export function palette(
  enabled: boolean,
): Record<"red" | "green" | "yellow" | "bold" | "dim", Paint> {
  const make = (style: Parameters<typeof styleText>[0]): Paint =>
    enabled ? (text) => styleText(style, text, { validateStream: false }) : (text) => text;
  return {
    red: make("red"),
    green: make("green"),
    yellow: make("yellow"),
    bold: make("bold"),
    dim: make("dim"),
  };
}
