import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { newClient } from './support/harness.ts';

let client: Buntime;
let cleanup: () => Promise<void>;
let sessionId: string;

beforeAll(async () => {
  ({ client, cleanup } = await newClient());
  sessionId = (await client.sessions.create()).id;
});
afterAll(() => cleanup());

describe('execute', () => {
  it('runs JavaScript and reports the documented result fields', async () => {
    const r = await client.execute({ sessionId, code: 'console.log("Sum:", [1,2,3,4,5].reduce((a,b)=>a+b,0))' });
    expect(r.stdout).toBe('Sum: 15\n');
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe('ok');
    expect(r.timedOut).toBe(false);
    expect(r.filesWritten).toEqual([]);
    expect(r.executionId).toMatch(/^exec_/);
    for (const k of ['executionTime', 'memoryUsed', 'cpuTime'] as const) expect(Number.isInteger(r[k])).toBe(true);
    expect(r.memoryUsed).toBeGreaterThan(1024 * 1024);
    expect(r.stdoutTruncated).toBe(false);
    expect(r.stderrTruncated).toBe(false);
  });

  it('runs files written with the request through a command', async () => {
    const r = await client.execute({
      sessionId,
      files: [
        { path: 'utils.ts', content: 'export const add = (a: number, b: number): number => a + b;\n' },
        { path: 'index.ts', content: 'import { add } from "./utils.ts";\nconsole.log(`Result: ${add(5, 3)}`);\n' },
      ],
      command: 'bun run index.ts',
    });
    expect(r.stdout).toBe('Result: 8\n');
    expect(r.exitCode).toBe(0);
    expect(r.filesWritten).toEqual(['index.ts', 'utils.ts']);
  });

  it('runs TypeScript with types as code', async () => {
    const r = await client.execute({
      sessionId,
      code: 'interface P { name: string; age: number }\nconst p: P = { name: "Ada", age: 36 };\nconst f = <T,>(x: T): T => x;\nconsole.log(f<string>(p.name), p.age satisfies number);',
    });
    expect(r.stdout).toBe('Ada 36\n');
  });

  it('passes env, stdin and workingDir', async () => {
    await client.execute({ sessionId, command: 'mkdir -p sub/dir' });
    const r = await client.execute({
      sessionId,
      command: 'echo "$GREETING"; pwd; cat',
      env: { GREETING: 'hello there' },
      stdin: 'from stdin',
      workingDir: 'sub/dir',
    });
    expect(r.stdout).toBe('hello there\n/workspace/sub/dir\nfrom stdin');
  });

  it('does not leak env into the next execution', async () => {
    await client.execute({ sessionId, command: 'true', env: { SECRET_TOKEN: 'abc' } });
    const r = await client.execute({ sessionId, command: 'echo "[${SECRET_TOKEN:-unset}]"' });
    expect(r.stdout).toBe('[unset]\n');
  });

  it('reports a failing program as a result, not an error', async () => {
    const r = await client.execute({ sessionId, code: 'console.error("boom"); process.exit(3)' });
    expect(r.status).toBe('error');
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toBe('boom\n');
  });

  it('keeps files across executions but not in-memory state', async () => {
    await client.execute({ sessionId, code: 'globalThis.counter = 41; await Bun.write("state.txt", "persisted")' });
    const r = await client.execute({ sessionId, code: 'console.log(typeof globalThis.counter, await Bun.file("state.txt").text())' });
    expect(r.stdout).toBe('undefined persisted\n');
  });

  it('lists the files an execution created or modified', async () => {
    await client.execute({ sessionId, command: 'echo a > untouched.txt; echo b > modified.txt' });
    const r = await client.execute({ sessionId, command: 'echo c >> modified.txt; mkdir -p d; echo n > d/new.txt; cat untouched.txt >/dev/null' });
    expect(r.filesWritten).toEqual(['d/new.txt', 'modified.txt']);
  });

  it('lists exactly the files written in a large workspace too (found through the change watch)', async () => {
    const big = (await client.sessions.create()).id;
    try {
      // Past a few hundred entries the agent stops walking the workspace after every run.
      await client.execute({ sessionId: big, command: 'for d in $(seq 1 30); do mkdir -p lib/$d; for f in $(seq 1 30); do echo $f > lib/$d/$f.txt; done; done' });
      await client.execute({ sessionId: big, command: 'true' });
      const r = await client.execute({
        sessionId: big,
        command: 'echo more >> lib/7/7.txt; cat lib/8/8.txt > /dev/null; rm lib/9/9.txt; mv lib/10/10.txt lib/10/moved.txt;'
          + ' mkdir -p fresh/deep && echo n > fresh/deep/new.txt; echo t > /tmp/outside.txt',
      });
      expect(r.filesWritten).toEqual(['fresh/deep/new.txt', 'lib/10/moved.txt', 'lib/7/7.txt']);
      const again = await client.execute({ sessionId: big, code: 'await Bun.write("lib/1/1.txt", "x")' });
      expect(again.filesWritten).toEqual(['lib/1/1.txt']);
      expect((await client.execute({ sessionId: big, command: 'ls lib/2 > /dev/null' })).filesWritten).toEqual([]);
    } finally {
      await client.sessions.delete(big);
    }
  });
});
