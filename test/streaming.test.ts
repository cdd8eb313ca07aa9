import { describe, expect, it } from 'vitest';
import { apiUrl, newClient, useSession } from './support/harness.ts';

const s = useSession();

interface RawEvent { id: string; event: string; data: string; at: number }

/** Reads an SSE response event by event, with arrival times; stops after `stopAfter` events. */
async function readEvents(res: Response, stopAfter = Infinity): Promise<RawEvent[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: RawEvent[] = [];
  let buf = '';
  while (events.length < stopAfter) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let idx: number;
    while ((idx = buf.indexOf('\n\n')) !== -1 && events.length < stopAfter) {
      const block = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => {
        const i = l.indexOf(': ');
        return [l.slice(0, i), l.slice(i + 2)];
      }));
      if (fields.event) events.push({ id: fields.id ?? '', event: fields.event, data: fields.data ?? '', at: Date.now() });
    }
  }
  await reader.cancel().catch(() => {});
  return events;
}

function post(body: unknown) {
  return fetch(`${apiUrl()}/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const FIVE_LINES = 'for (let i = 1; i <= 5; i++) { console.log(`line ${i}`); await Bun.sleep(300); }';

describe('streaming', () => {
  it('relays output as it is written, then the full result', async () => {
    const seen: Array<{ type: string; at: number; data?: string }> = [];
    let result: any;
    for await (const e of s.client.executeStream({ sessionId: s.sessionId, code: FIVE_LINES })) {
      if (e.type === 'result') result = e.result;
      else seen.push({ type: e.type, at: Date.now(), data: e.data });
      if (e.type === 'result') seen.push({ type: 'result', at: Date.now() });
    }
    const outs = seen.filter((e) => e.type === 'stdout');
    expect(outs.length).toBeGreaterThanOrEqual(3);
    expect(outs.map((e) => e.data).join('')).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
    const resultAt = seen.at(-1)!.at;
    expect(resultAt - outs[0]!.at).toBeGreaterThan(900);
    const plain = await s.client.execute({ sessionId: s.sessionId, code: 'console.log(1)' });
    expect(Object.keys(result).sort()).toEqual(Object.keys(plain).sort());
    expect(result.stdout).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
    expect(result.status).toBe('ok');
  });

  it('answers text/event-stream at once with an id on every event', async () => {
    const res = await post({ sessionId: s.sessionId, code: 'await Bun.sleep(1500); console.log("late")', stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-execution-id')).toMatch(/^exec_/);
    const events = await readEvents(res);
    expect(events.map((e) => e.event)).toEqual(['stdout', 'result']);
    expect(events.every((e) => /^\d+-\d+$/.test(e.id))).toBe(true);
    expect(JSON.parse(events[0]!.data)).toEqual({ data: 'late\n' });
  });

  it('delivers a multi-byte character written one byte at a time intact', async () => {
    const text = 'héllo wörld 🚀 ✓ 日本';
    const code = `const bytes = new TextEncoder().encode(${JSON.stringify(text)}); for (const b of bytes) { process.stdout.write(new Uint8Array([b])); await Bun.sleep(2); }`;
    let out = '';
    for await (const e of s.client.executeStream({ sessionId: s.sessionId, code })) if (e.type === 'stdout') out += e.data;
    expect(out).toBe(text);
  });

  it('resumes with Last-Event-ID with exactly the missed events', async () => {
    const code = 'for (let i = 1; i <= 8; i++) { console.log(`n${i}`); await Bun.sleep(150); }';
    const res = await post({ sessionId: s.sessionId, code, stream: true });
    const executionId = res.headers.get('x-execution-id')!;
    const first = await readEvents(res, 2);
    expect(first).toHaveLength(2);
    const resumed = await fetch(`${apiUrl()}/executions/${executionId}/events`, {
      headers: { authorization: `Bearer ${s.key}`, 'last-event-id': first[1]!.id },
    });
    const rest = await readEvents(resumed);
    const all = [...first, ...rest];
    const ids = all.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(all.at(-1)!.event).toBe('result');
    const text = all.filter((e) => e.event === 'stdout').map((e) => JSON.parse(e.data).data).join('');
    expect(text).toBe('n1\nn2\nn3\nn4\nn5\nn6\nn7\nn8\n');
    // A full replay from the start gives the same events.
    const replay = await readEvents(await fetch(`${apiUrl()}/executions/${executionId}/events`, { headers: { authorization: `Bearer ${s.key}` } }));
    expect(replay.map((e) => e.id)).toEqual(ids);
  });

  it('keeps running after the client disconnects', async () => {
    const res = await post({ sessionId: s.sessionId, code: 'await Bun.sleep(800); await Bun.write("after-disconnect.txt", "done")', stream: true });
    const executionId = res.headers.get('x-execution-id')!;
    await res.body!.cancel();
    // The execution finishes on its own: its result lands in the event stream.
    const events = await readEvents(await fetch(`${apiUrl()}/executions/${executionId}/events`, { headers: { authorization: `Bearer ${s.key}` } }));
    expect(events.at(-1)?.event).toBe('result');
    const r = await s.client.execute({ sessionId: s.sessionId, command: 'cat after-disconnect.txt' });
    expect(r.stdout).toBe('done');
  });

  it('does not serve another account\'s execution events', async () => {
    const res = await post({ sessionId: s.sessionId, code: 'console.log(1)', stream: true });
    const executionId = res.headers.get('x-execution-id')!;
    await readEvents(res);
    const other = await newClient();
    const r = await fetch(`${apiUrl()}/executions/${executionId}/events`, { headers: { authorization: `Bearer ${other.account.key}` } });
    expect(r.status).toBe(404);
  });
});
