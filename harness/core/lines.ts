/**
 * Newline-delimited text from a byte stream (the plugins' JSON lines on
 * the control socket): each line as it completes, without its newline.
 */

/** What readLines() reads from: a Deno.Conn, a file, a child's pipe. */
export interface ByteReader {
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * Yields each line of `from` until its end (an unterminated last line is
 * dropped: the writer died in the middle of it). A line longer than
 * `maxLine` characters throws RangeError, so a peer that never sends a
 * newline cannot fill memory.
 */
export async function* readLines(
  from: ByteReader,
  maxLine: number = Number.POSITIVE_INFINITY,
): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(1 << 16);
  let buf = "";
  for (;;) {
    const n = await from.read(chunk);
    if (n === null) return;
    buf += decoder.decode(chunk.subarray(0, n), { stream: true });
    let start = 0;
    let nl;
    while ((nl = buf.indexOf("\n", start)) >= 0) {
      yield buf.slice(start, nl);
      start = nl + 1;
    }
    buf = buf.slice(start);
    if (buf.length > maxLine) throw new RangeError(`a line of more than ${maxLine} bytes`);
  }
}
