import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Log } from './log.ts';
import { createConnection, type ConnectionOptions } from './server.ts';

/**
 * Serves one MCP connection over stdin/stdout. The connection ends when stdin closes (the
 * client went away) or on SIGTERM/SIGINT/SIGHUP: its session is deleted (unless kept), then the
 * process exits. `exit` is injectable for tests of the shutdown order.
 */
export async function serveStdio(o: ConnectionOptions, log: Log, exit: (code: number) => void = process.exit): Promise<void> {
  const { server, lease } = createConnection(o);
  let ending: Promise<void> | undefined;
  const end = (why: string) => {
    ending ??= (async () => {
      const released = await lease.release();
      if (released) log(`${why}: session ${released.sessionId} ${o.keepSession ? 'kept' : 'deleted'}`);
      await server.close().catch(() => {});
      exit(0);
    })();
    return ending;
  };
  process.stdin.once('end', () => void end('client disconnected'));
  process.stdin.once('close', () => void end('client disconnected'));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => void end(signal));
  await server.connect(new StdioServerTransport());
}
