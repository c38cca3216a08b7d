// Debian's Chromium, headless, driven without any npm package: it loads a
// page from a file:// URL and dumps its DOM or a screenshot.

/** The flags this kind of machine needs (docs/development.md, "The HTML page"). */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Runs Chromium on `url` with `args` in a fresh profile (and TMPDIR), both
 * removed after; returns what it printed on stdout.
 */
export async function chromium(url: string, args: readonly string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-chromium-" });
  try {
    const out = await new Deno.Command("chromium", {
      args: [...FLAGS, `--user-data-dir=${dir}/profile`, ...args, url],
      env: { TMPDIR: dir, HOME: dir },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(90_000),
    }).output().catch((e) => {
      throw new Error(
        e instanceof Deno.errors.NotFound
          ? "chromium not found: scripts/setup.sh --tests installs it (Debian's chromium package)"
          : `chromium failed to start: ${e.message}`,
      );
    });
    if (!out.success) {
      throw new Error(`chromium exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
