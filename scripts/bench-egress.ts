import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Buntime, ResourceLimits } from '@buntime/sdk';
import { FIXTURE_PACKAGE, startEgressFixtures, type EgressFixtures } from '../test/support/egress-fixtures.ts';

/**
 * The egress part of `npm run bench`: a 1 MiB fetch through the proxy from a session next to the
 * same fetch from the host, same program, same run; and `bun add` of the fixture package in a
 * first and a second session. Upstreams are the test fixtures on 127.0.0.1, reached from sessions
 * by internal-host names ({@link egressBenchEnv}); nothing leaves the machine.
 */

/** Fetches measured per side (after warm-up ones). */
const FETCHES = 30;
const WARMUP = 5;

/** Starts the fixtures; the runner must get {@link egressBenchEnv} of them. */
export function startEgressBench(): Promise<EgressFixtures> {
  return startEgressFixtures(['fixture.test']);
}

/** Runner settings for the bench: fixture names, the fixture registry, no DNS, no dial off loopback. */
export function egressBenchEnv(fx: EgressFixtures): Record<string, string> {
  return {
    EGRESS_INTERNAL_HOSTS: `fixture.test=127.0.0.1,registry.test=127.0.0.1:${fx.registry.port}`,
    NPM_REGISTRY_URL: 'http://registry.test/', EGRESS_RESOLVER: 'static', EGRESS_TEST_GUARD: '1',
  };
}

/** A Bun program that fetches `url` WARMUP + FETCHES times and prints the measured times, ms, as JSON. */
function fetchProgram(url: string): string {
  return `const times = [];
    for (let i = 0; i < ${WARMUP + FETCHES}; i++) {
      const t = performance.now();
      const b = await (await fetch(${JSON.stringify(url)})).arrayBuffer();
      if (b.byteLength !== ${1 << 20}) throw new Error('short body ' + b.byteLength);
      if (i >= ${WARMUP}) times.push(performance.now() - t);
    }
    console.log(JSON.stringify(times));`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Rows for the bench table: name, value, note. */
export async function benchEgress(
  client: Buntime, fx: EgressFixtures, bun: string, limits: ResourceLimits,
): Promise<Array<[string, string, string]>> {
  // Asynchronously: the fixtures answer from this very process.
  const host = await promisify(execFile)(bun, ['-e', fetchProgram(`http://127.0.0.1:${fx.http.port}/mb`)], { encoding: 'utf8' });
  const hostMs = median(JSON.parse(host.stdout) as number[]);
  // A whole core, like the host's program: the figure is the proxy's, not the CPU quota's.
  const s = await client.sessions.create({ resourceLimits: limits });
  const viaProxy = await client.execute({ sessionId: s.id, code: fetchProgram(`http://fixture.test:${fx.http.port}/mb`) });
  if (viaProxy.exitCode !== 0) throw new Error(`session fetch failed: ${viaProxy.stderr}`);
  const proxyMs = median(JSON.parse(viaProxy.stdout) as number[]);
  await client.sessions.delete(s.id);
  const adds = [await timedAdd(client), await timedAdd(client)];
  return [
    ['1 MiB fetch from the host (loopback), p50', `${hostMs.toFixed(1)} ms`, 'baseline of the next row'],
    ['1 MiB fetch from a session through the proxy, p50', `${proxyMs.toFixed(1)} ms`,
      `${(proxyMs / hostMs).toFixed(2)}× host (target ≤ 2×); +${(proxyMs - hostMs).toFixed(1)} ms for the relay and the proxy`],
    ['`bun add` of the fixture package, first session', `${adds[0]!.toFixed(0)} ms`, 'execution time, empty install cache'],
    ['`bun add` of the fixture package, second session', `${adds[1]!.toFixed(0)} ms`, 'each session has its own cache (in its workspace)'],
  ];
}

/** `bun add` in a fresh session: its execution time, ms. */
async function timedAdd(client: Buntime): Promise<number> {
  const s = await client.sessions.create();
  try {
    const r = await client.execute({ sessionId: s.id, command: `bun add ${FIXTURE_PACKAGE}` });
    if (r.exitCode !== 0) throw new Error(`bun add failed: ${r.stderr}`);
    return r.executionTime;
  } finally {
    await client.sessions.delete(s.id);
  }
}
