/**
 * Runs tasks one at a time per key (in call order), tasks of different keys concurrently. The
 * workspace store serialises everything it does to one session's image with it.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` once every earlier task of each of `keys` has settled. */
  async run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    // A task waits only for tasks queued before it, so multi-key tasks never wait in a cycle.
    const sorted = [...new Set(keys)];
    const before = sorted.map((k) => this.tails.get(k) ?? Promise.resolve());
    const result = Promise.allSettled(before).then(task);
    const tail = result.catch(() => undefined);
    for (const k of sorted) this.tails.set(k, tail);
    void tail.then(() => {
      for (const k of sorted) if (this.tails.get(k) === tail) this.tails.delete(k);
    });
    return result;
  }
}
