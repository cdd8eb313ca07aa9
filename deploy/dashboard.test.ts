import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiMetrics } from '../api/api-metrics.ts';
import { NodeMetrics } from '../runner/node-metrics.ts';

const dashboard = JSON.parse(readFileSync(new URL('./grafana-dashboard.json', import.meta.url), 'utf8')) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};

/** Every series name the API and a runner expose (histograms with their _bucket/_sum/_count). */
async function exposed(): Promise<Set<string>> {
  const node = new NodeMetrics('n1', {
    sessionStates: async () => ({ active: 0, idle: 0, 'deep-sleep': 0, lost: 0 }), warmReady: () => 0, warmTarget: 0, capacity: 1,
  });
  const names = new Set<string>();
  for (const text of [await new ApiMetrics().registry.metrics(), await node.registry.metrics()]) {
    for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
      names.add(m[1]!);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1]! + s);
    }
  }
  return names;
}

describe('the Grafana dashboard', () => {
  it('queries only series the API and the runners expose', async () => {
    const names = await exposed();
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\bbuntime_[a-z_]+/g)].map((m) => m[0])));
    expect(used.length).toBeGreaterThan(20);
    for (const name of used) expect(names.has(name), name).toBe(true);
  });
});
