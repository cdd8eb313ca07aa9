import { describe, expect, it } from 'vitest';
import { BuntimeError } from '../core/errors.ts';
import { HostCommandError } from './host-command.ts';
import { storageError } from './storage-error.ts';

const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });

describe('storageError', () => {
  it('turns a full host disk, from a tool or a file call, into service_unavailable with a retry hint', () => {
    for (const err of [
      new HostCommandError('mkfs.ext4', 'mkfs.ext4: No space left on device while writing out and closing file system', 1),
      new HostCommandError('cp', "cp: error writing 'x': No space left on device", 1),
      errno('ENOSPC'),
      errno('EDQUOT'),
    ]) {
      const mapped = storageError(err, 'create');
      expect(mapped.code).toBe('service_unavailable');
      expect(mapped.retryAfterSec).toBeGreaterThan(0);
      expect(mapped.details).toEqual({ reason: 'node_disk_full', op: 'create' });
    }
  });

  it('turns I/O errors into service_unavailable, anything else into internal_error, and keeps catalogue errors', () => {
    expect(storageError(errno('EIO'), 'copy').details).toEqual({ reason: 'node_disk_error', op: 'copy' });
    expect(storageError(new HostCommandError('mount', 'mount: wrong fs type, bad option', 32), 'mount').code).toBe('internal_error');
    const own = new BuntimeError('not_found', 'gone');
    expect(storageError(own, 'mount')).toBe(own);
  });
});
