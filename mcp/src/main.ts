import { Buntime } from '@buntime/sdk';
import { parseCommand } from './config.ts';
import { serveHttp } from './http-server.ts';
import { stderrLog } from './log.ts';
import { serveStdio } from './stdio-server.ts';

/** Composition root of `buntime-mcp`: arguments and environment, the API client, one transport. */
async function main(): Promise<void> {
  let command;
  try {
    command = parseCommand(process.argv.slice(2), process.env);
  } catch (err) {
    stderrLog(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
  if (command.kind === 'help') {
    process.stdout.write(`${command.text}\n`);
    return;
  }
  const cfg = command.config;
  const client = new Buntime({ apiKey: cfg.apiKey, baseUrl: cfg.baseUrl, maxRetries: 2 });
  const connection = { client, ttlSec: cfg.ttlSec, keepSession: cfg.keepSession };
  if (!cfg.http) return serveStdio(connection, stderrLog);
  const server = await serveHttp({ ...connection, http: cfg.http, log: stderrLog });
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();
