import type { ExecutionResult } from '@buntime/sdk';
import { describe, expect, it } from 'vitest';
import { clip, formatBytes, formatExecution, formatFileContent, formatFileList, formatProcesses } from './format.ts';

const RESULT: ExecutionResult = {
  executionId: 'exe_1', stdout: '42\n', stderr: '', exitCode: 0, signal: null, executionTime: 12, memoryUsed: 31_457_280,
  cpuTime: 8, timedOut: false, status: 'ok', stdoutTruncated: false, stderrTruncated: false, filesWritten: [],
};

describe('formatExecution', () => {
  it('puts the outcome first, then the output sections', () => {
    expect(formatExecution(RESULT)).toBe([
      'status: ok (exit code 0)',
      'time: 12 ms wall, 8 ms CPU; peak memory: 30.0 MB',
      '',
      '--- stdout ---',
      '42',
      '',
      '--- stderr: (empty) ---',
      '',
      'execution id: exe_1',
    ].join('\n'));
  });

  it('tells timeouts, signals, truncation and written files', () => {
    const text = formatExecution({
      ...RESULT, status: 'timeout', timedOut: true, exitCode: null, signal: 'SIGKILL', stderr: 'boom\n',
      stderrTruncated: true, filesWritten: ['a.txt', 'dir/b.txt'],
    });
    expect(text).toContain('status: timeout (signal SIGKILL), timed out');
    expect(text).toContain('--- stderr ---\nboom\n[the server kept only the first part of this output]');
    expect(text).toContain('files written: a.txt, dir/b.txt');
  });
});

describe('helpers', () => {
  it('formats sizes', () => {
    expect([0, 1023, 1536, 5 * 1024 * 1024].map(formatBytes)).toEqual(['0 B', '1023 B', '1.5 KB', '5.0 MB']);
  });

  it('clips long text, saying how much is left out', () => {
    expect(clip('abcdef', 4)).toBe('abcd\n[… 2 more characters not shown]');
    expect(clip('abc', 4)).toBe('abc');
  });

  it('lists files and processes one per line', () => {
    const list = formatFileList({
      total: 3, totalExact: true, nextCursor: 'c',
      files: [
        { path: 'src', size: 0, modified: '2025-01-01T00:00:00.000Z', type: 'directory' },
        { path: 'a.txt', size: 2048, modified: '2025-01-01T00:00:00.000Z', type: 'file' },
      ],
    }, '/workspace');
    expect(list).toBe([
      '/workspace: 3 entries',
      'directory         -  2025-01-01T00:00:00.000Z  src/',
      'file         2.0 KB  2025-01-01T00:00:00.000Z  a.txt',
      '(1 more not shown; raise limit)',
    ].join('\n'));
    expect(formatFileList({ total: 0, totalExact: true, nextCursor: null, files: [] }, '/workspace/x')).toBe('/workspace/x: no files');
    expect(formatProcesses([])).toBe('no processes running');
    expect(formatProcesses([{ pid: 7, command: 'bun run a.ts', startedAt: 'T', executionId: 'exe_1' }])).toBe('1 running\npid 7  started T  bun run a.ts');
  });

  it('gives text files as text and binary ones as base64', () => {
    expect(formatFileContent('a.txt', new TextEncoder().encode('héllo'), 'utf8')).toBe('héllo');
    expect(formatFileContent('a.bin', new Uint8Array([0xff, 0x00]), 'utf8')).toBe('a.bin is binary (2 B, not UTF-8); base64:\n/wA=');
    expect(formatFileContent('a.txt', new TextEncoder().encode('hi'), 'base64')).toBe('aGk=');
  });
});
