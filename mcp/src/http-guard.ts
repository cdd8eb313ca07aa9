import { createHash, timingSafeEqual } from 'node:crypto';

/** What the HTTP transport lets through: one bearer token and a list of browser origins. */
export interface GuardPolicy {
  /** The token clients must send as `Authorization: Bearer <token>`. */
  token: string;
  /** Allowed `Origin` values (lower-case `scheme://host[:port]`); a request without one is allowed. */
  allowedOrigins: Iterable<string>;
}

/** The verdict on one request: pass, or the status and message to answer with. */
export type Verdict = { ok: true } | { ok: false; status: 401 | 403; message: string };

/**
 * Guards the HTTP transport, which lends the operator's API key to whoever reaches it. A
 * browser page of a foreign origin is refused first (403: DNS rebinding, drive-by pages), then
 * the bearer token is checked in constant time (401).
 */
export class HttpGuard {
  readonly #tokenHash: Buffer;
  readonly #origins: Set<string>;

  constructor(policy: GuardPolicy) {
    this.#tokenHash = sha256(policy.token);
    this.#origins = new Set([...policy.allowedOrigins].map((o) => o.toLowerCase()));
  }

  /** Also allows `origin` (e.g. the server's own, known once listening). */
  allowOrigin(origin: string): void {
    this.#origins.add(origin.toLowerCase());
  }

  /** Checks a request's `Origin` and `Authorization` headers. */
  check(headers: { origin?: string | undefined; authorization?: string | undefined }): Verdict {
    if (headers.origin !== undefined && !this.#origins.has(headers.origin.toLowerCase())) {
      return { ok: false, status: 403, message: `origin ${headers.origin} is not allowed` };
    }
    const match = /^Bearer (.+)$/i.exec(headers.authorization ?? '');
    if (!match || !timingSafeEqual(sha256(match[1]!.trim()), this.#tokenHash)) {
      return { ok: false, status: 401, message: 'a valid bearer token is required' };
    }
    return { ok: true };
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
