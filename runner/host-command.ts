import { execFile } from 'node:child_process';
import type { Logger } from '../core/logger.ts';

/** A host tool that failed: its name, exit code or signal, and what it said on stderr. */
export class HostCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
    cause?: unknown,
  ) {
    super(`${command} failed (${exitCode ?? 'signal'}): ${stderr.trim().slice(0, 500)}`, { cause });
    this.name = 'HostCommandError';
  }
}

/** Milliseconds each host tool took recently: p50/p95 per tool name, for logs and metrics. */
export class CommandTimings {
  private readonly samples = new Map<string, number[]>();

  constructor(private readonly keep = 256) {}

  record(name: string, ms: number): void {
    const list = this.samples.get(name) ?? [];
    list.push(ms);
    if (list.length > this.keep) list.shift();
    this.samples.set(name, list);
  }

  /** `{ tool: { count, p50Ms, p95Ms } }` over the samples kept. */
  summary(): Record<string, { count: number; p50Ms: number; p95Ms: number }> {
    const out: Record<string, { count: number; p50Ms: number; p95Ms: number }> = {};
    for (const [name, list] of this.samples) {
      const sorted = [...list].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      out[name] = { count: sorted.length, p50Ms: round(at(0.5)), p95Ms: round(at(0.95)) };
    }
    return out;
  }
}

// A fixed, minimal environment: the tools' messages stay in English (we match on them) and
// nothing of the runner's environment (secrets included) reaches them.
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

/**
 * Runs host tools with `execFile` (never a shell string), each with a deadline, timing every
 * call. Resolves with stdout; rejects with a {@link HostCommandError}.
 */
export class HostCommands {
  readonly timings = new CommandTimings();

  constructor(private readonly log: Logger) {}

  /** Runs `command args…`; `timeoutMs` (default 30 s) kills it with SIGKILL when passed. */
  run(command: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      execFile(command, args, { env: ENV, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 },
        (err, stdout, stderr) => {
          const ms = performance.now() - started;
          this.timings.record(command, ms);
          this.log.debug({ command, args, ms: round(ms), ok: !err }, 'host command');
          if (!err) return resolve(stdout);
          const code = typeof err.code === 'number' ? err.code : null;
          reject(new HostCommandError(command, stderr || err.message, code, err));
        });
    });
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
