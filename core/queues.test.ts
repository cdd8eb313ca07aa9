import { describe, expect, it } from 'vitest';
import { nodeJobQueue, nodeJobs, nodeQueueName, sessionJobs, type JobDef } from './queues.ts';

describe('queue catalogue', () => {
  it('gives every job type a default deadline', () => {
    const all: Record<string, JobDef> = { ...sessionJobs, ...nodeJobs };
    for (const [name, def] of Object.entries(all)) {
      expect(def.deadlineMs, name).toBeGreaterThan(0);
      expect(Number.isInteger(def.deadlineMs), name).toBe(true);
    }
  });

  it('puts every node job in a lane, executions apart from control operations', () => {
    for (const [name, def] of Object.entries(nodeJobs)) expect(['exec', 'data', 'control'], name).toContain(def.lane);
    expect(nodeJobQueue('n1', 'execute')).toBe(nodeQueueName('n1', 'exec'));
    expect(nodeJobQueue('n1', 'stat')).not.toBe(nodeJobQueue('n1', 'execute'));
    expect(nodeJobQueue('n1', 'kill')).toBe(nodeQueueName('n1', 'control'));
  });

  it('budgets an execution by its own timeout', () => {
    const budget = nodeJobs.execute.budgetMs;
    expect(budget({ timeoutMs: 12_345 } as Parameters<typeof budget>[0])).toBe(12_345);
  });
});
