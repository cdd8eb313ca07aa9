import { isIP } from 'node:net';

/** Where a proxied request wants to go. */
export interface Target {
  /** Lower-case name without a trailing dot, or a canonical IP literal (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** True when `host` is an IP literal (no DNS involved). */
  readonly ip: boolean;
}

/** A plain-HTTP request target: where to, and what to send upstream as the request line path. */
export interface HttpTarget extends Target {
  /** Origin-form path and query, exactly as the client wrote them (`/` when empty). */
  readonly path: string;
}

/** Why a request target cannot be proxied. */
export type TargetProblem = 'https_without_connect' | 'not_absolute' | 'unsupported_scheme' | 'bad_target';

// Host, optionally a port; brackets around IPv6. Nothing else (no userinfo, no path): what URL
// parsing would do with `a@b` or `a/b` must never be in question for an authority.
const AUTHORITY = /^(?:\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/i;

/** Parses an absolute-form request target (`http://host[:port]/path?query`) of a proxy request. */
export function parseHttpTarget(url: string): HttpTarget | TargetProblem {
  if (/^https:\/\//i.test(url)) return 'https_without_connect';
  if (url.startsWith('/') || url === '*') return 'not_absolute';
  const m = /^http:\/\/([^/?#]*)([^#]*)/i.exec(url);
  if (!m) return /^[a-z][a-z0-9+.-]*:/i.test(url) ? 'unsupported_scheme' : 'not_absolute';
  const authority = parseAuthority(m[1]!, 80);
  if (!authority) return 'bad_target';
  const rest = m[2]!;
  const path = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  return { ...authority, path };
}

/**
 * Parses an authority (`host[:port]`, IPv6 in brackets): a CONNECT target (`requirePort`) or
 * a Host header. Odd IPv4 spellings (`0x7f.1`, `2130706433`) come out as dotted quads.
 */
export function parseAuthority(authority: string, defaultPort: number, requirePort = false): Target | null {
  const m = AUTHORITY.exec(authority);
  if (!m || (requirePort && m[1] === undefined)) return null;
  const port = m[1] === undefined ? defaultPort : Number(m[1]);
  const host = hostOf(authority.slice(0, m[1] === undefined ? undefined : -(m[1].length + 1)));
  if (host === null || port < 1 || port > 65535) return null;
  return { host, port, ip: isIP(host) !== 0 };
}

/** True when both name the same host and port. */
export function sameAuthority(a: Target, b: Target): boolean {
  return a.host === b.host && a.port === b.port;
}

/** `host:port`, IPv6 in brackets, for messages and logs. */
export function formatTarget(t: Target): string {
  return `${isIP(t.host) === 6 ? `[${t.host}]` : t.host}:${t.port}`;
}

/** The host as WHATWG URL parsing canonicalises it (lower case, IPv4 forms, IDN), or null. */
function hostOf(hostPart: string): string | null {
  let hostname: string;
  try {
    hostname = new URL(`http://${hostPart}/`).hostname;
  } catch {
    return null;
  }
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const host = bare.endsWith('.') ? bare.slice(0, -1) : bare;
  return host === '' ? null : host;
}
