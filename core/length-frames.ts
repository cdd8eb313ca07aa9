/**
 * Framing of a byte stream whose length is not known in advance (a file write streamed by a
 * client without Content-Length): chunks of a 4-byte big-endian length and that many bytes,
 * ended by an empty chunk, so the reader tells a complete stream from a cut one. The agent has
 * its own reader (images/bun/agent/frames.ts; it may not import runtime code from here).
 */
import { Transform, type TransformCallback } from 'node:stream';

/** The largest chunk one frame carries; bigger ones are split. */
export const MAX_FRAME = 1 << 20;

/** Frames what is written to it; ends the output with the empty frame when its input ended. */
export function frameWriter(): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      for (let off = 0; off < chunk.length; off += MAX_FRAME) {
        const part = chunk.subarray(off, off + MAX_FRAME);
        const head = Buffer.alloc(4);
        head.writeUInt32BE(part.length);
        this.push(head);
        this.push(part);
      }
      done();
    },
    flush(done: TransformCallback) {
      done(null, Buffer.alloc(4));
    },
  });
}
