import { STATUS_CODES, type ServerResponse } from 'node:http';

/**
 * Every reason the proxy can give for not relaying, with the HTTP status the client gets.
 * `policy: false` marks failures after the policy allowed the request (the log entry then says
 * `decision: "allowed"` with this reason).
 */
export const REFUSALS = {
  egress_none: { status: 403, policy: true },
  denied_by_policy: { status: 403, policy: true },
  not_allowlisted: { status: 403, policy: true },
  port_not_allowed: { status: 403, policy: true },
  address_refused: { status: 403, policy: true },
  host_mismatch: { status: 403, policy: true },
  dns_not_found: { status: 502, policy: true },
  dns_failed: { status: 502, policy: true },
  dns_timeout: { status: 504, policy: true },
  connection_limit: { status: 503, policy: true },
  node_connection_limit: { status: 503, policy: true },
  https_without_connect: { status: 400, policy: true },
  not_absolute: { status: 400, policy: true },
  unsupported_scheme: { status: 400, policy: true },
  bad_target: { status: 400, policy: true },
  bad_request: { status: 400, policy: true },
  connect_failed: { status: 502, policy: false },
  connect_timeout: { status: 504, policy: false },
} as const;

export type RefusalReason = keyof typeof REFUSALS;

/** A request the proxy will not relay: why, in words for the client, and the address at fault. */
export interface Refusal {
  readonly refused: true;
  readonly reason: RefusalReason;
  readonly status: number;
  readonly message: string;
  /** The address that was refused or failed, when there was one. */
  readonly address?: string;
}

export function refusal(reason: RefusalReason, message: string, address?: string): Refusal {
  return { refused: true, reason, status: REFUSALS[reason].status, message, ...(address ? { address } : {}) };
}

export function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && (value as Refusal).refused === true;
}

/** Plain-text body of a refusal: the reason code first, so scripts can match it. */
export function refusalBody(r: Refusal): string {
  return `${r.reason}: ${r.message}\n`;
}

/** Answers a plain-HTTP proxy request with the refusal. */
export function sendRefusal(res: ServerResponse, r: Refusal, close = false): void {
  const body = refusalBody(r);
  res.writeHead(r.status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-buntime-egress': r.reason,
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

/** The raw response refusing a CONNECT (the socket is closed after it). */
export function rawRefusal(r: Refusal): string {
  const body = refusalBody(r);
  return `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? 'Refused'}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Buntime-Egress: ${r.reason}\r\n` +
    'Connection: close\r\n\r\n' + body;
}
