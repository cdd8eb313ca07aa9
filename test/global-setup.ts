import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { startApi } from '../api/main.ts';
import { startRunner } from '../runner/main.ts';
import { SUITE_EGRESS_ENV } from './support/egress-env.ts';
import { removeTestNode } from './support/node-cleanup.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    redisUrl: string;
    redisPrefix: string;
    nodeId: string;
  }
}

/**
 * Starts one runner and the API against the real Docker engine and Redis that scripts/test.sh
 * brought up, under a prefix and node id of their own. Fails the run loudly if either is missing.
 * Every service of the suite runs with {@link SUITE_EGRESS_ENV} (no DNS, no packet off loopback).
 */
export default async function setup(project: TestProject) {
  // Before any worker starts: services that tests start from process.env inherit it too.
  Object.assign(process.env, SUITE_EGRESS_ENV);
  const run = randomBytes(4).toString('hex');
  const env = {
    ...process.env,
    REDIS_PREFIX: `bttest-${run}`,
    NODE_ID: `test-${run}`,
    PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    // Every test talks from 127.0.0.1, and many present bad credentials on purpose: the failed-
    // authentication limit of one address is tested on services of its own.
    AUTH_FAILURES_PER_MINUTE: process.env.AUTH_FAILURES_PER_MINUTE ?? '0',
  };
  const runner = await startRunner(env);
  const api = await startApi(env);
  project.provide('apiUrl', api.url);
  project.provide('redisUrl', process.env.REDIS_URL ?? 'redis://127.0.0.1:6399');
  project.provide('redisPrefix', env.REDIS_PREFIX);
  project.provide('nodeId', env.NODE_ID);
  return async () => {
    await api.stop();
    await runner.stop();
    await removeTestNode(env.NODE_ID, env);
  };
}
