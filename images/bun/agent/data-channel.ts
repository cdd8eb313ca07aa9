/**
 * The agent's end of the data channel (core/agent-protocol.ts): bulk bytes — file contents,
 * preview connections, egress connections — travel on connections of their own to the runner's
 * per-session unix socket, never on the JSON control stream. The socket's directory is
 * root-only, so user programs cannot reach it; each connection starts with one header line.
 */
import { connect, type Socket } from 'node:net';
import type { DataHeader } from '../../../core/agent-protocol.ts';
import { AgentError } from './protocol.ts';

const CONNECT_TIMEOUT_MS = 5_000;

export class DataChannel {
  /** @param socketPath the runner's data socket (`BUNTIME_DATA_SOCKET`) */
  constructor(private readonly socketPath: string) {}

  /** Opens a data connection and sends its header; resolves once the runner's end is connected. */
  open(header: DataHeader): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      const timer = setTimeout(() => fail(new Error('timed out')), CONNECT_TIMEOUT_MS);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new AgentError('internal_error', `data channel unreachable: ${err.message}`));
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.write(`${JSON.stringify(header)}\n`);
        resolve(socket);
      });
    });
  }

  /** Opens the data stream the runner named `token` in a request. */
  stream(token: string): Promise<Socket> {
    return this.open({ kind: 'stream', token });
  }
}
