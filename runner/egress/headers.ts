import type { IncomingMessage } from 'node:http';

// Hop-by-hop headers (RFC 9110 §7.6.1) and what a proxy must not pass on. `expect` is answered
// by the proxy itself (node sends the 100 Continue). Transfer-Encoding is re-applied by node's
// own framing when the body length is unknown.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect',
  'proxy-connection', 'proxy-authorization', 'proxy-authenticate',
]);

/**
 * Headers to forward from a raw header list (`rawHeaders`: name, value, name, value…): without
 * hop-by-hop headers, `Proxy-*` headers and any header the message's `Connection` names.
 * Names keep their case and repeated headers stay repeated.
 */
export function forwardable(raw: readonly string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const t of raw[i + 1]!.split(',')) named.add(t.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || named.has(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/**
 * The request headers to send upstream: forwardable ones, `Host` added from the target when
 * the client sent none, and chunked framing when the client's body has no declared length.
 */
export function upstreamRequestHeaders(req: IncomingMessage, authority: string): string[] {
  const out = forwardable(req.rawHeaders);
  if (req.headers.host === undefined) out.unshift('Host', authority);
  if (req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined) {
    out.push('Transfer-Encoding', 'chunked');
  }
  return out;
}
