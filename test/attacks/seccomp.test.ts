import { readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { defaultSeccompProfile, loadConfig } from '../../core/config.ts';
import { newClient, ownService } from '../support/harness.ts';

/**
 * The project's seccomp profile (images/seccomp/) holds against user code that calls the kernel
 * directly: `syscall(2)` from libc through bun:ffi, errno read through `__errno_location`. Each
 * blocked call must fail with EPERM (the profile's default) or ENOSYS (clone3). Where the
 * comment names another errno, that is what the kernel itself would answer for these arguments,
 * so EPERM there is the filter's doing. The same holds under gVisor for a representative few.
 */
const docker = new Docker({ socketPath: loadConfig().DOCKER_SOCKET });
const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;
const CLONE_FS = 0x200;
const AF_UNIX = 1;
const AF_VSOCK = 40;
const SOCK_STREAM = 1;

/** x86_64 syscall numbers and arguments. */
const BLOCKED: Record<string, number[]> = {
  io_uring_setup: [425, 1, 0], // EFAULT
  io_uring_enter: [426, -1, 0, 0, 0, 0, 0], // EBADF
  io_uring_register: [427, -1, 0, 0, 0], // EBADF
  userfaultfd: [323, 0],
  bpf: [321, 9999, 0, 0],
  perf_event_open: [298, 0, 0, -1, -1, 0], // EFAULT
  keyctl: [250, 9999], // EOPNOTSUPP
  add_key: [248, 0, 0, 0, 0, 0], // EFAULT
  request_key: [249, 0, 0, 0, 0], // EFAULT
  unshare: [272, CLONE_NEWUSER], // allowed to anyone on Debian
  setns: [308, -1, 0], // EBADF
  clone: [56, CLONE_NEWUSER | CLONE_FS, 0, 0, 0, 0], // EINVAL (the pair is invalid, so nothing forks)
  clone3: [435, 0, 0], // EINVAL
  mount: [165, 0, 0, 0, 0, 0], // EFAULT
  umount2: [166, 0, 0xffff], // EINVAL
  pivot_root: [155, 0, 0],
  move_mount: [429, -1, 0, -1, 0, 0],
  fsopen: [430, 0, 0],
  fsmount: [432, -1, 0, 0],
  fspick: [433, -1, 0, 0],
  open_tree: [428, -1, 0, 0], // EFAULT
  kexec_load: [246, 0, 0, 0, 0],
  kexec_file_load: [320, -1, -1, 0, 0, 0],
  init_module: [175, 0, 0, 0],
  finit_module: [313, -1, 0, 0],
  delete_module: [176, 0, 0],
};
const SOCKETS: Record<string, number[]> = {
  socket_vsock: [41, AF_VSOCK, SOCK_STREAM, 0], // a descriptor or EAFNOSUPPORT without the filter
  socket_unix: [41, AF_UNIX, SOCK_STREAM, 0],
};

type Outcome = { ret: number; errno: number };

/** User code that makes each call and prints `{name: {ret, errno}}` as JSON. */
function probe(calls: Record<string, number[]>): string {
  return `
    import { dlopen, read } from 'bun:ffi';
    const libc = dlopen('/lib/x86_64-linux-gnu/libc.so.6', {
      syscall: { args: ['i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64'], returns: 'i64' },
      __errno_location: { args: [], returns: 'ptr' },
    });
    const out = {};
    for (const [name, args] of Object.entries(${JSON.stringify(calls)})) {
      const ret = Number(libc.symbols.syscall(...[...args, 0, 0, 0, 0, 0, 0].slice(0, 7)));
      out[name] = { ret, errno: ret === -1 ? read.i32(libc.symbols.__errno_location(), 0) : 0 };
    }
    console.log(JSON.stringify(out));`;
}

async function run(client: Buntime, sessionId: string, calls: Record<string, number[]>): Promise<Record<string, Outcome>> {
  const r = await client.execute({ sessionId, code: probe(calls) });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout) as Record<string, Outcome>;
}

/** Bun's own use of the kernel: files, a child process, a local server and fetch, a worker thread. */
async function bunWorks(client: Buntime, sessionId: string): Promise<void> {
  const r = await client.execute({
    sessionId,
    files: [{ path: 'worker.ts', content: 'postMessage(6 * 7);\n' }],
    code: `
      await Bun.write('big.txt', 'x'.repeat(1 << 20));
      const text = await Bun.file('big.txt').text();
      const child = Bun.spawn(['sh', '-c', 'wc -c < big.txt'], { stdout: 'pipe' });
      const wc = (await new Response(child.stdout).text()).trim();
      await child.exited;
      const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('pong') });
      const pong = await (await fetch('http://127.0.0.1:' + server.port + '/')).text();
      server.stop(true);
      const worker = new Worker('/workspace/worker.ts');
      const answer = await new Promise((resolve) => { worker.onmessage = (e) => resolve(e.data); });
      worker.terminate();
      console.log(JSON.stringify({ length: text.length, wc, pong, answer }));`,
  });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ length: 1 << 20, wc: String(1 << 20), pong: 'pong', answer: 42 });
}

async function securityOpt(sessionId: string): Promise<{ runtime: string; opts: string[] }> {
  const [c] = await docker.listContainers({ filters: { label: [`buntime.session=${sessionId}`] } });
  const info = await docker.getContainer(c!.Id).inspect();
  return { runtime: info.HostConfig.Runtime ?? '', opts: info.HostConfig.SecurityOpt ?? [] };
}

function shippedProfile(runtime: string): unknown {
  return JSON.parse(readFileSync(defaultSeccompProfile(runtime), 'utf8'));
}

function seccompOf(opts: string[]): unknown {
  const opt = opts.find((o) => o.startsWith('seccomp='));
  return opt ? JSON.parse(opt.slice('seccomp='.length)) : undefined;
}

describe('seccomp under runc', () => {
  let client: Buntime;
  let cleanup: () => Promise<void>;
  let sessionId: string;

  beforeAll(async () => {
    expect(process.arch, 'the probes use x86_64 syscall numbers').toBe('x64');
    ({ client, cleanup } = await newClient('free'));
    sessionId = (await client.sessions.create()).id;
  });
  afterAll(() => cleanup());

  it('applies the project\'s profile to the session container', async () => {
    const { opts } = await securityOpt(sessionId);
    expect(opts).toContain('no-new-privileges');
    expect(seccompOf(opts)).toEqual(shippedProfile('runc'));
  });

  it('refuses every removed syscall with EPERM or ENOSYS', async () => {
    const out = await run(client, sessionId, BLOCKED);
    for (const name of Object.keys(BLOCKED)) {
      expect(out[name], name).toMatchObject({ ret: -1 });
      expect([EPERM, ENOSYS], `${name}: errno ${out[name]!.errno}`).toContain(out[name]!.errno);
    }
    expect(out.clone3!.errno).toBe(ENOSYS);
  });

  it('refuses AF_VSOCK sockets and allows AF_UNIX ones', async () => {
    const out = await run(client, sessionId, SOCKETS);
    expect(out.socket_vsock).toEqual({ ret: -1, errno: EPERM });
    expect(out.socket_unix!.ret).toBeGreaterThanOrEqual(0);
  });

  it('leaves Bun working: files, spawn, a local server, fetch, workers', async () => {
    await bunWorks(client, sessionId);
  });
});

describe('seccomp under gVisor', () => {
  let service: Awaited<ReturnType<typeof ownService>> | undefined;
  let client: Buntime;
  let sessionId: string;

  beforeAll(async () => {
    const runsc = (await docker.info()).Runtimes?.runsc as { runtimeArgs?: string[] } | undefined;
    expect(runsc, 'the engine must have the runsc runtime registered').toBeDefined();
    expect(runsc?.runtimeArgs ?? [], 'runsc must be registered with --oci-seccomp (scripts/bootstrap.sh)').toContain('--oci-seccomp');
    service = await ownService('seccomp', { SANDBOX_RUNTIME: 'runsc', WARM_POOL_SIZE: '0' });
    client = await service.client('free');
    sessionId = (await client.sessions.create()).id;
  });
  afterAll(async () => {
    await client?.sessions.delete(sessionId).catch(() => {});
    await service?.stop();
  });

  it('applies gVisor\'s variant of the profile', async () => {
    const { runtime, opts } = await securityOpt(sessionId);
    expect(runtime).toBe('runsc');
    expect(seccompOf(opts)).toEqual(shippedProfile('runsc'));
    const r = await client.execute({ sessionId, command: 'grep Seccomp: /proc/self/status' });
    expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
  });

  it('refuses what gVisor alone would allow or answer otherwise', async () => {
    const out = await run(client, sessionId, {
      // Without the filter gVisor answers EFAULT, lets the user namespace be made, and says
      // EAFNOSUPPORT for vsock.
      io_uring_setup: BLOCKED.io_uring_setup!, unshare: BLOCKED.unshare!, socket_vsock: SOCKETS.socket_vsock!,
      keyctl: BLOCKED.keyctl!, mount: BLOCKED.mount!, bpf: BLOCKED.bpf!, clone: BLOCKED.clone!, clone3: BLOCKED.clone3!,
      socket_unix: SOCKETS.socket_unix!,
    });
    for (const name of ['io_uring_setup', 'unshare', 'socket_vsock', 'keyctl', 'mount', 'bpf', 'clone']) {
      expect(out[name], name).toEqual({ ret: -1, errno: EPERM });
    }
    expect(out.clone3).toEqual({ ret: -1, errno: ENOSYS });
    expect(out.socket_unix!.ret).toBeGreaterThanOrEqual(0);
  });

  it('leaves Bun working', async () => {
    await bunWorks(client, sessionId);
  });
});
