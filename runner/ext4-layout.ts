/**
 * Sizing of a session's ext4 image, pure arithmetic. The goal: the space a program can fill
 * (statfs `f_bavail`, which ext4 gives every non-privileged writer) equals the session's `disk`
 * quota, so "disk − 1 MB fits and disk + 1 MB is ENOSPC". The image is sparse, so what it takes
 * beyond the quota (journal, inode tables, bitmaps, descriptors, ext4's own reserve) costs host
 * disk only once written.
 *
 * The model follows mke2fs 1.47 with the options of {@link mkfsArgs} (4 KiB blocks, 256-byte
 * inodes, flex_bg, no resize inode, no root reserve) and the kernel's statfs; it matched every
 * size measured on Linux 6.x exactly. The store still checks statfs after every mkfs and
 * corrects the size if another mke2fs or kernel lays the filesystem out differently.
 */

export const BLOCK = 4096;
export const BLOCKS_PER_MB = (1024 * 1024) / BLOCK;
const BLOCKS_PER_GROUP = 8 * BLOCK;
const INODE_SIZE = 256;
const INODES_PER_BLOCK = BLOCK / INODE_SIZE;
const DESC_SIZE = 64;
/** Inode numbers 1–10 are ext4's own; the root directory is inode 2 among them. */
export const RESERVED_INODES = 10;

/** Inodes per MB of quota: ≥ 200 000 files at 1024 MB, a few thousand at 16 MB. */
export const INODES_PER_MB = 256;

/**
 * Inodes asked of mke2fs: 256 per MB of quota (1024 at least). mke2fs rounds it up to whole
 * inode-table blocks per block group (≤ 16 more per group), and 10 are ext4's own, so a program
 * can create `inodeTarget(diskMb) − 10` files and directories at least.
 */
export function inodeTarget(diskMb: number): number {
  return Math.max(1024, diskMb * INODES_PER_MB);
}

/** Journal size, MB: 1/32 of the quota within 4–64 MB (mke2fs's own default is size-stepped). */
export function journalMb(diskMb: number): number {
  return Math.min(64, Math.max(4, Math.floor(diskMb / 32)));
}

/** The mkfs.ext4 arguments for an image of `diskMb` whose root belongs to `uid`. */
export function mkfsArgs(file: string, diskMb: number, uid: number): string[] {
  return [
    '-q', '-F', '-t', 'ext4', '-b', String(BLOCK), '-I', String(INODE_SIZE), '-m', '0',
    '-N', String(inodeTarget(diskMb)), '-J', `size=${journalMb(diskMb)}`,
    // No resize inode: its reserved descriptor blocks, copied into every backup group, would make
    // the usable space jump by MBs at group boundaries. Online growth still works (meta_bg).
    '-O', '^resize_inode',
    // The image is a fresh sparse file (mke2fs also discards it), so its holes already read as
    // zeroes: zeroing the journal again would only write 4–64 MB of host disk for nothing.
    '-E', `lazy_journal_init=1,root_owner=${uid}:${uid}`,
    file,
  ];
}

/** Block groups of a filesystem of `blocks` blocks, after mke2fs drops a too-small last group. */
function layout(blocks: number, inodes: number): { blocks: number; groups: number; ipg: number } {
  for (;;) {
    const groups = Math.ceil(blocks / BLOCKS_PER_GROUP);
    const ipg = roundUp(Math.ceil(inodes / groups), INODES_PER_BLOCK);
    const rem = blocks % BLOCKS_PER_GROUP;
    const overhead = 3 + ipg / INODES_PER_BLOCK;
    if (groups === 1 || rem === 0 || rem >= overhead + 50) return { blocks, groups, ipg };
    blocks -= rem;
  }
}

/** Groups 0, 1 and powers of 3, 5 and 7 carry a superblock and descriptor copy (sparse_super). */
function backupGroups(groups: number): number {
  const seen = new Set([0, 1]);
  for (const base of [3, 5, 7]) for (let g = base; g < groups; g *= base) seen.add(g);
  return [...seen].filter((g) => g < groups).length;
}

/** Blocks statfs reports available (`f_bavail`) in a fresh image of `imageBlocks` blocks. */
export function availableBlocks(imageBlocks: number, diskMb: number): number {
  const { blocks, groups, ipg } = layout(imageBlocks, inodeTarget(diskMb));
  const descBlocks = Math.ceil((groups * DESC_SIZE) / BLOCK);
  const metadata =
    groups * (ipg / INODES_PER_BLOCK) + // inode tables
    groups * 2 + // block and inode bitmaps
    backupGroups(groups) * (1 + descBlocks) + // superblock and descriptors, with their copies
    journalMb(diskMb) * BLOCKS_PER_MB +
    1; // the root directory (lost+found is removed)
  // ext4 keeps 2 % of the blocks, at most 4096, out of reach of everyone (s_resv_clusters).
  const reserve = Math.min(Math.floor(blocks / 50), 4096);
  return blocks - metadata - reserve;
}

/** Slack accepted above the quota, blocks (256 KiB): group layout steps make exact hits rare. */
export const TOLERANCE_BLOCKS = 64;

/** Whether `avail` blocks meet a quota of `diskMb`: at least the quota, at most the slack above. */
export function fits(avail: number, diskMb: number): boolean {
  const excess = avail - diskMb * BLOCKS_PER_MB;
  return excess >= 0 && excess <= TOLERANCE_BLOCKS;
}

/**
 * Image size, in blocks, whose `f_bavail` meets a quota of `diskMb` per the model: from a first
 * guess, steps by the shortfall or excess ({@link nextImageBlocks}) until it fits.
 */
export function estimateImageBlocks(diskMb: number): number {
  let blocks = Math.ceil(diskMb * BLOCKS_PER_MB * 1.1) + journalMb(diskMb) * BLOCKS_PER_MB;
  for (let i = 0; i < 32; i++) {
    const avail = availableBlocks(blocks, diskMb);
    if (fits(avail, diskMb)) return blocks;
    blocks = nextImageBlocks(diskMb, blocks, avail);
  }
  throw new Error(`no ext4 image size found for ${diskMb} MB`);
}

/**
 * The next image size to try after one of `blocks` blocks gave `avail` available blocks: moved
 * by the difference, aiming at the middle of the accepted window. Availability grows by 0.98–1
 * block per block outside group boundaries, so this converges in a few steps, whether the
 * availability comes from the model or from statfs of a real image.
 */
export function nextImageBlocks(diskMb: number, blocks: number, avail: number): number {
  return blocks + diskMb * BLOCKS_PER_MB + TOLERANCE_BLOCKS / 2 - avail;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
