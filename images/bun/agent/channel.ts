/**
 * The agent's end of the attach stream: newline-delimited JSON requests on stdin, replies on
 * stdout. stdout carries nothing but whole reply lines; diagnostics go to stderr.
 */
import type { AgentReplyLine } from '../../../core/agent-protocol.ts';

/**
 * Longest request line accepted; longer ones are dropped. File contents travel on the data
 * channel; the largest lines left are a run's inline `files` (plan file limit, base64).
 */
const MAX_LINE_BYTES = 256 * 1024 * 1024;

/** Writes one reply line. A single write per line keeps concurrent replies from interleaving. */
export function send(reply: AgentReplyLine): void {
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}

export function log(message: string): void {
  process.stderr.write(`buntime-agent: ${message}\n`);
}

/** Calls `onLine` for every complete line of stdin; resolves at EOF. */
export async function readLines(onLine: (line: string) => void): Promise<void> {
  let parts: Uint8Array[] = [];
  let size = 0;
  let overlong = false;
  for await (const chunk of Bun.stdin.stream() as AsyncIterable<Uint8Array>) {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (!overlong) onLine(decode(parts.splice(0), chunk.subarray(start, nl)));
      else log(`dropped a request line over ${MAX_LINE_BYTES} bytes`);
      parts = [];
      size = 0;
      overlong = false;
      start = nl + 1;
    }
    if (start < chunk.length && !overlong) {
      parts.push(chunk.slice(start));
      size += chunk.length - start;
      overlong = size > MAX_LINE_BYTES;
      if (overlong) parts = [];
    }
  }
}

function decode(parts: Uint8Array[], last: Uint8Array): string {
  if (parts.length === 0) return Buffer.from(last.buffer, last.byteOffset, last.byteLength).toString('utf8');
  return Buffer.concat([...parts, last]).toString('utf8');
}
