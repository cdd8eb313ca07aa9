import { BuntimeError } from '../core/errors.ts';
import { HostCommandError } from './host-command.ts';

/** Seconds a caller should wait before retrying when this node's disk cannot take a workspace. */
export const STORAGE_RETRY_AFTER_SEC = 30;

/**
 * Maps a failure of the host's storage (a tool or a file call) to the error catalogue. A full or
 * failing host disk is the node's trouble, not the session's: `service_unavailable` with a retry
 * hint (another node, or this one later, may take it). A session filling its own quota never
 * lands here: programs get ENOSPC from their own filesystem. Anything else is a bug.
 */
export function storageError(err: unknown, op: string): BuntimeError {
  if (err instanceof BuntimeError) return err;
  const text = describe(err);
  if (/\b(ENOSPC|EDQUOT)\b|No space left|Disk quota exceeded|Could not allocate block/i.test(text)) {
    return unavailable('this node has no disk space left for workspaces', 'node_disk_full', op, err);
  }
  if (/\b(EIO|EROFS)\b|Input\/output error|Read-only file system/i.test(text)) {
    return unavailable('this node\'s workspace storage is failing', 'node_disk_error', op, err);
  }
  return new BuntimeError('internal_error', `workspace ${op} failed`, { cause: err, details: { op } });
}

function unavailable(message: string, reason: string, op: string, cause: unknown): BuntimeError {
  return new BuntimeError('service_unavailable', message, {
    cause, retryAfterSec: STORAGE_RETRY_AFTER_SEC, details: { reason, op },
  });
}

function describe(err: unknown): string {
  if (err instanceof HostCommandError) return `${err.stderr} ${err.message}`;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  return `${code} ${err instanceof Error ? err.message : String(err)}`;
}
