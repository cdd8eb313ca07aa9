import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { BuntimeError } from '../core/errors.ts';
import type { AgentChannel } from './agent-channel.ts';

interface ListedFile {
  path: string;
  size: number;
  modified: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
}

/** Largest tree a download packs, bytes; beyond it the caller gets 413. */
const MAX_TREE_BYTES = 256 * 1024 * 1024;

/** Extracts a tar into the session under `root` through the agent; returns how many files it wrote. */
export async function untarInto(ch: AgentChannel, root: string, tarBytes: Buffer, maxFileBytes: number): Promise<number> {
  const extract = tar.extract();
  let files = 0;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      collect(stream)
        .then(async (body) => {
          const path = joinPath(root, header.name);
          if (header.type === 'directory') await ch.request({ op: 'mkdir', path });
          else if (header.type === 'file') {
            await ch.request({ op: 'write', path, contentBase64: body.toString('base64'), maxFileBytes });
            files++;
          } // links and devices are not extracted: they could point anywhere.
          next();
        })
        .catch((err: unknown) => { extract.destroy(err as Error); reject(err); });
    });
    extract.on('finish', resolve);
    extract.on('error', (err) => reject(err instanceof BuntimeError ? err : badTar(err)));
  });
  Readable.from([tarBytes]).pipe(extract);
  await done;
  return files;
}

/** Packs the session's tree under `root` (a file or a directory) into a tar. */
export async function tarFrom(ch: AgentChannel, root: string): Promise<Buffer> {
  const listing = await ch.request({ op: 'list', path: root, recursive: true, limit: 1_000_000, offset: 0 });
  const entries = listing.files as ListedFile[];
  const total = entries.reduce((n, f) => n + (f.type === 'file' ? f.size : 0), 0);
  if (total > MAX_TREE_BYTES) {
    throw new BuntimeError('payload_too_large', 'tree too large to download', { details: { bytes: total } });
  }
  const pack = tar.pack();
  const out = collect(pack);
  const base = stripRoot(root);
  for (const f of entries) {
    const name = relativeTo(base, f.path);
    if (f.type === 'directory') pack.entry({ name, type: 'directory', mtime: new Date(f.modified) });
    if (f.type !== 'file') continue;
    const file = await ch.request({ op: 'read', path: f.path, maxFileBytes: MAX_TREE_BYTES });
    pack.entry({ name, mtime: new Date(f.modified) }, Buffer.from(String(file.contentBase64), 'base64'));
  }
  pack.finalize();
  return out;
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
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
