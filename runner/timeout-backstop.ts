import type { RunResult } from '../core/agent-protocol.ts';
import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { SessionStore } from '../core/session-store.ts';
import { ContainerCgroup } from './container-cgroup.ts';
import { gidOf, killInCgroup } from './host-kill.ts';
import type { SandboxDriver } from './sandbox-driver.ts';
import type { Sandboxes } from './sandboxes.ts';

/**
 * Timeouts that hold against anything inside: the agent ends an execution at its timeout, but it
 * shares the session's CPU share with what it must kill, and a fork bomb can starve it. So the
 * runner watches from the host: when the agent has not answered shortly after the timeout, it
 * kills the execution's processes itself, in the container's cgroup (host-kill.ts), and answers
 * `status: "timeout"` — with the agent's own result when it follows the kill at once (partial
 * output kept), else a result of its own (output only as streamed).
 *
 * Under gVisor the host cannot see the sandbox's processes: there the backstop restarts the
 * container (same container, same session), later. Until workspaces live on the node's disk,
 * that loses the session's files (tmpfs) and every process of the session.
 *
 * `POST /execution/kill` takes the same way out when the agent does not answer in time.
 */

/** After the timeout, how long the agent may take to answer before the host steps in, ms. */
export const BACKSTOP_GRACE_MS = 800;
/** The same under gVisor, where the step is a container restart, ms. */
export const GVISOR_BACKSTOP_GRACE_MS = 3_000;
/** After a host-side kill, how long the agent may take to answer with its own result, ms. */
const ANSWER_AFTER_KILL_MS = 300;
/** ...when the kill found nothing of the execution left (the agent is finishing its answer), ms. */
const ANSWER_AFTER_EMPTY_KILL_MS = 5_000;
/** How long a `kill` waits for the agent before killing from the host, ms. */
const AGENT_KILL_WAIT_MS = 2_000;

const TIMED_OUT = { status: 'timeout', timedOut: true, exitCode: 124, signal: 'SIGKILL' } as const;

export interface TimeoutBackstopOptions {
  driver: SandboxDriver;
  sandboxes: Pick<Sandboxes, 'containerOf' | 'restart'>;
  store: Pick<SessionStore, 'get'>;
  /** OCI runtime of this node's sessions; under `runsc` the host cannot see their processes. */
  runtime: string;
  log: Logger;
}

/** Reports of one guarded run: the program's start, as the agent tells it. */
export type OnStarted = (s: { pid: number; gid: number }) => void;

export class TimeoutBackstop {
  private readonly gvisor: boolean;

  constructor(private readonly o: TimeoutBackstopOptions) {
    this.gvisor = o.runtime === 'runsc';
  }

  /**
   * Runs `run` (an agent `run` with `timeoutMs`) and answers its result, or a timeout result once
   * the backstop had to end the execution from the host.
   */
  async guard(sessionId: string, timeoutMs: number, run: (onStarted: OnStarted) => Promise<RunResult>): Promise<RunResult> {
    const grace = this.gvisor ? GVISOR_BACKSTOP_GRACE_MS : BACKSTOP_GRACE_MS;
    const watch = new Watch(timeoutMs + grace, (w) => {
      w.stepping = this.step(sessionId, w.gid, () => w.answerTimeout()).catch((err: unknown) => {
        this.o.log.error({ err, sessionId }, 'timeout backstop failed');
        w.answerTimeout();
        return false;
      });
    });
    const agentRun = run(watch.onStarted);
    // Once the backstop answered, the agent's late answer (or its channel's end) goes nowhere.
    agentRun.catch(() => {});
    try {
      const r = await Promise.race([agentRun, watch.forced]);
      if ('forced' in r) return r.forced;
      // The agent answered, but after the host killed its program: that was the timeout.
      return watch.stepping && (await watch.stepping) && r.status !== 'timeout' ? { ...r, ...TIMED_OUT } : r;
    } catch (err) {
      // Under gVisor a fork bomb takes its sandbox down (the sandbox's own host tasks reach the
      // container's pids limit): the program ended with it, which is its result.
      if (!this.gvisor || !watch.started || !(err instanceof BuntimeError) || err.code !== 'service_unavailable') throw err;
      this.o.log.warn({ sessionId }, 'the sandbox went down while a program ran');
      const elapsed = Date.now() - watch.startedAt;
      return elapsed >= timeoutMs ? timedOut(elapsed) : wentDown(elapsed);
    } finally {
      watch.settle();
    }
  }

  /**
   * Kills processes of a session for `POST /execution/kill`: through the agent (`viaAgent`), or
   * from the host when the agent does not answer within {@link AGENT_KILL_WAIT_MS}.
   */
  async kill(sessionId: string, pid: number | undefined, viaAgent: () => Promise<number[]>): Promise<{ killed: boolean; pids: number[] }> {
    const answer = viaAgent();
    answer.catch(() => {});
    const pids = await Promise.race([answer, sleep(AGENT_KILL_WAIT_MS).then(() => undefined)]);
    if (pids) return { killed: pids.length > 0, pids };
    this.o.log.warn({ sessionId }, 'the agent did not answer a kill in time; killing from the host');
    if (this.gvisor) {
      await this.o.sandboxes.restart(sessionId);
      return { killed: true, pids: pid === undefined ? [] : [pid] };
    }
    const cg = await this.cgroupOf(sessionId);
    let gid: number | undefined;
    if (pid !== undefined) {
      gid = await gidOf(cg.cgroup, cg.uid, pid);
      if (gid === undefined) throw new BuntimeError('not_found', `no user process ${pid}`, { details: { pid } });
    }
    const killed = await killInCgroup(cg.cgroup, { uid: cg.uid, gid });
    return { killed: killed.length > 0, pids: killed };
  }

  /**
   * The backstop's step once the agent is late: kill the execution from the host (then give the
   * agent a moment to answer with its real result), or restart the container where that cannot
   * be done. `answer` gives the caller its timeout result; resolves true if processes were killed.
   */
  private async step(sessionId: string, gid: number | undefined, answer: () => void): Promise<boolean> {
    const log = this.o.log.child({ sessionId });
    if (!this.gvisor) {
      try {
        const cg = await this.cgroupOf(sessionId);
        const killed = await killInCgroup(cg.cgroup, { uid: cg.uid, gid });
        log.warn({ killed: killed.length, gid }, 'execution past its timeout: killed from the host');
        setTimeout(answer, killed.length > 0 ? ANSWER_AFTER_KILL_MS : ANSWER_AFTER_EMPTY_KILL_MS);
        return killed.length > 0;
      } catch (err) {
        log.error({ err }, 'could not kill an execution from the host; restarting its sandbox');
      }
    } else {
      log.warn('execution past its timeout under gVisor: restarting its sandbox');
    }
    answer();
    await this.o.sandboxes.restart(sessionId).catch((err: unknown) => log.error({ err }, 'could not restart a sandbox'));
    return true;
  }

  private async cgroupOf(sessionId: string): Promise<{ cgroup: ContainerCgroup; uid: number }> {
    const [containerId, rec] = await Promise.all([this.o.sandboxes.containerOf(sessionId), this.o.store.get(sessionId)]);
    const hostPid = containerId ? await this.o.driver.hostPid(containerId) : undefined;
    const cgroup = hostPid ? await ContainerCgroup.of(hostPid) : undefined;
    if (!rec || !cgroup) throw new Error(`no cgroup found for session ${sessionId}`);
    return { cgroup, uid: rec.uid };
  }
}

/**
 * One guarded run: its timer — armed from the request on (an agent starved from the start may
 * never report the start), and again from the start once reported, so writing the run's files
 * never counts — what the agent reported, and the backstop's step once it fired.
 */
class Watch {
  startedAt = Date.now();
  started = false;
  gid: number | undefined;
  /** The backstop's step; resolves true if it killed processes of the execution. */
  stepping: Promise<boolean> | undefined;
  /** Settles with the backstop's own answer. */
  readonly forced: Promise<{ forced: RunResult }>;
  private force!: (r: { forced: RunResult }) => void;
  private timer: NodeJS.Timeout | undefined;
  private settled = false;

  constructor(
    private readonly delayMs: number,
    private readonly fire: (w: Watch) => void,
  ) {
    this.forced = new Promise((resolve) => (this.force = resolve));
    this.arm();
  }

  readonly onStarted: OnStarted = (s) => {
    this.startedAt = Date.now();
    this.started = true;
    this.gid = s.gid;
    this.arm();
  };

  answerTimeout(): void {
    this.force({ forced: timedOut(Date.now() - this.startedAt) });
  }

  /** The run is answered: nothing fires any more (a start reported late included). */
  settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (!this.settled) this.timer = setTimeout(() => this.fire(this), this.delayMs);
  }
}

/** The result the runner gives when the agent could not: a timeout, measured from the start. */
function timedOut(executionTime: number): RunResult {
  return {
    stdout: '', stderr: '', ...TIMED_OUT, executionTime, memoryUsed: 0, cpuTime: 0,
    stdoutTruncated: false, stderrTruncated: false, filesWritten: [],
  };
}

/** The result of a program whose sandbox went down under it before its timeout. */
function wentDown(executionTime: number): RunResult {
  return { ...timedOut(executionTime), status: 'killed', timedOut: false, exitCode: null };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
