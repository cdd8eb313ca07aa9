/**
 * What a session's preview server may say to a browser, and what it hears from one. A preview
 * server is user code: its response headers must act on its own preview and nothing else.
 *
 * - On an origin of its own (host mode) it may do what any site does, except `Domain=` on its
 *   cookies (which would reach its sibling previews) and `Clear-Site-Data` (which clears data
 *   of the whole registrable domain in some browsers).
 * - Under /preview/{sessionId}/ of the API's origin (path mode) it shares that origin with the
 *   API and every other preview, so its responses become an opaque origin (`sandbox` CSP: its
 *   pages can read neither the API nor another preview), its cookies are confined to its own
 *   path prefix, headers that act on the whole origin (CORS, `Clear-Site-Data`,
 *   `Service-Worker-Allowed`) are dropped and redirects to `/…` stay inside its prefix.
 *
 * In both modes the service's own preview cookie never reaches the preview server, and the
 * server cannot set it.
 */
import { HOST_PREVIEW_COOKIE, PREVIEW_COOKIE } from './preview-site.ts';

/** How a preview is served: under a path prefix of the API (`/preview/{id}`) or on its own host. */
export type PreviewMode = { kind: 'path'; prefix: string } | { kind: 'host' };

export type HeaderMap = Record<string, string | string[]>;

/** CSP of every path-mode answer: scripts, forms and popups work, but as an opaque origin. */
export const SANDBOX_CSP = 'sandbox allow-scripts allow-forms allow-popups';

/** Request headers about this hop or our own credentials, never for the session's server. */
const NOT_FORWARDED = new Set(['host', 'authorization', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'proxy-connection']);
/** Response headers of the session's server that belong to its hop, not to the client's. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);
const OWN_COOKIES = new Set([PREVIEW_COOKIE.toLowerCase(), HOST_PREVIEW_COOKIE.toLowerCase()]);

/** The client's request headers as the session's server gets them. */
export function requestHeaders(incoming: Record<string, string | string[] | undefined>): HeaderMap {
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(incoming)) {
    if (v === undefined || NOT_FORWARDED.has(k)) continue;
    if (k === 'cookie') {
      const rest = withoutOwnCookies(Array.isArray(v) ? v.join('; ') : v);
      if (rest) out[k] = rest;
      continue;
    }
    out[k] = v;
  }
  return out;
}

/** The session server's response headers as the client gets them (see the module's rules). */
export function responseHeaders(upstream: HeaderMap, mode: PreviewMode): HeaderMap {
  const out: HeaderMap = {};
  for (const [key, value] of Object.entries(upstream)) {
    const k = key.toLowerCase();
    if (HOP_BY_HOP.has(k) || k === 'clear-site-data') continue;
    if (mode.kind === 'path' && (k.startsWith('access-control-') || k === 'service-worker-allowed')) continue;
    if (k === 'set-cookie') {
      const cookies = (Array.isArray(value) ? value : [value]).flatMap((c) => rewriteSetCookie(c, mode) ?? []);
      if (cookies.length > 0) out[k] = cookies;
    } else if (k === 'location' && mode.kind === 'path') {
      out[k] = rewriteLocation(String(value), mode.prefix);
    } else {
      out[k] = value;
    }
  }
  if (mode.kind === 'path') {
    const csp = out['content-security-policy'];
    out['content-security-policy'] = csp === undefined ? SANDBOX_CSP : [...(Array.isArray(csp) ? csp : [csp]), SANDBOX_CSP];
  }
  return out;
}

/**
 * One `Set-Cookie` line of the session's server: without `Domain`, and in path mode with its
 * `Path` inside the prefix (`Path=/x` → `Path=/preview/{id}/x`; none → the prefix). A cookie
 * named like the service's own preview cookie is dropped (undefined).
 */
export function rewriteSetCookie(line: string, mode: PreviewMode): string | undefined {
  const [pair = '', ...attrs] = line.split(';');
  const eq = pair.indexOf('=');
  const name = (eq === -1 ? '' : pair.slice(0, eq)).trim();
  if (OWN_COOKIES.has(name.toLowerCase())) return undefined;
  const kept: string[] = [];
  let path: string | undefined;
  for (const attr of attrs) {
    const [rawKey = '', ...rest] = attr.split('=');
    const key = rawKey.trim().toLowerCase();
    if (key === 'domain') continue;
    if (key === 'path') {
      path = rest.join('=').trim();
      continue;
    }
    kept.push(attr.trim());
  }
  if (mode.kind === 'path') {
    path = `${mode.prefix}${path?.startsWith('/') ? path : '/'}`;
  }
  return [pair.trim(), ...(path === undefined ? [] : [`Path=${path}`]), ...kept.filter(Boolean)].join('; ');
}

/** A redirect to an absolute path (`/login`) stays inside the preview's prefix. */
export function rewriteLocation(location: string, prefix: string): string {
  // `//host/…` and `/\host/…` are network-path references to another host: not ours to move.
  if (!location.startsWith('/') || location.startsWith('//') || location.startsWith('/\\')) return location;
  return `${prefix}${location}`;
}

/** A `Cookie` header minus the service's own preview cookies (undefined when nothing is left). */
export function withoutOwnCookies(header: string): string | undefined {
  const kept = header.split(';').map((p) => p.trim()).filter((p) => {
    const eq = p.indexOf('=');
    return p !== '' && !OWN_COOKIES.has((eq === -1 ? p : p.slice(0, eq)).trim().toLowerCase());
  });
  return kept.length > 0 ? kept.join('; ') : undefined;
}
