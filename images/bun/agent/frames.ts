/**
 * Reader of a length-framed stream (the `write` op without `size`, core/length-frames.ts):
 * chunks of a 4-byte big-endian length and that many bytes, ended by an empty chunk. Yields the
 * payload as it arrives (never holds a whole frame); a stream that ends before the empty
 * chunk, or carries bytes after it, is refused.
 */
import { AgentError } from './protocol.ts';

/** The largest frame a writer sends (MAX_FRAME of core/length-frames.ts). */
const MAX_FRAME = 1 << 20;

export async function* unframe(source: AsyncIterable<Buffer>, path: string): AsyncGenerator<Buffer> {
  const head = Buffer.alloc(4);
  let headFill = 0;
  /** Payload bytes left in the current frame; -1 while reading a header. */
  let left = -1;
  let ended = false;
  const after = () => new AgentError('invalid_request', `${path}: bytes after the end of the stream`, { path });
  for await (const chunk of source) {
    let off = 0;
    while (off < chunk.length) {
      if (ended) throw after();
      if (left > 0) {
        const part = chunk.subarray(off, off + left);
        off += part.length;
        left -= part.length;
        if (left === 0) left = -1;
        yield part;
        continue;
      }
      const n = Math.min(4 - headFill, chunk.length - off);
      chunk.copy(head, headFill, off, off + n);
      headFill += n;
      off += n;
      if (headFill < 4) break;
      headFill = 0;
      const size = head.readUInt32BE(0);
      if (size > MAX_FRAME) throw new AgentError('invalid_request', `${path}: a frame of ${size} bytes`, { path });
      if (size === 0) ended = true;
      else left = size;
    }
  }
  if (!ended) throw new AgentError('invalid_request', `${path}: the stream was cut`, { path });
}
