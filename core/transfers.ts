import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The data plane between the API and a runner (`runner/transfer-hub.ts`, `api/transfer-client.ts`):
 * a job that moves bytes (file contents, tar trees, preview traffic) carries a transfer id, and
 * the API opens `<node's transferUrl>/<id>` while the job runs. These are the wire names both
 * sides use.
 */

/** Set on an answer that is an error envelope rather than the transfer's data. */
export const TRANSFER_ERROR_HEADER = 'x-buntime-transfer-error';
/** Preview relay: the method, path and headers of the request for the session's server. */
export const PREVIEW_METHOD_HEADER = 'x-buntime-method';
export const PREVIEW_PATH_HEADER = 'x-buntime-path';
/** JSON of the forwarded request headers (towards the runner) or of the upstream's (back). */
export const PREVIEW_HEADERS_HEADER = 'x-buntime-headers';
/** The session server's status code on a relayed preview answer. */
export const PREVIEW_STATUS_HEADER = 'x-buntime-status';

/** A new transfer id: 144 random bits, URL-safe. Whoever knows it can use it once. */
export function newTransferId(): string {
  return `t_${randomBytes(18).toString('base64url')}`;
}

export function isTransferId(value: string): boolean {
  return /^t_[A-Za-z0-9_-]{24}$/.test(value);
}

/** Headers as one transfer header value (base64url JSON; repeated headers as arrays). */
export function encodeHeaders(h: IncomingHttpHeaders | Record<string, string | string[]>): string {
  return Buffer.from(JSON.stringify(h)).toString('base64url');
}

export function decodeHeaders(value: unknown): Record<string, string | string[]> {
  if (typeof value !== 'string') return {};
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Record<string, unknown>;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) out[k] = v as string | string[];
    }
    return out;
  } catch {
    return {};
  }
}

