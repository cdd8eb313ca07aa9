/**
 * Starts one program through the static launcher (images/bun/launcher.c) and follows its
 * reports on fd 3: the program's pid at once, its exit and rusage when it ends, then EOF once
 * nothing the program started is alive. Spawning is retried briefly on EAGAIN, because right
 * after a fork bomb the container's pids limit may still be exhausted.
 */
import { closeSync } from 'node:fs';
import type { Subprocess } from 'bun';

export const LAUNCHER = '/opt/buntime/launcher';

const SPAWN_RETRY_MS = 3000;
const SPAWN_RETRY_STEP_MS = 10;

export interface UserIdentity {
  uid: number;
  nproc: number;
  fsizeBytes: number;
}

export interface LaunchSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  gid: number;
  /** Text for the program's stdin; null gives it an empty stdin. */
  stdin: string | null;
  /** false sends stdout and stderr to /dev/null (background runs). */
  capture: boolean;
}

/** The launcher's second report. */
export interface ExitReport {
  exit: number | null;
  signal: number | null;
  utime_us: number;
  stime_us: number;
  maxrss_kb: number;
  /** Something the program started was still alive when it ended. */
  left: boolean;
}

export interface Launched {
  pid: number;
  stdout: ReadableStream<Uint8Array> | null;
  stderr: ReadableStream<Uint8Array> | null;
  exit: Promise<ExitReport>;
  /** Resolves when the launcher is gone: no process of the execution is left. */
  done: Promise<void>;
}

export async function launch(spec: LaunchSpec, user: UserIdentity): Promise<Launched> {
  const proc = await spawnWithRetry(spec, user);
  const reports = readReports(proc.stdio[3] as number);
  const first = await reports.next();
  if (first.done || typeof first.value.pid !== 'number') {
    const code = await proc.exited;
    const why = proc.stderr instanceof ReadableStream ? (await new Response(proc.stderr).text()).trim() : '';
    throw new Error(`the launcher failed (exit ${code})${why ? `: ${why}` : ''}`);
  }
  const exit = reports.next().then((r) => {
    if (r.done) throw new Error('the launcher ended without an exit report');
    return r.value as unknown as ExitReport;
  });
  const done = exit.then(() => reports.next()).then(() => undefined, () => undefined);
  return { pid: first.value.pid, stdout: stream(proc.stdout), stderr: stream(proc.stderr), exit, done };
}

function stream(s: unknown): ReadableStream<Uint8Array> | null {
  return s instanceof ReadableStream ? (s as ReadableStream<Uint8Array>) : null;
}

function spawnOnce(spec: LaunchSpec, user: UserIdentity): Subprocess {
  const out = spec.capture ? 'pipe' : 'ignore';
  const stdin = spec.stdin ? Buffer.from(spec.stdin, 'utf8') : 'ignore';
  const args = [String(user.uid), String(spec.gid), String(user.nproc), String(user.fsizeBytes), '--'];
  return Bun.spawn([LAUNCHER, ...args, ...spec.argv], {
    cwd: spec.cwd,
    env: spec.env,
    stdio: [stdin, out, out, 'pipe'],
  });
}

function isTransient(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return e.code === 'EAGAIN' || e.code === 'ENOMEM' || /EAGAIN|temporarily unavailable/i.test(e.message ?? '');
}

async function spawnWithRetry(spec: LaunchSpec, user: UserIdentity): Promise<Subprocess> {
  const deadline = Date.now() + SPAWN_RETRY_MS;
  for (;;) {
    try {
      return spawnOnce(spec, user);
    } catch (err) {
      if (!isTransient(err) || Date.now() > deadline) throw err;
      await Bun.sleep(SPAWN_RETRY_STEP_MS);
    }
  }
}

/** The JSON lines the launcher writes on fd 3; closes the fd at EOF. */
async function* readReports(fd: number): AsyncGenerator<Record<string, number | boolean | null>> {
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for await (const chunk of Bun.file(fd).stream()) {
      pending += decoder.decode(chunk, { stream: true });
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        yield JSON.parse(line) as Record<string, number | boolean | null>;
      }
    }
  } finally {
    closeSync(fd);
  }
}
