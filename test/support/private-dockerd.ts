import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;

/**
 * A Docker engine of a test's own, for tests that restart an engine (a simulated host reboot)
 * without touching the shared one other tests run on: its own data root, exec root (and so its
 * own containerd), pidfile and unix socket under a temp directory, its own containerd namespace
 * and cgroup parent, and no network of its own (`--bridge=none --iptables=false --ip-masq=false`).
 * Its images come from the shared engine (`docker save` into `docker load`), never a registry.
 */
export class PrivateDockerd {
  private child: ChildProcess | undefined;
  readonly docker: Docker;

  private constructor(readonly dir: string) {
    this.docker = new Docker({ socketPath: this.socket });
  }

  /** The engine's unix socket (for `DOCKER_SOCKET`). */
  get socket(): string {
    return join(this.dir, 'docker.sock');
  }

  static async start(): Promise<PrivateDockerd> {
    // A short path: unix socket paths (containerd's among them) are limited to 108 bytes.
    const d = new PrivateDockerd(mkdtempSync('/tmp/btd-'));
    writeFileSync(join(d.dir, 'daemon.json'), '{}\n');
    await d.launch();
    return d;
  }

  /** Copies an image from the shared engine into this one. */
  async loadImage(tag: string, from = new Docker({ socketPath: '/var/run/docker.sock' })): Promise<void> {
    const tar = await from.getImage(tag).get();
    const out = await this.docker.loadImage(tar as unknown as NodeJS.ReadableStream);
    await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(out, (err) => (err ? reject(err) : resolve())));
  }

  /** Stops the engine as a shutdown would (its containers stop with it) and starts it again. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** SIGTERM, then waits until the engine has exited (its containers are stopped by then). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** Removes every container, stops the engine and deletes its directory. */
  async close(): Promise<void> {
    if (this.child) {
      for (const c of await this.docker.listContainers({ all: true }).catch(() => [])) {
        await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
      }
    }
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    // The (empty) cgroups its containers lived under.
    for (const controller of readdirSync('/sys/fs/cgroup')) {
      try {
        rmdirSync(join('/sys/fs/cgroup', controller, this.namespace));
      } catch {
        // absent, or not a directory of ours
      }
    }
  }

  private get namespace(): string {
    return `buntime-test-${this.dir.slice(-6)}`;
  }

  private async launch(): Promise<void> {
    const ns = this.namespace;
    const args = [
      '--data-root', join(this.dir, 'data'), '--exec-root', join(this.dir, 'exec'), '--pidfile', join(this.dir, 'docker.pid'),
      '--host', `unix://${this.socket}`, '--config-file', join(this.dir, 'daemon.json'),
      '--bridge=none', '--iptables=false', '--ip-masq=false', '--ip6tables=false',
      '--containerd-namespace', ns, '--containerd-plugins-namespace', `${ns}-plugins`, '--cgroup-parent', ns,
      '--log-level', 'warn',
    ];
    const child = spawn('dockerd', args, { stdio: 'ignore' });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`cannot start dockerd: ${err.message}`)));
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}`);
      if (await this.docker.ping().then(() => true, () => false)) return;
      if (Date.now() > deadline) throw new Error('dockerd did not come up in time');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
