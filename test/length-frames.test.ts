/**
 * The framing of file writes of unknown length: the runner's writer (core/length-frames.ts) and
 * the agent's reader (images/bun/agent/frames.ts) agree, and the reader refuses a cut stream.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { frameWriter, MAX_FRAME } from '../core/length-frames.ts';
import { unframe } from '../images/bun/agent/frames.ts';

async function framed(chunks: Buffer[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(frameWriter())) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function read(bytes: Buffer, pieceSize: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let off = 0; off < bytes.length; off += pieceSize) pieces.push(bytes.subarray(off, off + pieceSize));
  const out: Buffer[] = [];
  for await (const c of unframe(Readable.from(pieces), 'f')) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

describe('length frames', () => {
  const data = Buffer.from(Array.from({ length: MAX_FRAME * 2 + 12_345 }, (_, i) => i % 251));

  it('round-trips whatever the chunking on either side', async () => {
    const wire = await framed([data.subarray(0, 7), data.subarray(7, MAX_FRAME + 9), data.subarray(MAX_FRAME + 9)]);
    for (const piece of [7, 4099, wire.length]) {
      expect((await read(wire, piece)).equals(data)).toBe(true);
    }
  });

  it('carries an empty file', async () => {
    expect((await read(await framed([]), 1)).length).toBe(0);
  });

  it('refuses a stream cut anywhere before its end mark', async () => {
    const wire = await framed([data]);
    for (const cut of [0, 2, 4, 100, MAX_FRAME + 4, wire.length - 1]) {
      await expect(read(wire.subarray(0, cut), 512)).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });

  it('refuses bytes after the end mark and frames over the maximum', async () => {
    const wire = await framed([Buffer.from('ab')]);
    await expect(read(Buffer.concat([wire, Buffer.from([1])]), 64)).rejects.toThrow(/after the end/);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(MAX_FRAME + 1);
    await expect(read(huge, 4)).rejects.toThrow(/a frame of/);
  });
});
