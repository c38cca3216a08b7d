/**
 * The guest image: its ELF headers, symbols for naming addresses, and
 * disassembly of the instructions a verdict shows.
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
export {
  type DisasInput,
  type DisasOptions,
  disassemble,
  type Disassembly,
  withDisassembly,
} from "./disasm.ts";
