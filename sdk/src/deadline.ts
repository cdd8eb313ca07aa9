import { BuntimeError, networkError, timeoutError } from './errors.ts';

/**
 * A time budget for one request (or one whole stream, resumes included): its `signal` aborts
 * when `ms` milliseconds have passed or when the caller's own signal aborts, and it remembers
 * which of the two happened so failures can be told apart.
 */
export class Deadline {
  readonly ms: number;
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal | undefined;
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onOuterAbort = (): void => this.#controller.abort(this.#outer?.reason);
  #expired = false;

  /** @param ms budget in milliseconds; `Infinity` for none. */
  constructor(ms: number, outer?: AbortSignal) {
    this.ms = ms;
    this.#outer = outer;
    if (outer?.aborted) this.#onOuterAbort();
    else outer?.addEventListener('abort', this.#onOuterAbort, { once: true });
    this.#timer = Number.isFinite(ms) ? setTimeout(() => this.#expire(), ms) : undefined;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once the budget ran out (as opposed to the caller aborting). */
  get expired(): boolean {
    return this.#expired;
  }

  /** Stops the timer and detaches from the caller's signal; call when the request is over. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener('abort', this.#onOuterAbort);
  }

  /**
   * Maps whatever a fetch or body read threw into what the caller should see: the caller's own
   * abort reason, a `timeout` error, an already-mapped {@link BuntimeError}, else `network_error`.
   */
  failure(err: unknown, what?: string): unknown {
    if (err instanceof BuntimeError) return err;
    if (this.#outer?.aborted) return this.#outer.reason;
    if (this.#expired) return timeoutError(this.ms);
    return networkError(err, what);
  }

  #expire(): void {
    this.#expired = true;
    this.#controller.abort(timeoutError(this.ms));
  }
}
