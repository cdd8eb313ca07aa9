/** The session calls a lease needs: a subset of `Buntime['sessions']`. */
export interface SessionApi {
  create(params: { ttl: number; metadata: Record<string, unknown> }): Promise<{ sessionId: string; previewUrl: string; expiresAt: string }>;
  delete(id: string, options?: { timeout?: number }): Promise<unknown>;
}

/** What a lease knows of the session it holds. */
export interface LeasedSession {
  sessionId: string;
  previewUrl: string;
  expiresAt: string;
}

/** Options of a {@link SessionLease}. */
export interface LeaseOptions {
  /** Lifetime of the session, s. */
  ttlSec: number;
  /** Leave the session alive at {@link SessionLease.release}. */
  keep: boolean;
  /** Client-side bound of the delete at release, ms. Default 10000. */
  releaseTimeoutMs?: number;
  /** Stored as the session's metadata, to tell where it came from. */
  metadata?: Record<string, unknown>;
}

/**
 * The one Buntime session of one MCP connection. It is created on first use (so a client that
 * only lists tools costs nothing), shared by concurrent first uses, replaced when the API says it
 * is gone (expired at its short ttl), and deleted at {@link release} unless kept.
 */
export class SessionLease {
  #pending: Promise<LeasedSession> | undefined;
  #current: LeasedSession | undefined;
  #released = false;

  constructor(
    private readonly sessions: SessionApi,
    private readonly options: LeaseOptions,
  ) {}

  /** The session, created now if there is none yet. Rejects after {@link release}. */
  get(): Promise<LeasedSession> {
    if (this.#released) return Promise.reject(new Error('this connection is closed; its session was released'));
    this.#pending ??= this.#create();
    return this.#pending;
  }

  /** Forgets `sessionId` (the API answered `session_not_found`): the next use creates a new one. */
  forget(sessionId: string): void {
    if (this.#released || this.#current?.sessionId !== sessionId) return;
    this.#current = undefined;
    this.#pending = undefined;
  }

  /** The session held now, if one was created and not forgotten. */
  get current(): LeasedSession | undefined {
    return this.#current;
  }

  /**
   * Ends the lease: deletes the session (unless `keep`), waiting for a create still under way so
   * nothing is left behind. Idempotent; never rejects (the session's ttl is the backstop).
   */
  async release(): Promise<LeasedSession | undefined> {
    if (this.#released) return undefined;
    this.#released = true;
    const session = await this.#pending?.catch(() => undefined);
    if (!session || this.options.keep) return session;
    await this.sessions.delete(session.sessionId, { timeout: this.options.releaseTimeoutMs ?? 10_000 }).catch(() => undefined);
    return session;
  }

  async #create(): Promise<LeasedSession> {
    try {
      const s = await this.sessions.create({ ttl: this.options.ttlSec, metadata: this.options.metadata ?? {} });
      this.#current = { sessionId: s.sessionId, previewUrl: s.previewUrl, expiresAt: s.expiresAt };
      return this.#current;
    } catch (err) {
      // A failed create is not cached: the next tool call tries again.
      this.#pending = undefined;
      throw err;
    }
  }
}
