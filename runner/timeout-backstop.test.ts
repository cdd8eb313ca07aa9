import { describe, expect, it } from 'vitest';
import type { RunResult } from '../core/agent-protocol.ts';
import { BuntimeError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import type { SandboxDriver } from './sandbox-driver.ts';
import { BACKSTOP_GRACE_MS, GVISOR_BACKSTOP_GRACE_MS, TimeoutBackstop, type OnStarted } from './timeout-backstop.ts';

/** A backstop whose host side finds no cgroup (as on a host it cannot see), recording restarts. */
function backstop(runtime: 'runc' | 'runsc') {
  const restarts: string[] = [];
  const b = new TimeoutBackstop({
    driver: { hostPid: async () => undefined } as unknown as SandboxDriver,
    sandboxes: { containerOf: async () => 'c1', restart: async (id: string) => void restarts.push(id) },
    store: { get: async () => ({ uid: 200_123 }) as never },
    runtime, log: createLogger('silent'),
  });
  return { b, restarts };
}

const ok: RunResult = {
  stdout: 'hi\n', stderr: '', exitCode: 0, signal: null, executionTime: 5, memoryUsed: 1, cpuTime: 1, timedOut: false,
  status: 'ok', stdoutTruncated: false, stderrTruncated: false, filesWritten: [],
};
const never = () => new Promise<RunResult>(() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TimeoutBackstop', () => {
  it('answers the agent\'s result when it comes in time, and does nothing else', async () => {
    const { b, restarts } = backstop('runc');
    const r = await b.guard('ses_1', 50, async (started) => {
      started({ pid: 7, gid: 2_000_000_001 });
      await sleep(20);
      return ok;
    });
    expect(r).toBe(ok);
    await sleep(BACKSTOP_GRACE_MS + 100);
    expect(restarts).toEqual([]);
  });

  it('answers a timeout and restarts the sandbox when the agent is silent and the host cannot reach in', async () => {
    const { b, restarts } = backstop('runc');
    const t0 = Date.now();
    const r = await b.guard('ses_2', 50, never);
    expect(r).toMatchObject({ status: 'timeout', timedOut: true, exitCode: 124, signal: 'SIGKILL', stdout: '' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50 + BACKSTOP_GRACE_MS - 5);
    await sleep(10);
    expect(restarts).toEqual(['ses_2']);
  });

  it('restarts a gVisor sandbox later, and ignores a start reported after the answer', async () => {
    const { b, restarts } = backstop('runsc');
    let report: OnStarted = () => {};
    const t0 = Date.now();
    const r = await b.guard('ses_3', 50, (started) => {
      report = started;
      return never();
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50 + GVISOR_BACKSTOP_GRACE_MS - 5);
    expect(r.status).toBe('timeout');
    report({ pid: 1, gid: 2 });
    await sleep(GVISOR_BACKSTOP_GRACE_MS + 200);
    expect(restarts).toEqual(['ses_3']);
  }, 15_000);

  it('turns a gVisor sandbox going down under a running program into its result', async () => {
    const { b } = backstop('runsc');
    const gone = new BuntimeError('service_unavailable', 'the session sandbox restarted; retry');
    const early = await b.guard('ses_4', 1_000, async (started) => {
      started({ pid: 1, gid: 2 });
      await sleep(10);
      throw gone;
    });
    expect(early).toMatchObject({ status: 'killed', timedOut: false, signal: 'SIGKILL', exitCode: null });
    const late = await b.guard('ses_4', 30, async (started) => {
      started({ pid: 1, gid: 2 });
      await sleep(60);
      throw gone;
    });
    expect(late).toMatchObject({ status: 'timeout', timedOut: true });
    // Before the program started it is not a result: the error stands.
    await expect(b.guard('ses_4', 30, async () => { throw gone; })).rejects.toBe(gone);
  });

  it('kills through the agent when it answers, from outside when it does not', async () => {
    const { b, restarts } = backstop('runsc');
    expect(await b.kill('ses_5', undefined, async () => [12, 13])).toEqual({ killed: true, pids: [12, 13] });
    expect(await b.kill('ses_5', 12, never as unknown as () => Promise<number[]>)).toEqual({ killed: true, pids: [12] });
    expect(restarts).toEqual(['ses_5']);
  }, 10_000);
});
