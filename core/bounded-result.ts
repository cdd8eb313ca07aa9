/**
 * Stored copies of answers are bounded: an idempotent replay and a stream's result event keep at
 * most a given number of bytes of JSON. An execution result over the bound keeps every field;
 * what gives is its output (and, past that, the tail of `filesWritten`), with flags that say so:
 *
 * - `stdout` / `stderr` keep their beginning, cut on a character boundary; a stream that was cut
 *   has its `…Truncated` flag set (as when the program talked past the retained cap);
 * - `filesWrittenTruncated: true` when paths were left out of `filesWritten`;
 * - `replayTruncated: true` on any result cut this way (absent otherwise).
 *
 * Anything that is not an execution result is kept whole: a stored answer is never dropped for
 * being large (a dropped idempotency record would let a retry run twice).
 */

/** Fields a bounded execution result may gain. */
export interface TruncationFlags {
  replayTruncated?: true;
  filesWrittenTruncated?: true;
}

type Outputs = { stdout: string; stderr: string; stdoutTruncated?: boolean; stderrTruncated?: boolean; filesWritten?: unknown };

/** Bytes of `value` as JSON (UTF-8). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null');
}

/** `body` if its JSON fits in `maxBytes`; an execution result cut to fit otherwise (see above). */
export function boundResult<T>(body: T, maxBytes: number): T {
  if (!isOutputs(body) || jsonBytes(body) <= maxBytes) return body;
  const out: Outputs & TruncationFlags = { ...body, stdout: '', stderr: '', replayTruncated: true };
  trimFiles(out, maxBytes);
  const room = Math.max(0, maxBytes - jsonBytes(out));
  const outBytes = escapedBytes(body.stdout);
  const errBytes = escapedBytes(body.stderr);
  // Each stream gets half the room; what one does not need goes to the other.
  const half = Math.floor(room / 2);
  const forOut = outBytes <= half ? outBytes : Math.max(half, room - Math.min(errBytes, half));
  out.stdout = cut(body.stdout, forOut);
  out.stderr = cut(body.stderr, room - escapedBytes(out.stdout));
  if (out.stdout.length < body.stdout.length) out.stdoutTruncated = true;
  if (out.stderr.length < body.stderr.length) out.stderrTruncated = true;
  return out as T;
}

function isOutputs(body: unknown): body is Outputs {
  const b = body as Partial<Outputs> | null;
  return typeof b === 'object' && b !== null && typeof b.stdout === 'string' && typeof b.stderr === 'string';
}

/** Leaves paths out of `filesWritten` (from the end) until the result without output fits. */
function trimFiles(out: Outputs & TruncationFlags, maxBytes: number): void {
  if (!Array.isArray(out.filesWritten) || jsonBytes(out) <= maxBytes) return;
  const files = [...(out.filesWritten as unknown[])];
  out.filesWrittenTruncated = true;
  let over = jsonBytes(out) - maxBytes;
  while (files.length > 0 && over > 0) over -= jsonBytes(files.pop()) + 1;
  out.filesWritten = files;
}

/** Bytes `text` takes inside a JSON string. */
function escapedBytes(text: string): number {
  return jsonBytes(text) - 2;
}

/** The longest beginning of `text` that takes at most `budget` bytes in a JSON string. */
function cut(text: string, budget: number): string {
  if (escapedBytes(text) <= budget) return text;
  let lo = 0;
  let hi = Math.min(text.length, budget);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (escapedBytes(text.slice(0, mid)) <= budget) lo = mid;
    else hi = mid - 1;
  }
  // Never end on the first half of a surrogate pair.
  const last = text.charCodeAt(lo - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? lo - 1 : lo);
}
