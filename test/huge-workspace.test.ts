import { describe, expect, it } from 'vitest';
import { http, useSession } from './support/harness.ts';

// What a workspace of 200,000 files costs besides its own work: an execution's bookkeeping stays
// O(changes) (the change watch, not a walk), a listing page O(page), and a stat never waits
// for a count. Timings are end to end through the API; each figure is the median of several
// tries, so one scheduling hiccup of a shared machine does not decide it.
const big = useSession();
const empty = useSession();
const FILES = 200_000;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function medianMs(tries: number, fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < tries; i++) ms.push((await timed(fn)).ms);
  return median(ms);
}

const watcherLine = 'for p in /proc/[0-9]*; do if [ "$(head -c 21 $p/cmdline 2>/dev/null | tr "\\0" " ")" = "/opt/buntime/watcher " ]; then '
  + 'echo "$(basename $p) $(grep ^Uid: $p/status | cut -f2) $(grep ^Gid: $p/status | cut -f2)"; fi; done';

describe('a workspace of 200,000 files', () => {
  it('costs a trivial execution < 100 ms more than an empty workspace, and a listing page < 500 ms', async () => {
    const made = await big.client.execute({
      sessionId: big.sessionId, timeout: 30, command: `mkdir -p big && cd big && seq 1 ${FILES} | xargs touch && ls | wc -l`,
    });
    expect(made.stdout.trim()).toBe(String(FILES));
    const trivial = (s: typeof big) => () => s.client.execute({ sessionId: s.sessionId, command: 'true' });
    await trivial(big)();
    await trivial(empty)();
    const inBig = await medianMs(7, trivial(big));
    const inEmpty = await medianMs(7, trivial(empty));
    const list = (query: string) => http('GET', `/files/list?sessionId=${big.sessionId}&${query}`, { key: big.key });
    const listMs = await medianMs(3, () => list('limit=10'));
    console.log(`trivial execute: ${inBig.toFixed(1)} ms (200,000 files) vs ${inEmpty.toFixed(1)} ms (empty); files/list?limit=10: ${listMs.toFixed(1)} ms`);
    expect(inBig - inEmpty).toBeLessThan(100);
    expect(listMs).toBeLessThan(500);

    // The listing itself: a cursor moves on without overlap; the total is a bounded count.
    const first = await list('limit=10');
    expect(first.status).toBe(200);
    expect(first.json.files).toHaveLength(10);
    expect(first.json.files[0]).toMatchObject({ path: 'big', type: 'directory' });
    expect(first.json).toMatchObject({ total: 50_000, totalExact: false, nextCursor: expect.any(String) });
    const second = await list(`limit=10&cursor=${first.json.nextCursor}`);
    const paths = [...first.json.files, ...second.json.files].map((f: { path: string }) => f.path);
    expect(new Set(paths).size).toBe(20);
    expect((await list('limit=10&offset=10')).json.files.map((f: { path: string }) => f.path)).toEqual(paths.slice(10));
    expect((await list('cursor=bm9wZQ')).status).toBe(400);
  }, 120_000);

  it('reports exactly what an execution wrote there, and GET /sessions/{id} does not wait for a count', async () => {
    const wrote = await big.client.execute({ sessionId: big.sessionId, command: 'echo x > big/77; mkdir -p new && echo y > new/file' });
    expect(wrote.filesWritten).toEqual(['big/77', 'new/file']);
    const got = await timed(() => big.client.sessions.get(big.sessionId));
    expect(got.ms).toBeLessThan(1000);
    // A large workspace is counted in the background: the figure catches up within seconds.
    let count = got.value.filesCount;
    for (let i = 0; i < 60 && count !== FILES + 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      count = (await big.client.sessions.get(big.sessionId)).filesCount;
    }
    expect(count).toBe(FILES + 1);
  }, 120_000);

  it('watches as the session uid, and a watcher killed by user code is replaced while nothing is missed', async () => {
    const uid = (await empty.client.execute({ sessionId: empty.sessionId, command: 'id -u' })).stdout.trim();
    const before = (await empty.client.execute({ sessionId: empty.sessionId, command: watcherLine })).stdout.trim().split(' ');
    expect(before).toEqual([expect.stringMatching(/^\d+$/), uid, '0']);
    await empty.client.execute({ sessionId: empty.sessionId, command: `kill -9 ${before[0]}` });
    const after = await empty.client.execute({ sessionId: empty.sessionId, command: 'echo z > z.txt' });
    expect(after.filesWritten).toEqual(['z.txt']);
    let line = '';
    for (let i = 0; i < 40 && (line === '' || line.startsWith(`${before[0]} `)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      line = (await empty.client.execute({ sessionId: empty.sessionId, command: watcherLine })).stdout.trim();
    }
    expect(line.split(' ')).toEqual([expect.not.stringMatching(new RegExp(`^${before[0]}$`)), uid, '0']);
  }, 60_000);
});
