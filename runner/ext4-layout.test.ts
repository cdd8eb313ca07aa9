import { describe, expect, it } from 'vitest';
import {
  availableBlocks, BLOCKS_PER_MB, estimateImageBlocks, fits, inodeTarget, journalMb, mkfsArgs, nextImageBlocks,
  TOLERANCE_BLOCKS,
} from './ext4-layout.ts';

/**
 * statfs `f_bavail` of real images (mke2fs 1.47.0, Linux 6.x, the options of mkfsArgs, then
 * lost+found removed), measured with loop mounts: [quota MB, image blocks, f_bavail].
 */
const MEASURED: Array<[number, number, number]> = [
  [16, 5530, 4135],
  [64, 18849, 16420],
  [128, 36622, 32809],
  [256, 73207, 65586],
  [1024, 290882, 262176],
  [2048, 577626, 524319],
  [5120, 1413284, 1310771],
  [20480, 5591595, 5242921],
];

describe('ext4 layout', () => {
  it('predicts f_bavail of real images exactly', () => {
    for (const [diskMb, blocks, avail] of MEASURED) expect(availableBlocks(blocks, diskMb)).toBe(avail);
  });

  it('sizes an image so that programs can fill the quota and at most 256 KiB more', () => {
    for (const diskMb of [16, 17, 64, 100, 127, 128, 129, 500, 1000, 1024, 3000, 5120, 8192, 20480]) {
      const avail = availableBlocks(estimateImageBlocks(diskMb), diskMb);
      expect(avail).toBeGreaterThanOrEqual(diskMb * BLOCKS_PER_MB);
      expect(avail).toBeLessThanOrEqual(diskMb * BLOCKS_PER_MB + TOLERANCE_BLOCKS);
    }
  });

  it('caps inodes at 256 per MB: over 200 000 files at 1 GB, a few thousand at 16 MB', () => {
    expect(inodeTarget(1024)).toBe(262_144);
    expect(inodeTarget(64)).toBe(16_384);
    expect(inodeTarget(16)).toBe(4096);
    expect(inodeTarget(1)).toBe(1024);
  });

  it('keeps the journal within 4–64 MB', () => {
    expect([16, 64, 256, 1024, 5120, 20480].map(journalMb)).toEqual([4, 4, 8, 32, 64, 64]);
  });

  it('accepts only the quota up to the slack, and steps towards it from either side', () => {
    expect(fits(1024 * BLOCKS_PER_MB - 1, 1024)).toBe(false);
    expect(fits(1024 * BLOCKS_PER_MB, 1024)).toBe(true);
    expect(fits(1024 * BLOCKS_PER_MB + TOLERANCE_BLOCKS + 1, 1024)).toBe(false);
    expect(nextImageBlocks(16, 5000, 4000)).toBeGreaterThan(5000);
    expect(nextImageBlocks(16, 6000, 5000)).toBeLessThan(6000);
  });

  it('asks mkfs for no root reserve, the inode cap, a lazy journal and the uid as owner of the root', () => {
    const args = mkfsArgs('/w/ses_x.img', 64, 200_123);
    expect(args).toEqual(expect.arrayContaining(['-m', '0', '-N', '16384', '-b', '4096', 'lazy_journal_init=1,root_owner=200123:200123']));
    expect(args.at(-1)).toBe('/w/ses_x.img');
  });
});
