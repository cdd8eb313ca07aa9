/**
 * Measures the workspace store on this host (root, real loop devices): create+mount, mount of an
 * existing image, unmount, remove, a live copy of a workspace holding 100 MB (and how long a
 * writer in it is held), and direct I/O on the loop device against buffered.
 *
 *   npx tsx scripts/bench-workspaces.ts [rounds=30]
 */
import { open, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../core/logger.ts';
import { WorkspaceStore } from '../runner/workspace-store.ts';

const rounds = Number(process.argv[2] ?? 30);
const log = createLogger('warn');
const MB = 1024 * 1024;

function p50(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${fmt(s[Math.floor(s.length / 2)] ?? 0)} ms, p95 ${fmt(s[Math.floor(s.length * 0.95)] ?? 0)} ms (n=${s.length})`;
}
const fmt = (ms: number) => ms.toFixed(1);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function cachedMb(): Promise<number> {
  const m = /^Cached:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** Writes `mb` MB of random-ish data into `file` and fsyncs it; ms. */
async function fill(file: string, mb: number): Promise<number> {
  const chunk = Buffer.alloc(MB);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
  const t = performance.now();
  const fh = await open(file, 'w');
  for (let i = 0; i < mb; i++) await fh.write(chunk);
  await fh.sync();
  await fh.close();
  return performance.now() - t;
}

async function lifecycle(store: WorkspaceStore, diskMb: number): Promise<void> {
  const create: number[] = [], unmount: number[] = [], mount: number[] = [], again: number[] = [], remove: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const id = `ses_bench${diskMb}_${i}`;
    create.push(await timed(() => store.create(id, { diskMb, uid: 250_000 + i })));
    again.push(await timed(() => store.mount(id)));
    unmount.push(await timed(() => store.unmount(id)));
    mount.push(await timed(() => store.mount(id)));
    remove.push(await timed(() => store.remove(id)));
  }
  console.log(`quota ${diskMb} MB`);
  console.log(`  create+mount          ${p50(create)}`);
  console.log(`  mount (mounted)       ${p50(again)}`);
  console.log(`  unmount+detach        ${p50(unmount)}`);
  console.log(`  mount (image only)    ${p50(mount)}`);
  console.log(`  remove                ${p50(remove)}`);
}

/** Copies a live 1 GB workspace holding 100 MB while a writer appends 4 KiB at a time. */
async function liveCopy(store: WorkspaceStore, label: string): Promise<void> {
  const src = await store.create('ses_copysrc', { diskMb: 1024, uid: 260_000 });
  const cached0 = await cachedMb();
  const writeMs = await fill(join(src, 'data'), 100);
  const cachedGrowth = (await cachedMb()) - cached0;
  const copies: number[] = [], stalls: number[] = [];
  for (let i = 0; i < 5; i++) {
    let writing = true, worst = 0;
    const writer = (async () => {
      const fh = await open(join(src, 'log'), 'a');
      const buf = Buffer.alloc(4096, 1);
      while (writing) {
        const t = performance.now();
        await fh.write(buf);
        worst = Math.max(worst, performance.now() - t);
      }
      await fh.close();
    })();
    await new Promise((r) => setTimeout(r, 50));
    copies.push(await timed(() => store.copy('ses_copysrc', `ses_copydst${i}`, { uid: 260_001 + i })));
    await new Promise((r) => setTimeout(r, 50));
    writing = false;
    await writer;
    stalls.push(worst);
    await store.remove(`ses_copydst${i}`);
  }
  await store.remove('ses_copysrc');
  console.log(`live copy, 1 GB quota holding 100 MB (${label})`);
  console.log(`  write 100 MB + fsync  ${fmt(writeMs)} ms; page cache grew ${cachedGrowth.toFixed(0)} MB`);
  console.log(`  copy (freeze+cp+thaw+fsync+mount+chown) ${p50(copies)}`);
  console.log(`  longest 4 KiB write of a writer meanwhile ${p50(stalls)}`);
}

async function main(): Promise<void> {
  for (const directIo of [true, false]) {
    const dir = await mkdtemp(join(tmpdir(), 'bt-ws-bench-'));
    const store = new WorkspaceStore({ dir, log, directIo });
    try {
      console.log(`--- loop devices with direct I/O ${directIo ? 'on' : 'off'}`);
      if (directIo) {
        await lifecycle(store, 16);
        await lifecycle(store, 1024);
      }
      await liveCopy(store, `direct I/O ${directIo ? 'on' : 'off'}`);
      const t = store.timings();
      console.log('  host tools:', Object.entries(t).map(([k, v]) => `${k} ${v.p50Ms}`).join(', '));
    } finally {
      for (const id of await store.list()) await store.remove(id);
      await rm(dir, { recursive: true, force: true });
    }
  }
}

await main();
