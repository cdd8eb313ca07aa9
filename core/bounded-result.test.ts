import { describe, expect, it } from 'vitest';
import { boundResult, jsonBytes } from './bounded-result.ts';

function result(over: Record<string, unknown> = {}) {
  return {
    executionId: 'exec_1', stdout: '', stderr: '', exitCode: 0, signal: null, executionTime: 5, memoryUsed: 1, cpuTime: 1,
    timedOut: false, status: 'ok', stdoutTruncated: false, stderrTruncated: false, filesWritten: [] as string[], ...over,
  };
}

describe('boundResult', () => {
  it('keeps a result that fits as it is, without flags', () => {
    const r = result({ stdout: 'hello\n' });
    expect(boundResult(r, 4096)).toBe(r);
  });

  it('cuts large output to fit, keeping every field and flagging the cut', () => {
    const r = result({ stdout: 'x'.repeat(2_000_000), stderr: 'e'.repeat(100) });
    const b = boundResult(r, 65_536);
    expect(jsonBytes(b)).toBeLessThanOrEqual(65_536);
    expect(jsonBytes(b)).toBeGreaterThan(65_000);
    for (const k of Object.keys(r)) expect(b).toHaveProperty(k);
    expect(b).toMatchObject({ stdoutTruncated: true, stderrTruncated: false, replayTruncated: true, exitCode: 0, status: 'ok' });
    // stderr needed less than half the room: all of it is kept, stdout gets the rest.
    expect(b.stderr).toBe(r.stderr);
    expect(r.stdout.startsWith(b.stdout)).toBe(true);
  });

  it('shares the room between two large streams', () => {
    const b = boundResult(result({ stdout: 'o'.repeat(300_000), stderr: 'e'.repeat(300_000) }), 10_000);
    expect(jsonBytes(b)).toBeLessThanOrEqual(10_000);
    expect(Math.abs(b.stdout.length - b.stderr.length)).toBeLessThan(10);
    expect(b).toMatchObject({ stdoutTruncated: true, stderrTruncated: true });
  });

  it('counts bytes as stored: multi-byte characters and escapes, never splitting a character', () => {
    const b = boundResult(result({ stdout: '€"\n😀'.repeat(50_000) }), 8_192);
    expect(jsonBytes(b)).toBeLessThanOrEqual(8_192);
    expect(b.stdout.length).toBeGreaterThan(1_000);
    expect(Buffer.from(b.stdout, 'utf8').toString('utf8')).toBe(b.stdout);
    const last = b.stdout.charCodeAt(b.stdout.length - 1);
    expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
  });

  it('leaves paths out of filesWritten when even empty output would not fit', () => {
    const files = Array.from({ length: 1000 }, (_, i) => `${'d'.repeat(200)}/file-${i}.txt`);
    const b = boundResult(result({ stdout: 'x'.repeat(10_000), filesWritten: files }), 65_536);
    expect(jsonBytes(b)).toBeLessThanOrEqual(65_536);
    expect(b).toMatchObject({ filesWrittenTruncated: true, replayTruncated: true, stdoutTruncated: true });
    expect(b.stdout.length).toBeLessThan(300);
    expect(b.filesWritten.length).toBeGreaterThan(100);
    expect(files.slice(0, b.filesWritten.length)).toEqual(b.filesWritten);
  });

  it('keeps anything that is not an execution result whole', () => {
    const big = { sessionId: 'ses_1', metadata: { blob: 'x'.repeat(100_000) } };
    expect(boundResult(big, 1_000)).toBe(big);
  });
});
