import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request } from 'express';
import { z } from 'zod';
import { BuntimeError } from '../../core/errors.ts';
import type { Plans } from '../../core/plans.ts';
import { fileEntrySchema, processInfoSchema } from '../../core/schemas.ts';
import { ON_SESSION, RESPONDED, route } from '../route-table.ts';
import { base64Content, parse, workspacePath } from '../validation.ts';

const sessionId = z.string().min(1).max(64);
const pathQuery = z.object({ sessionId, path: workspacePath.describe('relative to /workspace') });
/** A tree of the workspace (upload, download, list): its root by default. */
const treeQuery = z.object({ sessionId, path: workspacePath.default('.').describe('relative to /workspace') });
const listQuery = treeQuery.extend({
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  offset: z.coerce.number().int().min(0).default(0).describe('entries to skip (costs as many steps; prefer cursor)'),
  cursor: z.string().min(1).max(4096).optional().describe('nextCursor of the previous page'),
}).refine((q) => q.cursor === undefined || q.offset === 0, { message: 'use either offset or cursor', path: ['cursor'] });
const writeBody = z.strictObject({
  sessionId, path: workspacePath, content: z.string(), encoding: z.enum(['utf8', 'base64']).default('utf8'),
}).superRefine(base64Content);
/** The raw form of `POST /files/write` names its file in the query (required there; checked by the handler). */
const rawWriteQuery = z.object({ sessionId: sessionId.optional(), path: workspacePath.optional() });
const killBody = z.strictObject({ sessionId, pid: z.number().int().positive().optional().describe('one execution\'s tree; absent: every user process') });

/** Codes of a file transfer: a path the agent refuses or cannot find, files over the plan's limit, a full disk. */
const FILE_ERRORS = [...ON_SESSION, 'not_found', 'payload_too_large', 'disk_full'] as const;

/** Files and processes of a session's workspace. */
export const workspaceRoutes = [
  route({
    method: 'post', path: '/files/write', operationId: 'writeFile', tag: 'Files', auth: ['apiKey'],
    summary: 'Write a file (atomically)',
    description: 'A write that would pass the disk limit is a 507 and changes nothing. The content comes in the JSON body, '
      + 'or as the raw body (`application/octet-stream`, `sessionId` and `path` in the query), streamed through to the session.',
    query: rawWriteQuery,
    body: { json: writeBody, name: 'WriteFileRequest', required: true },
    rawBody: { media: 'application/octet-stream', description: 'The file\'s bytes (with `sessionId` and `path` in the query).' },
    ok: { status: 200, description: 'Written.', json: z.object({ path: z.string(), size: z.number().int() }), name: 'WrittenFile' },
    errors: FILE_ERRORS,
    handler: async ({ body, who, req, deps }) => {
      if (body) {
        return deps.workspace.write(who(), body.sessionId, body.path, Buffer.from(body.content, body.encoding === 'base64' ? 'base64' : 'utf8'));
      }
      const q = parse(pathQuery, req.query);
      const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
      return streamed(req, () => deps.workspace.writeStream(who(), q, capped(req, deps.plans[who().plan].maxFileBytes), length));
    },
  }),
  route({
    method: 'get', path: '/files/read', operationId: 'readFile', tag: 'Files', auth: ['apiKey', 'sessionToken'],
    summary: 'Read a file',
    query: pathQuery,
    ok: { status: 200, description: 'The file\'s bytes.', raw: 'application/octet-stream' },
    errors: FILE_ERRORS,
    handler: async ({ query, who, res, deps }) => {
      const file = await deps.workspace.read(who(), query.sessionId, query.path);
      res.type('application/octet-stream').setHeader('Content-Length', String(file.size));
      await pipeline(file.body, res).catch(() => res.destroy());
      return RESPONDED;
    },
  }),
  route({
    method: 'get', path: '/files/list', operationId: 'listFiles', tag: 'Files', auth: ['apiKey', 'sessionToken'],
    summary: 'List a tree, one page at a time',
    description: 'Depth first, a directory right before its contents. `total` counts up to 50,000 entries (`totalExact` false past that); '
      + 'pass `nextCursor` as `cursor` for the next page (null at the end).',
    query: listQuery,
    ok: {
      status: 200, description: 'A page of entries.', name: 'FileList',
      json: z.object({ files: z.array(fileEntrySchema), total: z.number().int(), totalExact: z.boolean(), nextCursor: z.string().nullable() }),
    },
    errors: FILE_ERRORS,
    handler: ({ query, who, deps }) =>
      deps.workspace.list(who(), query.sessionId, query.path, { limit: query.limit, offset: query.offset, cursor: query.cursor }),
  }),
  route({
    method: 'delete', path: '/files', operationId: 'deleteFile', tag: 'Files', auth: ['apiKey'],
    summary: 'Delete a file or a tree',
    query: pathQuery,
    ok: { status: 200, description: 'Deleted.', json: z.object({ deleted: z.boolean(), path: z.string() }), name: 'DeletedFile' },
    errors: FILE_ERRORS,
    handler: ({ query, who, deps }) => deps.workspace.delete(who(), query.sessionId, query.path),
  }),
  route({
    method: 'post', path: '/files/upload', operationId: 'uploadFiles', tag: 'Files', auth: ['apiKey'],
    summary: 'Unpack a tar into the workspace',
    description: 'The body is streamed, never buffered; at most 64 of the plan\'s largest files.',
    query: treeQuery,
    rawBody: { media: 'application/x-tar', description: 'A tar archive, unpacked under `path`.' },
    ok: { status: 200, description: 'Unpacked.', json: z.object({ files: z.number().int() }), name: 'UploadedFiles' },
    errors: [...FILE_ERRORS, 'invalid_request'],
    handler: ({ query, who, req, deps }) =>
      streamed(req, () => deps.workspace.upload(who(), query.sessionId, query.path, capped(req, uploadLimit(deps.plans, who().plan)))),
  }),
  route({
    method: 'get', path: '/files/download', operationId: 'downloadFiles', tag: 'Files', auth: ['apiKey', 'sessionToken'],
    summary: 'Download a tree as a tar',
    query: treeQuery,
    ok: { status: 200, description: 'A tar of the tree under `path`.', raw: 'application/x-tar' },
    errors: FILE_ERRORS,
    handler: async ({ query, who, res, deps }) => {
      const tar = await deps.workspace.download(who(), query.sessionId, query.path);
      res.type('application/x-tar');
      await pipeline(tar, res).catch(() => res.destroy());
      return RESPONDED;
    },
  }),
  route({
    method: 'get', path: '/processes', operationId: 'listProcesses', tag: 'Processes', auth: ['apiKey'],
    summary: 'List a session\'s running processes',
    query: z.object({ sessionId }),
    ok: { status: 200, description: 'Its user processes.', json: z.object({ processes: z.array(processInfoSchema) }), name: 'ProcessList' },
    errors: ON_SESSION,
    handler: ({ query, who, deps }) => deps.workspace.processes(who(), query.sessionId),
  }),
  route({
    method: 'post', path: '/execution/kill', operationId: 'killProcesses', tag: 'Processes', auth: ['apiKey'],
    summary: 'Kill an execution\'s processes, or all of them',
    body: { json: killBody, name: 'KillRequest', required: true },
    ok: {
      status: 200, description: 'What was killed.', name: 'KillResult',
      json: z.object({ killed: z.boolean(), pids: z.array(z.number().int()) }),
    },
    errors: [...ON_SESSION, 'not_found'],
    handler: ({ body, who, deps }) => deps.workspace.kill(who(), body.sessionId, body.pid),
  }),
];

/** Largest tar body an upload takes: 64 of the plan's largest files. */
function uploadLimit(plans: Plans, plan: keyof Plans): number {
  return plans[plan].maxFileBytes * 64;
}

/**
 * Reads and drops what is left of a request body the session refused part-way (disk full, too
 * large): the answer then reaches a client that is still sending, instead of both waiting.
 */
function drain(req: Request): void {
  if (req.readableEnded) return;
  req.unpipe();
  req.resume();
}

/** Runs a transfer that consumes the request body, then drops whatever of it is left. */
async function streamed<T>(req: Request, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    drain(req);
  }
}

/**
 * The request body as a stream that fails with 413 past `limit` bytes (at once when a
 * Content-Length already says so), so an upload is never buffered yet stays bounded.
 */
function capped(req: Request, limit: number): Readable {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const tooLarge = () => new BuntimeError('payload_too_large', `upload over ${limit} bytes`, { details: { limit } });
  if (declared > limit) throw tooLarge();
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(seen > limit ? tooLarge() : null, chunk);
    },
  });
  req.on('error', (err) => counter.destroy(err));
  return req.pipe(counter);
}
