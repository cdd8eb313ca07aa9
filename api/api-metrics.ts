import { Counter, Histogram, type Registry } from 'prom-client';
import { createRegistry, RedisErrorCounter } from '../core/metrics.ts';
import type { ExecutionStatus } from '../core/schemas.ts';

/** Latency buckets of HTTP requests, s: from a cached answer to a long execution or stream. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Wall-time buckets of executions, s (plan timeouts go up to 300 s). */
const EXECUTION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * How an execution asked for through this API instance ended: a program's status (`ok`, `error`,
 * `timeout`, `oom`, `killed`), `background` (started with `background: true`), or `failed` (no
 * result: an API error such as 408, 503 or 507).
 */
export type ExecutionOutcome = ExecutionStatus | 'background' | 'failed';

/**
 * The API instance's series: requests by route template and status, executions by outcome with
 * their wall time, Redis command errors, and the process's own series. Executions are counted
 * here, where their callers are answered (streamed ones included), not on the runners, so each
 * is counted once.
 */
export class ApiMetrics {
  readonly registry: Registry;
  readonly redisErrors: RedisErrorCounter;
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly executions: Counter<'status'>;
  private readonly executionTime: Histogram<'status'>;

  constructor() {
    this.registry = createRegistry();
    const registers = [this.registry];
    this.redisErrors = new RedisErrorCounter(this.registry);
    this.requests = new Counter({
      name: 'buntime_http_requests_total', help: 'HTTP requests answered, by method, route template and status',
      labelNames: ['method', 'route', 'status'], registers,
    });
    this.latency = new Histogram({
      name: 'buntime_http_request_duration_seconds', help: 'Time from request to the end of the answer (streams included), s',
      labelNames: ['method', 'route', 'status'], buckets: REQUEST_BUCKETS, registers,
    });
    this.executions = new Counter({
      name: 'buntime_executions_total', help: 'Executions answered by this API instance, by status (program status, background, failed)',
      labelNames: ['status'], registers,
    });
    this.executionTime = new Histogram({
      name: 'buntime_execution_duration_seconds', help: 'Wall time of executions as measured in the sandbox, s',
      labelNames: ['status'], buckets: EXECUTION_BUCKETS, registers,
    });
  }

  /** One answered request; `route` is a template (`/sessions/:id`) or `unmatched`. */
  request(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }

  /** One execution's outcome; `executionTimeMs` when the program ran to a result. */
  execution(status: ExecutionOutcome, executionTimeMs?: number): void {
    this.executions.inc({ status });
    if (executionTimeMs !== undefined) this.executionTime.observe({ status }, executionTimeMs / 1000);
  }
}
