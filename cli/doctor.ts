/**
 * `qemu-lockstep doctor`: the QEMUs found, their versions and plugin API,
 * and whether the plugin builds for each. Exit 0 when at least one QEMU
 * is usable and every one found builds, 1 otherwise.
 */
import { parseArgs } from "../deps/cli.ts";
import { UsageError } from "./args.ts";
import { checkQemus, findQemus } from "../mod.ts";
import { SETUP_QEMU_DIRS } from "./setup_qemus.ts";
import { out } from "./_output.ts";

const HELP = `Usage: qemu-lockstep doctor [OPTIONS] [QEMU...]

Lists the QEMU binaries the presets name (on PATH, in .cache/qemu-10/bin where
scripts/setup.sh --tests puts Debian trixie's QEMU 10.0, and in .cache/qemu-10.2/bin,
its build of QEMU 10.2 from Debian's source), or the ones given, with
their version, plugin API version, and whether the lockstep plugin builds.

Options:
      --json    print the rows as JSON
  -h, --help    print help
`;

/** Runs the subcommand; returns the exit code. */
export async function doctorMain(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.values.help) {
    await out(HELP);
    return 0;
  }
  const paths = parsed.positionals.length ? parsed.positionals : findQemus(SETUP_QEMU_DIRS);
  const rows = await checkQemus(paths);
  if (parsed.values.json) {
    await out(JSON.stringify({ version: 1, qemus: rows }, null, 2) + "\n");
  } else {
    const width = Math.max(4, ...rows.map((r) => r.path.length));
    const lines = [`${"qemu".padEnd(width)}  version   API  plugin`];
    for (const r of rows) {
      lines.push(
        `${r.path.padEnd(width)}  ${(r.version ?? "?").padEnd(8)}  ${
          String(r.pluginApi ?? "?").padEnd(3)
        }  ${r.problem ? `NO: ${r.problem.split("\n")[0]}` : `builds (${r.header} header)`}`,
      );
    }
    if (rows.length === 0) {
      lines.push("(no QEMU found: bash scripts/setup.sh --tests installs them)");
    }
    await out(lines.join("\n") + "\n");
  }
  return rows.length > 0 && rows.every((r) => !r.problem) ? 0 : 1;
}
