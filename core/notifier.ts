import type { Redis } from 'ioredis';

type Listener = (message: string) => void;

/**
 * Pub/sub fan-out over one subscriber connection: any number of listeners per channel, the
 * channel subscribed while at least one listens.
 */
export class Notifier {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string, message: string) => {
      for (const fn of this.listeners.get(channel) ?? []) fn(message);
    });
  }

  /** Listens on `channel`; resolves once subscribed, with the function that stops listening. */
  async listen(channel: string, fn: Listener): Promise<() => void> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await this.subscriber.subscribe(channel);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.listeners.get(channel) === set) {
        this.listeners.delete(channel);
        void this.subscriber.unsubscribe(channel).catch(() => {});
      }
    };
  }
}
