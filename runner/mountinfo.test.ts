import { describe, expect, it } from 'vitest';
import { mountAt, parseMountinfo } from './mountinfo.ts';

const TEXT = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
  '90 27 7:3 / /var/lib/buntime/workspaces/mnt/ses_a rw,nosuid,nodev,relatime shared:50 master:3 - ext4 /dev/loop3 rw',
  '91 27 7:4 / /srv/with\\040space rw - ext4 /dev/loop4 rw',
  '92 90 0:40 / /var/lib/buntime/workspaces/mnt/ses_a rw - tmpfs tmpfs rw',
  '',
].join('\n');

describe('parseMountinfo', () => {
  it('reads device, mountpoint, type and source, with optional tags and escapes', () => {
    const entries = parseMountinfo(TEXT);
    expect(entries).toHaveLength(5);
    expect(entries[2]).toEqual({ device: '7:3', mountPoint: '/var/lib/buntime/workspaces/mnt/ses_a', fsType: 'ext4', source: '/dev/loop3' });
    expect(entries[3]?.mountPoint).toBe('/srv/with space');
  });

  it('finds the top of a stack of mounts on one path', () => {
    expect(mountAt(parseMountinfo(TEXT), '/var/lib/buntime/workspaces/mnt/ses_a')?.fsType).toBe('tmpfs');
    expect(mountAt(parseMountinfo(TEXT), '/nowhere')).toBeUndefined();
  });
});
