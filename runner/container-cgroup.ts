import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A container's cgroup as the host sees it: freezing and thawing it, and listing its processes.
 * Found from the container's main process (`/proc/<pid>/cgroup`) and the host's cgroup mounts
 * (`/proc/self/mountinfo`): the v1 freezer hierarchy when there is one (Docker on a v1 or hybrid
 * host freezes there), else the unified v2 hierarchy (`cgroup.freeze`). Needs the runner in the
 * host's pid namespace with the host's cgroupfs mounted (it is root on the node).
 */

/** Where a container's cgroup is: the directory to freeze and list, and its hierarchy's version. */
export interface CgroupLocation {
  version: 1 | 2;
  dir: string;
}

interface Mount {
  root: string;
  point: string;
  fstype: string;
  superOpts: string[];
}

/** Mounts of cgroupfs from a mountinfo text. */
function cgroupMounts(mountinfo: string): Mount[] {
  const out: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [fstype, , superOpts = ''] = right.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({ root: unescape(f[3] ?? '/'), point: unescape(f[4] ?? ''), fstype, superOpts: superOpts.split(',') });
  }
  return out;
}

/** mountinfo escapes spaces and the like as octal (`\040`). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** `path` (relative to its hierarchy's root) under a mount of that hierarchy. */
function under(m: Mount, path: string): string | undefined {
  if (m.root === '/') return join(m.point, path);
  if (path === m.root || path.startsWith(`${m.root}/`)) return join(m.point, path.slice(m.root.length));
  return undefined;
}

/**
 * The cgroup to freeze for a process, from its `/proc/<pid>/cgroup` and the host's mountinfo:
 * the v1 freezer if the process has one and it is mounted, else the v2 unified cgroup.
 */
export function locateCgroup(procCgroup: string, mountinfo: string): CgroupLocation | undefined {
  const mounts = cgroupMounts(mountinfo);
  const v1 = /^\d+:([^:]*\bfreezer\b[^:]*):(.+)$/m.exec(procCgroup);
  const freezer = mounts.find((m) => m.fstype === 'cgroup' && m.superOpts.includes('freezer'));
  if (v1 && freezer) {
    const dir = under(freezer, v1[2]!);
    if (dir) return { version: 1, dir };
  }
  const v2 = /^0::(.+)$/m.exec(procCgroup);
  const unified = mounts.find((m) => m.fstype === 'cgroup2');
  if (v2 && unified && v2[1] !== '/') {
    const dir = under(unified, v2[1]!);
    if (dir) return { version: 2, dir };
  }
  return undefined;
}

export class ContainerCgroup {
  private constructor(readonly location: CgroupLocation) {}

  /** The cgroup of the container whose main process is `hostPid`; undefined if none is found. */
  static async of(hostPid: number, proc = '/proc'): Promise<ContainerCgroup | undefined> {
    const [procCgroup, mountinfo] = await Promise.all([
      readFile(join(proc, String(hostPid), 'cgroup'), 'utf8'), readFile(join(proc, 'self', 'mountinfo'), 'utf8'),
    ]).catch(() => ['', '']);
    const location = locateCgroup(procCgroup, mountinfo);
    return location && new ContainerCgroup(location);
  }

  /** True when the cgroup is frozen or freezing (e.g. `docker pause`, or this node's own freeze). */
  async frozen(): Promise<boolean> {
    if (this.location.version === 1) return (await this.read('freezer.state')) !== 'THAWED';
    return (await this.read('cgroup.freeze')) === '1';
  }

  /** Freezes it; resolves true once every task is frozen, false if that took longer than `waitMs`. */
  async freeze(waitMs: number): Promise<boolean> {
    const v1 = this.location.version === 1;
    await this.write(v1 ? 'freezer.state' : 'cgroup.freeze', v1 ? 'FROZEN' : '1');
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (v1 ? (await this.read('freezer.state')) === 'FROZEN' : /^frozen 1$/m.test(await this.read('cgroup.events'))) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async thaw(): Promise<void> {
    const v1 = this.location.version === 1;
    await this.write(v1 ? 'freezer.state' : 'cgroup.freeze', v1 ? 'THAWED' : '0');
  }

  /** Host pids of every process in the cgroup and the cgroups below it. */
  async pids(dir = this.location.dir): Promise<number[]> {
    const own = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
    const children = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory());
    const nested = await Promise.all(children.map((c) => this.pids(join(dir, c.name))));
    return [...own, ...nested.flat()];
  }

  private async read(file: string): Promise<string> {
    return (await readFile(join(this.location.dir, file), 'utf8')).trim();
  }

  private async write(file: string, value: string): Promise<void> {
    await writeFile(join(this.location.dir, file), value);
  }
}
