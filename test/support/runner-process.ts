import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A runner in a process of its own, for fault tests that must kill it for real (`kill -9`: no
 * shutdown, its heartbeat left to lapse, its jobs and channels dropped mid-flight).
 */
export class RunnerProcess {
  private constructor(private readonly child: ChildProcess, readonly log: string[]) {}

  /** Starts `runner/main.ts` with `env`; resolves once it logs that it is ready. */
  static async start(env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<RunnerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'runner/main.ts'], {
      cwd: ROOT, env: { ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: string[] = [];
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`runner not ready in ${timeoutMs} ms:\n${log.slice(-20).join('\n')}`)), timeoutMs);
      const onLine = (line: string) => {
        log.push(line);
        if (line.includes('"msg":"runner ready"')) {
          clearTimeout(timer);
          resolve();
        }
      };
      let buf = '';
      child.stdout!.on('data', (c: Buffer) => {
        buf += c.toString();
        for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
          onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      });
      child.stderr!.on('data', (c: Buffer) => log.push(c.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`runner exited (${code}) before it was ready:\n${log.slice(-20).join('\n')}`));
      });
    });
    await ready;
    return new RunnerProcess(child, log);
  }

  /** `kill -9`: the process ends at once, with nothing cleaned up. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: the runner's own ordered shutdown. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(sig);
    await exited;
  }
}
