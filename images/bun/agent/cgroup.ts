/**
 * The container's cgroup as the agent sees it from inside: the OOM-kill counter and the pids
 * limit. cgroup v2 files sit in /sys/fs/cgroup; v1 (as Docker mounts it in the container) in
 * per-controller directories. Where neither is visible (e.g. gVisor) the values are unknown.
 */
import { readFileSync } from 'node:fs';

const OOM_SOURCES = ['/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control'];
const PIDS_SOURCES = ['/sys/fs/cgroup/pids.max', '/sys/fs/cgroup/pids/pids.max'];

/**
 * The OOM-kill counter, read before and after a run: a program that died of SIGKILL the agent
 * did not send, while the counter went up, was killed by the memory limit.
 */
export class OomCounter {
  private readonly path: string | undefined = OOM_SOURCES.find((p) => readOomKills(p) !== undefined);

  /** Current count, or undefined when the cgroup does not tell. */
  read(): number | undefined {
    return this.path === undefined ? undefined : readOomKills(this.path);
  }
}

function readOomKills(path: string): number | undefined {
  const m = /^oom_kill (\d+)$/m.exec(readOrEmpty(path));
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** The container's pids limit (processes and threads), or undefined when unlimited/unknown. */
export function pidsMax(): number | undefined {
  for (const path of PIDS_SOURCES) {
    const n = Number(readOrEmpty(path).trim());
    if (Number.isSafeInteger(n) && n > 0) return n;
  }
  return undefined;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}
