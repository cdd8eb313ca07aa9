/**
 * Builds the sandbox image (`SANDBOX_IMAGE`, default `buntime-sandbox:<package version>`) offline: `FROM scratch` plus a
 * root filesystem assembled from local material only (the Bun binary of the `bun` npm package,
 * the host's glibc that Bun links against, busybox-static, the static launcher and watcher compiled here and
 * the bundled agent). The image carries the label `buntime.hash`, a sha256 over the content of
 * every input under its checkout-independent name; when an image with the tag and that hash
 * exists the build is skipped.
 *
 * Usage (from the repo root): node --import tsx images/build.ts [--print-hash]
 * (`--print-hash` prints the hash and builds nothing; it needs no Docker engine.)
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import tar from 'tar-stream';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMAGE_DIR = join(ROOT, 'images', 'bun');
const BUSYBOX = '/bin/busybox';
/** Where the Bun binary lives inside the image. */
const BUN_IN_IMAGE = 'usr/local/bin/bun';
/** Where the agent's own files live inside the image. */
const OPT = 'opt/buntime';
/** Static helpers of the agent, `images/bun/<name>.c` → `/opt/buntime/<name>`. */
const HELPERS = ['launcher', 'watcher'] as const;
/** Files above this size have their digest cached (see fileDigest). */
const BIG_FILE = 1024 * 1024;
const DIGEST_CACHE = join(ROOT, '.buntime', 'image-digests.json');

type Entry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; data: Buffer; mode: number }
  | { kind: 'symlink'; path: string; target: string };

/** The Bun binary shipped by the npm package; its postinstall may or may not have moved it. */
function findBun(): string {
  const candidates = [
    join(ROOT, 'node_modules/bun/bin/bun.exe'),
    join(ROOT, 'node_modules/@oven/bun-linux-x64/bin/bun'),
    join(ROOT, 'node_modules/@oven/bun-linux-x64/bin/bun.exe'),
  ];
  const found = candidates.find((p) => existsSync(p) && readFileSync(p).subarray(0, 4).toString('latin1') === '\x7fELF');
  if (!found) throw new Error(`no Bun binary found (looked at ${candidates.join(', ')}); run npm ci`);
  return found;
}

/** Absolute paths of the shared objects `bin` loads, the dynamic loader included. */
function sharedLibs(bin: string): string[] {
  const out = execFileSync('ldd', [bin], { encoding: 'utf8' });
  const paths = out.split('\n').flatMap((line) => {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    return m?.[1] ? [m[1]] : [];
  });
  if (!paths.some((p) => p.includes('ld-linux'))) throw new Error(`ldd ${bin}: no dynamic loader found`);
  return paths;
}

function busyboxApplets(): string[] {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} missing: apt-get install busybox-static`);
  const out = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
  return out.split('\n').filter((name) => /^[\w.[-]+$/.test(name) && name !== 'busybox');
}

/** The agent's modules (its unit tests are not part of the image). */
function agentSources(): string[] {
  const dir = join(IMAGE_DIR, 'agent');
  return readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort().map((f) => join(dir, f));
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * sha256 of one file. Digests of big files (Bun is ~100 MB) are remembered in `.buntime/`
 * under their inode, size and ctime, which any change to the content moves, so that the
 * up-to-date check stays well under a second.
 */
function fileDigest(path: string, cache: Record<string, string>, used: Record<string, string>): string {
  const st = statSync(path);
  const key = `${path}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  const digest = cache[key] ?? createHash('sha256').update(readFileSync(path)).digest('hex');
  if (st.size > BIG_FILE) used[key] = digest;
  return digest;
}

/** One input file: `name` is what it is called independently of the checkout, `path` where it is read. */
interface Input {
  /** Project files: the path relative to the repo root; host files: the path they get in the image. */
  name: string;
  path: string;
}

/**
 * sha256 over the name and content of every input, so any change to any of them rebuilds. Only
 * checkout-independent names go in: two checkouts of one commit (or the same checkout moved)
 * get the same hash and share the image instead of retagging it back and forth.
 */
function inputsHash(files: Input[], extra: string[]): string {
  const cache = readDigestCache();
  const used: Record<string, string> = {};
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    h.update(`${f.name}\0${fileDigest(f.path, cache, used)}\0`);
  }
  for (const e of extra) h.update(`${e}\0`);
  writeDigestCache(used);
  return h.digest('hex');
}

/** Every input of the image, named by the repo-relative path or the path inside the image. */
function imageInputs(bun: string, libs: string[]): Input[] {
  const project = [
    fileURLToPath(import.meta.url), ...HELPERS.map((h) => join(IMAGE_DIR, `${h}.c`)), join(IMAGE_DIR, 'smoke.ts'), ...agentSources(),
  ];
  return [
    ...project.map((path) => ({ name: relative(ROOT, path), path })),
    { name: BUN_IN_IMAGE, path: bun },
    { name: BUSYBOX.slice(1), path: BUSYBOX },
    ...libs.map((l) => ({ name: l.slice(1), path: realpathSync(l) })),
  ];
}

function readDigestCache(): Record<string, string> {
  try {
    return JSON.parse(readFileSync(DIGEST_CACHE, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

function writeDigestCache(cache: Record<string, string>): void {
  try {
    mkdirSync(dirname(DIGEST_CACHE), { recursive: true });
    writeFileSync(DIGEST_CACHE, JSON.stringify(cache));
  } catch {
    // Only a speed-up: without it the next check hashes everything again.
  }
}

/** The image now under `tag`: its id and `buntime.hash` label, or undefined when none. */
async function existing(docker: Docker, tag: string): Promise<{ id: string; hash?: string } | undefined> {
  try {
    const info = await docker.getImage(tag).inspect();
    return { id: info.Id, hash: info.Config?.Labels?.['buntime.hash'] };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw new Error(`cannot reach the Docker engine: ${(err as Error).message}`, { cause: err });
  }
}

/** Drops the image a rebuild replaced, unless running sessions still use it (Docker says 409). */
async function removeReplaced(docker: Docker, old: { id: string } | undefined, tag: string): Promise<void> {
  if (!old) return;
  const now = await existing(docker, tag);
  if (now?.id === old.id) return;
  await docker.getImage(old.id).remove().catch(() => undefined);
}

type Helpers = Record<(typeof HELPERS)[number], Buffer>;

function compileHelpers(work: string): Helpers {
  return Object.fromEntries(HELPERS.map((name) => [name, compileHelper(work, name)])) as Helpers;
}

function compileHelper(work: string, name: string): Buffer {
  const out = join(work, name);
  try {
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-Werror', '-o', out, join(IMAGE_DIR, `${name}.c`)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (err) {
    throw new Error(`cannot compile images/bun/${name}.c with gcc -static (${(err as Error).message}); `
      + 'apt-get install gcc libc6-dev', { cause: err });
  }
  return readFileSync(out);
}

/** One JS file: Bun starts it faster than a tree of TypeScript modules. */
function bundleAgent(work: string, bun: string, ver: string): Buffer {
  const out = join(work, 'agent.js');
  execFileSync(bun, ['build', join(IMAGE_DIR, 'agent', 'main.ts'), '--target=bun', `--outfile=${out}`,
    `--define`, `AGENT_VERSION=${JSON.stringify(ver)}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  return readFileSync(out);
}

const dir = (path: string, mode = 0o755): Entry => ({ kind: 'dir', path, mode });
const file = (path: string, data: Buffer, mode = 0o644): Entry => ({ kind: 'file', path, data, mode });
const link = (path: string, target: string): Entry => ({ kind: 'symlink', path, target });

function passwd(): Entry[] {
  // Session uids vary (BUNTIME_UID); `sandbox` names the conventional one for tools that ask.
  return [
    file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000:sandbox:/workspace:/bin/sh\n')),
    file('etc/group', Buffer.from('root:x:0:\nsandbox:x:1000:\n')),
  ];
}

function rootfs(bun: string, libs: string[], applets: string[], helpers: Helpers, agent: Buffer): Entry[] {
  const dirs = ['bin', 'dev', 'etc', OPT, 'proc', 'root', 'run/buntime', 'run/buntime-host', 'sys', 'usr/bin', 'usr/local/bin',
    'workspace', ...libs.map((l) => dirname(l).slice(1))];
  return [
    ...mkdirs(dirs), dir('tmp', 0o1777),
    // realpathSync: /lib64/ld-linux-x86-64.so.2 is itself a symlink on Debian; copy its target's bytes.
    ...libs.map((l) => file(l.slice(1), readFileSync(realpathSync(l)), 0o755)),
    file(BUN_IN_IMAGE, readFileSync(bun), 0o755),
    link('usr/local/bin/node', 'bun'), link('usr/local/bin/bunx', 'bun'),
    file('bin/busybox', readFileSync(BUSYBOX), 0o755),
    ...applets.map((a) => link(`bin/${a}`, 'busybox')),
    link('usr/bin/env', '/bin/busybox'),
    ...HELPERS.map((h) => file(`${OPT}/${h}`, helpers[h], 0o755)),
    file(`${OPT}/agent.js`, agent),
    file(`${OPT}/smoke.ts`, readFileSync(join(IMAGE_DIR, 'smoke.ts'))),
    ...passwd(),
  ];
}

/** Every missing ancestor of `paths`, parents first. */
function mkdirs(paths: string[]): Entry[] {
  const all = new Set<string>();
  for (const p of paths) for (let d = p; d && d !== '.'; d = dirname(d)) all.add(d);
  return [...all].sort().map((p) => dir(p));
}

function dockerfile(hash: string, ver: string): Buffer {
  return Buffer.from([
    'FROM scratch',
    'COPY rootfs/ /',
    'ENV PATH=/usr/local/bin:/usr/bin:/bin',
    'WORKDIR /workspace',
    `ENTRYPOINT ["/usr/local/bin/bun", "/${OPT}/agent.js"]`,
    `LABEL buntime.hash="${hash}" buntime.version="${ver}"`,
    '',
  ].join('\n'));
}

type Header = Partial<tar.Header> & { name: string };

function entryHeader(e: Entry): Header {
  const name = `rootfs/${e.path}`;
  const base = { uid: 0, gid: 0, mtime: new Date(0) };
  if (e.kind === 'dir') return { ...base, name, type: 'directory', mode: e.mode };
  if (e.kind === 'symlink') return { ...base, name, type: 'symlink', linkname: e.target, mode: 0o777 };
  return { ...base, name, type: 'file', mode: e.mode, size: e.data.length };
}

/** The build context as a tar stream; entries are added while Docker already reads it. */
function context(entries: Entry[], df: Buffer): tar.Pack {
  const pack = tar.pack();
  const add = (h: Header, data?: Buffer) =>
    new Promise<void>((ok, fail) => pack.entry(h, data ?? '', (err) => (err ? fail(err) : ok())));
  void (async () => {
    await add({ name: 'Dockerfile', mode: 0o644, size: df.length }, df);
    for (const e of entries) await add(entryHeader(e), e.kind === 'file' ? e.data : undefined);
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error));
  return pack;
}

async function build(docker: Docker, tag: string, pack: tar.Pack): Promise<void> {
  // tar-stream packs are streamx Readables, which pipe like Node's.
  const stream = await docker.buildImage(pack as unknown as NodeJS.ReadableStream, { t: tag, rm: true, forcerm: true });
  const events = await new Promise<Array<{ error?: string; errorDetail?: { message?: string } }>>(
    (ok, fail) => docker.modem.followProgress(stream, (err, res) => (err ? fail(err) : ok(res))),
  );
  const failed = events.find((e) => e.error || e.errorDetail);
  if (failed) throw new Error(`docker build failed: ${failed.errorDetail?.message ?? failed.error}`);
}

async function main(): Promise<void> {
  const ver = version();
  const tag = process.env.SANDBOX_IMAGE || `buntime-sandbox:${ver}`;
  const bun = findBun();
  const libs = sharedLibs(bun);
  const applets = busyboxApplets();
  // The lib paths are in-image names too (each library lands at its host path).
  const hash = inputsHash(imageInputs(bun, libs), [ver, ...libs, ...applets]);
  if (process.argv.includes('--print-hash')) {
    console.log(hash);
    return;
  }
  const docker = new Docker();
  const old = await existing(docker, tag);
  if (old?.hash === hash) {
    console.log(`${tag} is up to date (buntime.hash ${hash.slice(0, 12)})`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'buntime-image-'));
  try {
    const entries = rootfs(bun, libs, applets, compileHelpers(work), bundleAgent(work, bun, ver));
    await build(docker, tag, context(entries, dockerfile(hash, ver)));
    await removeReplaced(docker, old, tag);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`built ${tag} (buntime.hash ${hash.slice(0, 12)})`);
}

main().catch((err: unknown) => {
  console.error(`images/build.ts: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
