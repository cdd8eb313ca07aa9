import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AgentChannel, AgentGoneError } from './agent-channel.ts';

/** A fake attach stream: what the channel writes lands in `written`; `reply()` feeds it lines. */
function pipe() {
  const written: string[] = [];
  const incoming = new PassThrough();
  const stream = new Duplex({
    read() {},
    write(chunk, _enc, cb) { written.push(chunk.toString()); cb(); },
  });
  incoming.on('data', (c) => stream.push(c));
  const channel = new AgentChannel(stream, (_src, out) => { incoming.pipe(out); });
  const lastId = () => JSON.parse(written.at(-1)!).id as string;
  return { channel, written, lastId, reply: (chunk: string | Buffer) => incoming.write(chunk), stream };
}

describe('AgentChannel', () => {
  it('routes replies split across chunks to their request, with progress first', async () => {
    const { channel, lastId, reply } = pipe();
    const progress: unknown[] = [];
    const p = channel.call('ping', {}, (r) => progress.push(r.type === 'out' ? r.data : r.type));
    const id = lastId();
    const line1 = JSON.stringify({ id, type: 'out', stream: 'stdout', data: 'héllo' });
    const line2 = JSON.stringify({ id, type: 'ping', version: '1' });
    const all = Buffer.from(`${line1}\n${line2}\n`);
    reply(all.subarray(0, 7));
    reply(all.subarray(7, 30));
    reply(all.subarray(30));
    await expect(p).resolves.toEqual({ version: '1' });
    expect(progress).toEqual(['héllo']);
  });

  it('validates requests before sending and replies before resolving', async () => {
    const { channel, written, lastId, reply } = pipe();
    expect(() => channel.call('kill', { pid: -1 })).toThrow();
    expect(written).toEqual([]);
    const p = channel.call('stat', {});
    reply(`${JSON.stringify({ id: lastId(), type: 'stat', filesCount: 'many', activeProcesses: 0 })}\n`);
    await expect(p).rejects.toMatchObject({ name: 'AgentProtocolError' });
    const q = channel.call('stat', {});
    reply(`${JSON.stringify({ id: lastId(), type: 'ps', processes: [] })}\n`);
    await expect(q).rejects.toMatchObject({ name: 'AgentProtocolError' });
  });

  it('turns an error reply into the catalogue error', async () => {
    const { channel, lastId, reply } = pipe();
    const p = channel.call('delete', { path: 'x' });
    reply(`${JSON.stringify({ id: lastId(), type: 'error', code: 'not_found', message: 'no such file', details: { path: 'x' } })}\n`);
    await expect(p).rejects.toMatchObject({ code: 'not_found', status: 404, details: { path: 'x' } });
  });

  it('rejects requests in flight and later ones once the stream closes', async () => {
    const { channel, stream } = pipe();
    const p = channel.call('ping', {});
    stream.destroy();
    await expect(p).rejects.toBeInstanceOf(AgentGoneError);
    await expect(channel.call('ping', {})).rejects.toBeInstanceOf(AgentGoneError);
    expect(channel.alive).toBe(false);
  });

  it('ignores lines that are not JSON or answer nobody', async () => {
    const { channel, lastId, reply } = pipe();
    const p = channel.call('ping', {});
    reply('garbage\n{"id":"other","type":"ping","version":"x"}\n');
    reply(`${JSON.stringify({ id: lastId(), type: 'ping', version: '2' })}\n`);
    await expect(p).resolves.toEqual({ version: '2' });
  });
});
