import { posix } from 'node:path';
import { z } from 'zod';
import { BuntimeError } from '../core/errors.ts';
import { networkRequestSchema } from '../core/network-policy.ts';
import { resourceLimitsSchema } from '../core/schemas.ts';

export const WORKSPACE = '/workspace';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A path as the sandbox will see it: relative to /workspace, normalized, never leaving it.
 * Absolute paths are accepted only inside /workspace. Symlinks are checked in the sandbox.
 */
export const workspacePath = z.string().min(1).max(4096).superRefine((p, ctx) => {
  if (p.includes('\0')) ctx.addIssue({ code: 'custom', message: 'path contains a NUL byte' });
  else if (resolveInWorkspace(p) === undefined) ctx.addIssue({ code: 'custom', message: 'path leaves /workspace' });
});

/** Resolves a user path against /workspace; undefined when it leaves it. */
export function resolveInWorkspace(p: string): string | undefined {
  const abs = posix.normalize(p.startsWith('/') ? p : `${WORKSPACE}/${p}`);
  if (abs === WORKSPACE || abs === `${WORKSPACE}/`) return WORKSPACE;
  return abs.startsWith(`${WORKSPACE}/`) ? abs.replace(/\/+$/, '') : undefined;
}

export const resourceLimitsInput = resourceLimitsSchema.partial().strict();

const metadata = z.record(z.string(), z.unknown())
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= 16 * 1024, 'metadata over 16 KB');
/** `snap_` + 20 base62 characters. */
export const snapshotIdSchema = z.string().regex(/^snap_[A-Za-z0-9]{20}$/, 'not a snapshot id');

export const createSessionBody = z.strictObject({
  ttl: z.number().int().min(60).optional(),
  metadata: metadata.optional(),
  resourceLimits: resourceLimitsInput.optional(),
  /** Egress policy of the session; the plan decides whether it may differ from its default. */
  network: networkRequestSchema.optional(),
  /** Start from this named snapshot of the account (the session gets its files and its disk). */
  snapshotId: snapshotIdSchema.optional(),
});
export type CreateSessionBody = z.infer<typeof createSessionBody>;

/** `POST /sessions/{id}/fork`: the fork's own lifetime and metadata (default: the source's metadata). */
export const forkSessionBody = z.strictObject({
  ttl: z.number().int().min(60).optional(),
  metadata: metadata.optional(),
});
export type ForkSessionBody = z.infer<typeof forkSessionBody>;

/** `POST /sessions/{id}/snapshots`. */
export const createSnapshotBody = z.strictObject({
  name: z.string().min(1).max(128).optional(),
});


/**
 * True for a base64 text (standard or URL-safe alphabet, padding optional, MIME line breaks
 * ignored), so that garbage is refused instead of decoding to whatever Node makes of it.
 */
export function isBase64(text: string): boolean {
  const s = text.replace(/\r?\n/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) return false;
  const padded = s.endsWith('=');
  return padded ? s.length % 4 === 0 : s.length % 4 !== 1;
}

/** Refuses `content` that claims to be base64 and is not (a 400 naming the field). */
export function base64Content(v: { content: string; encoding: 'utf8' | 'base64' }, ctx: z.RefinementCtx): void {
  if (v.encoding === 'base64' && !isBase64(v.content)) {
    ctx.addIssue({ code: 'custom', path: ['content'], message: 'content is not valid base64' });
  }
}

const fileInput = z.strictObject({
  path: workspacePath,
  content: z.string(),
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
}).superRefine(base64Content);

export const executeBody = z
  .strictObject({
    sessionId: z.string().min(1).max(64),
    code: z.string().max(8 * 1024 * 1024).optional(),
    command: z.string().max(1024 * 1024).optional(),
    files: z.array(fileInput).max(1000).optional(),
    env: z.record(z.string().regex(ENV_NAME, 'env names are [A-Za-z_][A-Za-z0-9_]*'), z.string().max(128 * 1024))
      .refine((e) => Object.keys(e).length <= 100, 'at most 100 env entries')
      .optional(),
    timeout: z.number().int().min(1).optional(),
    workingDir: workspacePath.optional(),
    stream: z.boolean().optional(),
    stdin: z.string().optional(),
    background: z.boolean().optional(),
  })
  .refine((b) => (b.code === undefined) !== (b.command === undefined), {
    message: 'exactly one of code and command is required',
    path: ['code'],
  })
  .refine((b) => !(b.stream && b.background), { message: 'stream and background exclude each other', path: ['stream'] });
export type ExecuteBody = z.infer<typeof executeBody>;

/** Parses with zod, turning the first problem into a 400 that names the field. */
export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  if (value === undefined) {
    throw new BuntimeError('invalid_request', 'a JSON object body is required (Content-Type: application/json)', {
      details: { field: 'body' },
    });
  }
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  const first = res.error.issues[0];
  const field = first ? first.path.join('.') || fieldOf(first) : '';
  const message = first ? `${field ? `${field}: ` : ''}${first.message}` : 'invalid request';
  throw new BuntimeError('invalid_request', message, {
    details: { field, issues: res.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}

function fieldOf(issue: z.core.$ZodIssue): string {
  return issue.code === 'unrecognized_keys' ? issue.keys.join(',') : '';
}
