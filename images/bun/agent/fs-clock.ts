/**
 * "Now" on the kernel's file-timestamp clock. File ctimes come from a coarse clock that lags
 * wall time by up to a tick, so comparing them with Date.now() misses files written just after
 * a run starts; touching a marker file and reading back its ctime gives a start time from that
 * same clock. Costs one fchmod and one fstat.
 */
import { fchmodSync, fstatSync, openSync, constants } from 'node:fs';
import { log } from './channel.ts';
import { O_CLOEXEC } from './files.ts';

/** Slack for the fallback (no writable marker): a few ticks of the coarse clock. */
const FALLBACK_SLACK_MS = 20;

export class FsClock {
  private readonly fd: number | undefined;

  /** @param markerPath a file on a tmpfs the agent alone writes (e.g. under /run/buntime) */
  constructor(markerPath: string) {
    try {
      this.fd = openSync(markerPath, constants.O_RDWR | constants.O_CREAT | O_CLOEXEC, 0o600);
    } catch (err) {
      log(`no ctime marker at ${markerPath} (${(err as Error).message}); using wall time`);
    }
  }

  /** A ctime-comparable timestamp, ms: files changed from now on have ctimeMs ≥ it. */
  now(): number {
    if (this.fd === undefined) return Date.now() - FALLBACK_SLACK_MS;
    // chmod always stamps ctime, even when the mode does not change.
    fchmodSync(this.fd, 0o600);
    return fstatSync(this.fd).ctimeMs;
  }
}
