import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { BuntimeError } from '../core/errors.ts';
import type { AgentClient } from './agent-client.ts';

/** Largest tree a download packs, bytes; beyond it the caller gets 413 before any byte. */
const MAX_TREE_BYTES = 1024 * 1024 * 1024;

/**
 * Extracts a tar arriving on `source` into the session under `root`, file by file as it
 * streams (no whole archive in memory); returns how many files it wrote. Links and devices are
 * not extracted: they could point anywhere.
 */
export async function untarInto(
  agent: AgentClient, root: string, source: Readable, maxFileBytes: number, signal?: AbortSignal,
): Promise<number> {
  const extract = tar.extract();
  // Cut (the job's deadline): stop taking the archive; the file being written is dropped.
  signal?.addEventListener('abort', () => {
    source.unpipe(extract);
    extract.destroy(signal.reason as Error);
  }, { once: true });
  let files = 0;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const path = joinPath(root, header.name);
      const step = header.type === 'directory' ? agent.mkdir(path)
        : header.type === 'file' ? agent.write(path, nodeStream(stream), header.size ?? 0, maxFileBytes, signal).then(() => { files++; })
          : Promise.resolve();
      step.then(() => {
        stream.resume();
        next();
      }, (err: unknown) => {
        extract.destroy(err as Error);
        reject(err);
      });
    });
    extract.on('finish', resolve);
    extract.on('error', (err) => reject(err instanceof BuntimeError ? err : badTar(err)));
  });
  source.on('error', (err) => extract.destroy(err));
  source.pipe(extract);
  await done;
  return files;
}

/**
 * Packs the session's tree under `root` (a file or a directory) into a tar written to `sink`.
 * Sizes are checked before the first byte (a file over `maxFileBytes` or a tree over the cap is
 * a 413 the caller can still answer); each file streams from the agent into the archive.
 */
export async function tarFrom(agent: AgentClient, root: string, sink: Writable, maxFileBytes: number): Promise<number> {
  const { files: entries } = await agent.list(root, { recursive: true, limit: 1_000_000, offset: 0 });
  const files = entries.filter((f) => f.type === 'file');
  const total = files.reduce((n, f) => n + f.size, 0);
  const big = files.find((f) => f.size > maxFileBytes);
  if (big || total > MAX_TREE_BYTES) {
    throw new BuntimeError('payload_too_large', big ? `${big.path} is over the plan's file limit` : 'tree too large to download', {
      details: { bytes: total, maxFileBytes },
    });
  }
  const pack = tar.pack();
  const out = pipeline(pack, sink);
  const base = stripRoot(root);
  for (const f of entries) {
    const name = relativeTo(base, f.path);
    if (f.type === 'directory') pack.entry({ name, type: 'directory', mtime: new Date(f.modified) });
    if (f.type !== 'file') continue;
    const file = await agent.read(f.path, maxFileBytes);
    const entry = pack.entry({ name, size: file.size, mtime: new Date(f.modified) });
    await pipeline(file.stream, entry);
    await file.done;
  }
  pack.finalize();
  await out;
  return files.length;
}

/**
 * A tar entry (a streamx stream) as a Node stream: if the agent drops the data stream, Node's pipe
 * lets go of the entry without destroying it, so the archive is not mistaken for a broken one and
 * the real cause (the agent's reply) is what the caller hears.
 */
function nodeStream(entry: { pipe(dest: PassThrough): unknown; on(event: 'error', fn: (err: Error) => void): unknown }): Readable {
  const pass = new PassThrough();
  // The archive failing (or being torn down after a failed step) ends this entry too.
  entry.on('error', (err) => pass.destroy(err));
  pass.on('error', () => {});
  entry.pipe(pass);
  return pass;
}

function joinPath(root: string, name: string): string {
  const r = stripRoot(root);
  return r === '' ? name : `${r}/${name}`;
}

/** A root as a path relative to /workspace without trailing slashes ('' for /workspace itself). */
function stripRoot(root: string): string {
  return root.replace(/^\/workspace\/?/, '').replace(/^\.\/?/, '').replace(/\/+$/, '');
}

function relativeTo(base: string, path: string): string {
  if (base === '' || path === base) return path === base && base !== '' ? path.split('/').pop() ?? path : path;
  return path.startsWith(`${base}/`) ? path.slice(base.length + 1) : path;
}

function badTar(cause: unknown): BuntimeError {
  return new BuntimeError('invalid_request', 'the body is not a valid tar archive', { cause });
}
