import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CONF = new URL('../../config/redis.conf', import.meta.url).pathname;
const READY_TIMEOUT_MS = 15_000;

/**
 * A `redis-server` of a test's own, with the project's settings (config/redis.conf), on a free
 * loopback port and its own temp directory, for tests that restart, crash or freeze Redis
 * without touching the suite's. `extraArgs` override settings (e.g. `--appendonly no`).
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly extraArgs: string[],
  ) {}

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(extraArgs: string[] = []): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), mkdtempSync(join(tmpdir(), 'buntime-redis-')), extraArgs);
    await r.launch();
    return r;
  }

  /** Starts it again on the same port and directory (after a shutdown or a crash), or restarts it gracefully. */
  async restart(): Promise<void> {
    if (this.child) await this.shutdown();
    await this.launch();
  }

  /** `SHUTDOWN`: Redis flushes the append-only file and exits. */
  async shutdown(): Promise<void> {
    const exited = this.exited();
    await command(this.port, 'SHUTDOWN').catch(() => {});
    await exited;
  }

  /** `kill -9`: whatever the append-only file holds is all that survives. */
  async kill9(): Promise<void> {
    const exited = this.exited();
    this.child?.kill('SIGKILL');
    await exited;
  }

  /** `kill -STOP`: Redis keeps its connections open and answers nothing until {@link cont}. */
  stop(): void {
    this.child?.kill('SIGSTOP');
  }

  cont(): void {
    this.child?.kill('SIGCONT');
  }

  /** Kills it (SIGCONT first, in case it is stopped) and removes its directory. */
  async close(): Promise<void> {
    this.cont();
    await this.kill9();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const args = [CONF, '--bind', '127.0.0.1', '--port', String(this.port), '--dir', this.dir,
      '--logfile', join(this.dir, 'redis.log'), ...this.extraArgs];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    child.once('exit', () => { if (this.child === child) this.child = undefined; });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`cannot start redis-server (apt-get install redis-server): ${err.message}`)));
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    // PING answers -LOADING while the append-only file is read back.
    while ((await command(this.port, 'PING').catch(() => '')) !== '+PONG') {
      if (!this.child || Date.now() > deadline) throw new Error(`private redis-server did not come up; see ${this.dir}/redis.log`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private exited(): Promise<void> {
    const child = this.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }
}

/** Sends one inline command and resolves with the first line of the answer. */
function command(port: number, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setTimeout(2_000, () => socket.destroy(new Error('timeout')));
    socket.on('connect', () => socket.write(`${cmd}\r\n`));
    socket.on('data', (d) => {
      answer += d.toString('latin1');
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.split('\r\n')[0]!);
      }
    });
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      server.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
