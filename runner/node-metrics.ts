import type { Job, Worker } from 'bullmq';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EgressLogEntry } from '../core/egress-log.ts';
import { createRegistry, RedisErrorCounter } from '../core/metrics.ts';
import type { SessionState } from '../core/session-store.ts';

/** What the node's gauges read at scrape time. */
export interface NodeGaugeSources {
  /** Sessions hosted here by recorded state. */
  sessionStates: () => Promise<Record<SessionState, number>>;
  /** Warm sandboxes ready now. */
  warmReady: () => number;
  /** Warm sandboxes the pool aims for (`WARM_POOL_SIZE`). */
  warmTarget: number;
  /** Sessions the node hosts at most (`NODE_SESSION_CAPACITY`). */
  capacity: number;
}

/** Connections the egress proxy has open now (`EgressProxy.connections`). */
export type EgressConnectionSource = () => { client: number; upstream: number };

/** Outcome of one webhook delivery attempt. */
export type DeliveryOutcome = 'ok' | 'failed' | 'refused';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * A runner's series, every one labelled with its `node`: sessions by state, warm pool, job slots
 * in use and queue wait per lane, container start and session wake durations, egress, webhook
 * delivery attempts, Redis command errors, and the process's own series. Modules report through
 * the methods; gauges are read from their sources at scrape time.
 */
export class NodeMetrics {
  readonly registry: Registry;
  readonly redisErrors: RedisErrorCounter;
  private readonly node: string;
  private readonly slotsInUse = new Map<string, Set<string>>();
  /** Assigned by gauges(), from the constructor. */
  private slotGauge!: Gauge<'node' | 'lane'>;
  private readonly queueWait: Histogram<'node' | 'lane' | 'job'>;
  private readonly containerStart: Histogram<'node'>;
  private readonly wake: Histogram<'node' | 'from'>;
  private readonly egressConnections: Counter<'node' | 'decision'>;
  private readonly egressBytes: Counter<'node' | 'direction'>;
  private readonly deliveries: Counter<'node' | 'outcome'>;
  private egressOpen: EgressConnectionSource = () => ({ client: 0, upstream: 0 });

  constructor(nodeId: string, sources: NodeGaugeSources) {
    this.node = nodeId;
    this.registry = createRegistry();
    const registers = [this.registry];
    this.redisErrors = new RedisErrorCounter(this.registry);
    this.gauges(sources);
    this.queueWait = new Histogram({
      name: 'buntime_job_queue_wait_seconds', help: 'Time from enqueue to start of node jobs, by lane and job, s',
      labelNames: ['node', 'lane', 'job'], buckets: SECONDS, registers,
    });
    this.containerStart = new Histogram({
      name: 'buntime_container_create_seconds', help: 'Time to create and start a session container until its agent answers, s',
      labelNames: ['node'], buckets: SECONDS, registers,
    });
    this.wake = new Histogram({
      name: 'buntime_session_wake_seconds', help: 'Time to wake a session: thaw an idle one, revive a deep-sleeping one, s',
      labelNames: ['node', 'from'], buckets: SECONDS, registers,
    });
    this.egressConnections = new Counter({
      name: 'buntime_egress_connections_total', help: 'Egress requests and tunnels of sessions, allowed or denied',
      labelNames: ['node', 'decision'], registers,
    });
    this.egressBytes = new Counter({
      name: 'buntime_egress_bytes_total', help: 'Bytes exchanged with egress upstreams (in: received, out: sent)',
      labelNames: ['node', 'direction'], registers,
    });
    this.deliveries = new Counter({
      name: 'buntime_webhook_deliveries_total', help: 'Webhook delivery attempts by outcome (ok, failed, refused by the address policy)',
      labelNames: ['node', 'outcome'], registers,
    });
    this.zeroes();
  }

  /** Counts the jobs `worker` runs as slots in use of `lane`, and their queue wait. */
  watchWorker(worker: Worker, lane: string, slots: number): void {
    const running = new Set<string>();
    this.slotsInUse.set(lane, running);
    this.slotGauge.set({ node: this.node, lane }, slots);
    worker.on('active', (job: Job) => {
      running.add(job.id ?? '');
      const waited = (job.processedOn ?? Date.now()) - job.timestamp;
      this.queueWait.observe({ node: this.node, lane, job: job.name }, Math.max(0, waited) / 1000);
    });
    const done = (job: Job | undefined) => { if (job) running.delete(job.id ?? ''); };
    worker.on('completed', done);
    worker.on('failed', done);
  }

  /** A session container was created and started (new session, warm spare or revival), after `ms`. */
  containerCreated(ms: number): void {
    this.containerStart.observe({ node: this.node }, ms / 1000);
  }

  /** A session woke from `from`, after `ms`. */
  sessionWoke(from: 'idle' | 'deep-sleep', ms: number): void {
    this.wake.observe({ node: this.node, from }, ms / 1000);
  }

  /** One egress request or tunnel ended (the proxy's log entry). */
  egressExchange(entry: Pick<EgressLogEntry, 'decision' | 'bytesIn' | 'bytesOut'>): void {
    this.egressConnections.inc({ node: this.node, decision: entry.decision });
    this.egressBytes.inc({ node: this.node, direction: 'in' }, entry.bytesIn);
    this.egressBytes.inc({ node: this.node, direction: 'out' }, entry.bytesOut);
  }

  /** Where `buntime_egress_open_connections` reads from once the proxy runs on this node. */
  watchEgress(source: EgressConnectionSource): void {
    this.egressOpen = source;
  }

  /** One webhook delivery attempt. */
  deliveryAttempt(outcome: DeliveryOutcome): void {
    this.deliveries.inc({ node: this.node, outcome });
  }

  private gauges(s: NodeGaugeSources): void {
    const registers = [this.registry];
    const node = this.node;
    // prom-client calls collect() with the gauge as `this`; these read this node's state.
    const slotsInUse = () => this.slotsInUse;
    const egressOpen = () => this.egressOpen();
    new Gauge({
      name: 'buntime_sessions', help: 'Sessions hosted by this node, by recorded state', labelNames: ['node', 'state'], registers,
      async collect() {
        const states = await s.sessionStates();
        for (const state of ['active', 'idle', 'deep-sleep'] as const) this.set({ node, state }, states[state]);
      },
    });
    new Gauge({
      name: 'buntime_warm_pool_ready', help: 'Warm sandboxes ready to be handed out', labelNames: ['node'], registers,
      collect() { this.set({ node }, s.warmReady()); },
    });
    new Gauge({ name: 'buntime_warm_pool_target', help: 'Warm sandboxes the pool keeps (WARM_POOL_SIZE)', labelNames: ['node'], registers })
      .set({ node }, s.warmTarget);
    new Gauge({ name: 'buntime_node_capacity', help: 'Sessions this node hosts at most', labelNames: ['node'], registers })
      .set({ node }, s.capacity);
    new Gauge({
      name: 'buntime_job_slots_in_use', help: 'Jobs running now, by lane', labelNames: ['node', 'lane'], registers,
      collect() { for (const [lane, running] of slotsInUse()) this.set({ node, lane }, running.size); },
    });
    this.slotGauge = new Gauge({ name: 'buntime_job_slots', help: 'Jobs a lane runs at once at most', labelNames: ['node', 'lane'], registers });
    new Gauge({
      name: 'buntime_egress_open_connections', help: 'Egress connections open now (client: from sessions, upstream: to targets)',
      labelNames: ['node', 'side'], registers,
      collect() {
        const open = egressOpen();
        this.set({ node, side: 'client' }, open.client);
        this.set({ node, side: 'upstream' }, open.upstream);
      },
    });
  }

  /** Counters that exist before their first event, so dashboards see 0 rather than nothing. */
  private zeroes(): void {
    const node = this.node;
    for (const decision of ['allowed', 'denied'] as const) this.egressConnections.inc({ node, decision }, 0);
    for (const direction of ['in', 'out'] as const) this.egressBytes.inc({ node, direction }, 0);
    for (const outcome of ['ok', 'failed', 'refused'] as const) this.deliveries.inc({ node, outcome }, 0);
  }
}
