import type { Buntime } from '@buntime/sdk';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEgressFixtures, type EgressFixtures } from './support/egress-fixtures.ts';
import { expectClientsWork, expectKeepAliveJudged, fixtureHosts } from './support/egress-checks.ts';
import { ownService } from './support/harness.ts';

/**
 * Egress under gVisor: the agent reaches the runner's data socket through the bind mount only
 * because the engine registers runsc with --host-uds=open (scripts/bootstrap.sh); the same
 * clients work as under runc.
 */
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
let fx: EgressFixtures;
let service: Awaited<ReturnType<typeof ownService>>;
let client: Buntime;
let sessionId: string;

beforeAll(async () => {
  const runsc = (await docker.info()).Runtimes?.runsc as { runtimeArgs?: string[] } | undefined;
  expect(runsc, 'the engine must have the runsc runtime registered').toBeDefined();
  expect(runsc?.runtimeArgs).toContain('--host-uds=open');
  fx = await startEgressFixtures(['fixture.test']);
  service = await ownService('egvisor', { SANDBOX_RUNTIME: 'runsc', WARM_POOL_SIZE: '0', EGRESS_INTERNAL_HOSTS: fixtureHosts(fx) });
  client = await service.client('paid');
  sessionId = (await client.sessions.create({ resourceLimits: { memory: 512, cpu: 1, disk: 256 } })).id;
});
afterAll(async () => {
  await client?.sessions.delete(sessionId).catch(() => {});
  await service?.stop();
  await fx?.stop();
});

describe('egress under gVisor (runsc)', () => {
  it('fetch over http and https, a 5 MB download, node:https and busybox wget all work', async () => {
    const [c] = await docker.listContainers({ filters: { label: [`buntime.session=${sessionId}`] } });
    expect((await docker.getContainer(c!.Id).inspect()).HostConfig.Runtime).toBe('runsc');
    await expectClientsWork(client, sessionId, fx);
  });

  it('judges each request of a keep-alive connection', async () => {
    await expectKeepAliveJudged(client, sessionId, fx, () => service.egressStats().dials);
  });
});
