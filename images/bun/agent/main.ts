/**
 * The sandbox agent: main process of a session container (under tini), speaking PROTOCOL.md
 * over stdin/stdout. Composition root: reads its environment, wires the modules, dispatches
 * request lines, and makes sure nothing a request does can take the agent down.
 */
import type { AgentEnvironment, AgentOp, AgentReplyLine } from '../../../core/agent-protocol.ts';
import { log, readLines, send } from './channel.ts';
import { DataChannel } from './data-channel.ts';
import { EgressRelay } from './egress-relay.ts';
import { Executions } from './executions.ts';
import { FileCount } from './file-count.ts';
import { FileOps } from './files.ts';
import { FsClock } from './fs-clock.ts';
import { GidPool } from './gid-pool.ts';
import { handlers, progressOf, type HandlerTable } from './handlers.ts';
import { ChangeWatch } from './change-watch.ts';
import type { UserIdentity } from './launcher.ts';
import { OomCounter, pidsMax } from './cgroup.ts';
import { AgentError, errorReply } from './protocol.ts';
import { Runner } from './run.ts';
import { userEnvironment } from './user-env.ts';
import { WriteTracker } from './write-tracker.ts';

declare const AGENT_VERSION: string;
const VERSION = typeof AGENT_VERSION === 'string' ? AGENT_VERSION : 'dev';

function positiveInt(name: keyof AgentEnvironment): number {
  const n = Number(process.env[name]);
  if (!Number.isSafeInteger(n) || n <= 0) {
    log(`${name} must be a positive integer (got ${JSON.stringify(process.env[name])})`);
    process.exit(2);
  }
  return n;
}

function requiredPath(name: keyof AgentEnvironment): string {
  const v = process.env[name];
  if (!v || !v.startsWith('/')) {
    log(`${name} must be an absolute path (got ${JSON.stringify(v)})`);
    process.exit(2);
  }
  return v;
}

/**
 * After a request line this long (a big file write) the agent collects garbage at once: the
 * line, its string and the decoded content are several copies of the file, and the memory
 * limit counts them (with the file's tmpfs pages) until the collector would get round to it.
 */
const GC_AFTER_CHARS = 8 * 1024 * 1024;

/** Tasks of the container's pids limit that user code can never take; see `identity`. */
const PIDS_HEADROOM = 32;

/**
 * Who user programs run as. RLIMIT_NPROC counts the session uid's processes *and threads*, so
 * keeping it below the container's pids limit leaves room for tini, the launchers and the
 * agent's own threads: Bun aborts when it cannot start a thread, and a fork bomb would
 * otherwise take every last pid.
 */
function identity(): UserIdentity {
  const pids = pidsMax();
  const reserve = pids === undefined ? 0 : Math.min(PIDS_HEADROOM, Math.floor(pids / 2));
  const nproc = Math.min(positiveInt('BUNTIME_NPROC'), pids === undefined ? Infinity : pids - reserve);
  return { uid: positiveInt('BUNTIME_UID'), nproc, fsizeBytes: positiveInt('BUNTIME_FSIZE') };
}

/** Keeps the agent alive through anything: a stray exception is logged, never fatal. */
function harden(): void {
  process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`unhandled rejection: ${String(err)}`));
  // The container's RLIMIT_FSIZE applies to the agent too; a write past it must fail with
  // EFBIG (reported as disk_full), not kill the agent with SIGXFSZ.
  process.on('SIGXFSZ', () => {});
  process.on('SIGPIPE', () => {});
}

type Fields = Record<string, unknown>;

/** Parses one line; garbage without a usable id is ignored, as the protocol says. */
function parse(line: string): { id: string; op: unknown; req: Fields } | { id?: string; error: string } | undefined {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return line.trim() === '' ? undefined : { error: 'request is not JSON' };
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return { error: 'request is not an object' };
  const id = (req as Fields).id;
  if (typeof id !== 'string' || id === '') return { error: 'request has no string id' };
  return { id, op: (req as Fields).op, req: req as Fields };
}

/** Runs one request's handler and sends its final reply (`type` = the op) or its error. */
async function handle(table: HandlerTable, op: AgentOp, id: string, req: Fields): Promise<void> {
  const handler = table[op] as (req: Fields, ctx: { id: string; progress: ReturnType<typeof progressOf> }) => unknown;
  try {
    const reply = await handler(req, { id, progress: progressOf(id) });
    send({ ...(reply as object), id, type: op } as AgentReplyLine);
  } catch (err) {
    send(errorReply(id, err));
  }
}

function main(): void {
  harden();
  const user = identity();
  const files = new FileOps(user.uid);
  const executions = new Executions(user.uid);
  const changes = new ChangeWatch(user.uid);
  changes.start();
  const writes = new WriteTracker(new FsClock('/run/buntime/.clock'), changes);
  const env = userEnvironment({ registry: process.env.BUNTIME_NPM_REGISTRY satisfies AgentEnvironment['BUNTIME_NPM_REGISTRY'] });
  const runner = new Runner({ files, executions, user, writes, gids: new GidPool(), oom: new OomCounter(), env });
  const data = new DataChannel(requiredPath('BUNTIME_DATA_SOCKET'));
  // Started before the first request line is read, so it listens before any program runs.
  new EgressRelay(data).start().catch((err: unknown) => log(`egress relay: ${String(err)}`));
  const table = handlers({
    version: VERSION, uid: user.uid, files, executions, runner, writes, data,
    fileCount: new FileCount(user.uid, changes),
  });
  let inFlight = 0;
  let eof = false;

  const dispatch = (line: string) => {
    const p = parse(line);
    if (p === undefined) return;
    if (!('op' in p)) {
      if (p.id !== undefined) send(errorReply(p.id, new AgentError('invalid_request', p.error)));
      else log(`ignored a request line: ${p.error}`);
      return;
    }
    if (typeof p.op !== 'string' || !Object.hasOwn(table, p.op)) {
      send(errorReply(p.id, new AgentError('invalid_request', `unknown op ${JSON.stringify(p.op)}`, { field: 'op' })));
      return;
    }
    inFlight++;
    const big = line.length > GC_AFTER_CHARS;
    void handle(table, p.op as AgentOp, p.id, p.req).finally(() => {
      inFlight--;
      if (eof && inFlight === 0) void shutdown(executions);
      if (big) setImmediate(() => Bun.gc(true));
    });
  };

  readLines(dispatch).then(() => {
    // Docker keeps stdin open for the container's life; EOF means the agent is used through a
    // plain pipe (tests, debugging): finish what is running, then leave nothing behind.
    eof = true;
    if (inFlight === 0) void shutdown(executions);
  }, (err: unknown) => log(`stdin: ${String(err)}`));
}

async function shutdown(executions: Executions): Promise<void> {
  await executions.killEverything();
  process.exit(0);
}

main();
