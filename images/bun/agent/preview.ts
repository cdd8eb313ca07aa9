/**
 * The `http` op: one HTTP request to a server user code runs inside the session, on loopback
 * (the container has no other network), for the API's preview URLs. The agent's own network
 * namespace is the session's, so this is the only way in from outside.
 */
import type { Reply } from './channel.ts';
import { AgentError, int, str, type Fields } from './protocol.ts';

/** Largest response body relayed, bytes. */
const MAX_BODY = 10 * 1024 * 1024;
// Connection-level headers belong to each hop, not to the message; fetch has already decoded
// any content-encoding, so the relayed body is plain.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'content-length', 'content-encoding']);

export async function proxyHttp(id: string, req: Fields): Promise<Reply> {
  const port = int(req, 'port', 8080, 1);
  const path = str(req, 'path', '/');
  if (!path.startsWith('/')) throw new AgentError('invalid_request', 'path must start with /', { field: 'path' });
  const method = str(req, 'method', 'GET').toUpperCase();
  const body = str(req, 'bodyBase64', '');
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: headersOf(req.headers),
      body: body && method !== 'GET' && method !== 'HEAD' ? Buffer.from(body, 'base64') : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(int(req, 'timeoutMs', 30_000, 1)),
    });
  } catch (err) {
    throw new AgentError('not_found', `nothing answers on port ${port} in the session`, { port, reason: (err as Error).name });
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > MAX_BODY) throw new AgentError('payload_too_large', 'preview response too large', { size: bytes.length });
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => { if (!HOP_BY_HOP.has(k)) headers[k] = v; });
  return { id, type: 'http', status: res.status, headers, bodyBase64: bytes.toString('base64') };
}

function headersOf(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string' && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}
