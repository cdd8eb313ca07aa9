/**
 * The `tcp` op: joins a connection to a server user code runs on the session's loopback (the
 * container has no other network) with a data-channel stream, for preview URLs. The runner
 * speaks HTTP over the joined pair itself, so requests and responses of any size or duration
 * stream through; the agent only moves bytes.
 */
import { connect, type Socket } from 'node:net';
import type { DataChannel } from './data-channel.ts';
import { AgentError } from './protocol.ts';

function dial(port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => fail(new Error('timed out')), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new AgentError('not_found', `nothing answers on port ${port} in the session`, { port, reason: err.message }));
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/**
 * Pipes two sockets both ways. An end travels across gracefully (pending bytes are flushed
 * first); a failure on either side tears both down.
 */
export function join(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const abort = () => {
    a.destroy();
    b.destroy();
  };
  a.once('error', abort);
  b.once('error', abort);
  a.once('close', () => b.end());
  b.once('close', () => a.end());
}

export async function relayTcp(data: DataChannel, port: number, token: string, connectTimeoutMs: number): Promise<Record<string, never>> {
  const local = await dial(port, connectTimeoutMs);
  let stream: Socket;
  try {
    stream = await data.stream(token);
  } catch (err) {
    local.destroy();
    throw err;
  }
  join(local, stream);
  return {};
}
