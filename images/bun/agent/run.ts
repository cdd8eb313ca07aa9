/**
 * The `run` op: write the request's files, start the program through the launcher under a
 * fresh gid, stream and cap its output, enforce the timeout, and once it ends kill whatever it
 * left, then answer with the result (PROTOCOL.md). Background runs answer at once and finish
 * the same way unobserved.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRequest, RunResult } from '../../../core/agent-protocol.ts';
import { log, send } from './channel.ts';
import type { Execution, Executions } from './executions.ts';
import type { FileOps } from './files.ts';
import type { GidPool } from './gid-pool.ts';
import { launch, type Launched, type UserIdentity } from './launcher.ts';
import type { OomCounter } from './cgroup.ts';
import { OutputCollector } from './output.ts';
import { AgentError, decodeFiles } from './protocol.ts';
import { resultOf } from './result.ts';
import type { WriteTracker } from './write-tracker.ts';

/** Sources up to this size go on the command line (one argv string may hold 128 KiB). */
const MAX_INLINE_SOURCE = 64 * 1024;
/** After the last process is gone, how long a pipe smuggled to another process may stay open. */
const PIPE_GRACE_MS = 200;

/** One run as the agent handles it: the request, the id its replies carry, foreground or not. */
interface RunJob {
  id: string;
  req: RunRequest;
  background: boolean;
}

export interface RunDeps {
  files: FileOps;
  gids: GidPool;
  executions: Executions;
  writes: WriteTracker;
  oom: OomCounter;
  user: UserIdentity;
  /** Base environment of user programs (`userEnvironment`); a run's own `env` overrides it. */
  env: Readonly<Record<string, string>>;
}

/** What a run prepared before its program starts. */
interface Prepared {
  cwd: string;
  argv: string[];
  written: string[];
  /** Temporary source file (relative path), removed when the run is over. */
  tempSource?: { rel: string; abs: string };
}

export class Runner {
  constructor(private readonly deps: RunDeps) {}

  /** Runs a program to its end; `out` progress replies go out through `send` while it runs. */
  async run(id: string, req: RunRequest): Promise<RunResult> {
    const started = await this.start({ id, req, background: false });
    const { exec, launched, prep, t0, writeSpan, oomBefore } = started;
    // The runner's host-side timeout backstop needs the gid to find this execution's processes.
    send({ id, type: 'started', pid: launched.pid, gid: exec.gid });
    const result = await this.foreground(started.job, exec, launched, prep, t0);
    const oomDelta = (this.deps.oom.read() ?? 0) - (oomBefore ?? 0);
    const exclude = new Set(prep.tempSource ? [prep.tempSource.rel] : []);
    return {
      ...resultOf(result.report, exec.killedBy, oomDelta > 0),
      stdout: result.stdout.text(),
      stderr: result.stderr.text(),
      stdoutTruncated: result.stdout.truncated,
      stderrTruncated: result.stderr.truncated,
      executionTime: Math.round(result.wallMs),
      filesWritten: await this.deps.writes.written(writeSpan, prep.written, exclude),
    };
  }

  /** Starts a program in the background: answers its pid at once, settles it unobserved. */
  async spawn(id: string, req: RunRequest): Promise<{ pid: number }> {
    const { exec, launched, prep } = await this.start({ id, req, background: true });
    void this.settle(exec, launched, prep);
    return { pid: launched.pid };
  }

  private async start(job: RunJob) {
    const prep = this.prepare(job.req);
    const gid = this.deps.gids.acquire();
    const writeSpan = this.deps.writes.begin();
    const oomBefore = this.deps.oom.read();
    const t0 = performance.now();
    let launched: Launched;
    try {
      launched = await launch(this.spec(job, prep, gid), this.deps.user);
    } catch (err) {
      this.deps.gids.release(gid);
      removeTemp(prep);
      throw new AgentError('internal_error', `cannot start the program: ${(err as Error).message}`);
    }
    const exec: Execution = {
      execId: job.req.execId, gid, pid: launched.pid, command: display(job.req), startedAt: new Date(), exited: false,
      background: job.background,
    };
    this.deps.executions.add(exec);
    return { job, exec, launched, prep, t0, writeSpan, oomBefore };
  }

  private prepare(req: RunRequest): Prepared {
    const cwd = this.deps.files.ensureDir(req.cwd, true);
    const written = decodeFiles(req.files).map((f) => this.deps.files.write(f.path, f.data, req.maxFileBytes).path);
    if (req.kind === 'command') return { cwd: cwd.abs, argv: ['/bin/sh', '-c', req.source], written };
    if (Buffer.byteLength(req.source) <= MAX_INLINE_SOURCE) {
      return { cwd: cwd.abs, argv: [process.execPath, '-e', req.source], written };
    }
    const name = `.buntime-src-${req.execId.replace(/[^\w-]/g, '_')}.ts`;
    const rel = cwd.rel ? `${cwd.rel}/${name}` : name;
    this.deps.files.write(rel, Buffer.from(req.source), Number.MAX_SAFE_INTEGER);
    const abs = join(cwd.abs, name);
    return { cwd: cwd.abs, argv: [process.execPath, 'run', abs], written, tempSource: { rel, abs } };
  }

  private spec(job: RunJob, prep: Prepared, gid: number) {
    return {
      argv: prep.argv, cwd: prep.cwd, env: { ...this.deps.env, ...job.req.env }, gid,
      stdin: job.background ? null : job.req.stdin, capture: !job.background,
    };
  }

  private async foreground(job: RunJob, exec: Execution, launched: Launched, prep: Prepared, t0: number) {
    const { req } = job;
    const onText = (stream: 'stdout' | 'stderr') =>
      req.stream ? (data: string) => send({ id: job.id, type: 'out', stream, data }) : undefined;
    const stdout = new OutputCollector(req.maxOutputBytes, onText('stdout'));
    const stderr = new OutputCollector(req.maxOutputBytes, onText('stderr'));
    let stopReading!: () => void;
    const cancel = new Promise<void>((resolve) => (stopReading = resolve));
    const drained = Promise.all([
      launched.stdout && stdout.drain(launched.stdout, cancel),
      launched.stderr && stderr.drain(launched.stderr, cancel),
    ]);
    const timer = setTimeout(() => void this.deps.executions.kill(exec, 'timeout'), req.timeoutMs);
    const report = await launched.exit.catch((err: unknown) => err as Error);
    clearTimeout(timer);
    const wallMs = performance.now() - t0;
    await this.settle(exec, launched, prep);
    const grace = setTimeout(stopReading, PIPE_GRACE_MS);
    await drained;
    clearTimeout(grace);
    if (report instanceof Error) throw new AgentError('internal_error', `lost track of the program: ${report.message}`);
    return { report, stdout, stderr, wallMs };
  }

  /**
   * Ends an execution: once its root process exits, kills whatever it left behind, waits until
   * the launcher confirms nothing is alive, then gives the gid back.
   */
  private async settle(exec: Execution, launched: Launched, prep: Prepared): Promise<void> {
    try {
      const r = await launched.exit;
      exec.exited = true;
      if (r.left) await this.deps.executions.kill(exec);
      await launched.done;
    } catch (err) {
      log(`execution ${exec.execId}: ${(err as Error).message}`);
      // The launcher vanished without its report: nothing may outlive it carrying this gid.
      await this.deps.executions.kill(exec);
    } finally {
      exec.exited = true;
      this.deps.writes.touch();
      this.deps.executions.remove(exec);
      this.deps.gids.release(exec.gid);
      removeTemp(prep);
    }
  }
}

function removeTemp(prep: Prepared): void {
  if (prep.tempSource) rmSync(prep.tempSource.abs, { force: true });
}

function display(req: RunRequest): string {
  const text = req.kind === 'command' ? req.source : `bun -e ${req.source}`;
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
