import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signAdminToken } from '../core/admin-token.ts';
import type { ErrorCode } from '../core/errors.ts';
import { startApi } from '../api/main.ts';
import { openApiDocument } from '../api/openapi.ts';
import type { Method, Route } from '../api/route-table.ts';
import { DOCS_CSP } from '../api/routes/docs.ts';
import { ROUTE_TABLE, ROUTES } from '../api/routes/index.ts';
import { launchBrowser } from './support/browser.ts';
import { deleteSessionsOf, http, newAccount } from './support/harness.ts';

/** Where screenshots go (gitignored with the rest of .buntime/). */
const ARTIFACTS = new URL('../.buntime/artifacts/', import.meta.url).pathname;
const VERSION = (JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
/** What the catch-all 404 says: an answer that is not this came from a route. */
const NO_ROUTE = 'no such endpoint';

// An API instance of its own with the admin API and a metrics token (the suite's has neither),
// on the suite's Redis prefix so the suite's runner serves its sessions.
const ADMIN_SECRET = randomBytes(24).toString('base64url');
const METRICS_TOKEN = randomBytes(24).toString('base64url');
let api: Awaited<ReturnType<typeof startApi>>;
let account: Awaited<ReturnType<typeof newAccount>>;
let adminToken: string;
let doc: Record<string, any>;

beforeAll(async () => {
  api = await startApi({
    ...process.env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: inject('redisPrefix'), PORT: '0', LOG_LEVEL: 'silent',
    ADMIN_JWT_SECRET: ADMIN_SECRET, METRICS_TOKEN,
  });
  // Its probes send well over the free plan's 100 requests a minute.
  account = await newAccount('enterprise');
  adminToken = signAdminToken(ADMIN_SECRET, 600).token;
  doc = (await http('GET', '/openapi.json', { base: api.url })).json;
});

afterAll(async () => {
  if (account) await deleteSessionsOf(account.key).catch(() => {});
  await api?.stop();
});

/** The credential a route takes, as headers. */
function credentialOf(r: Pick<Route, 'auth'>): Record<string, string> {
  const bearer = { apiKey: account.key, sessionToken: account.key, adminJwt: adminToken, metricsToken: METRICS_TOKEN }[r.auth[0] ?? 'apiKey'];
  return r.auth.length === 0 ? {} : { authorization: `Bearer ${bearer}` };
}

/** The path with its parameters filled in (`probe-none` where no value is given). */
function concrete(path: string, values: Record<string, string> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? 'probe-none'));
}

function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  return http(method.toUpperCase(), path, { base: api.url, headers, body });
}

/** The error codes the document gives an operation for `status` (following `$ref`s). */
function documentedCodes(r: Route, status: number): ErrorCode[] {
  const answer = doc.paths[r.path][r.method].responses[String(status)];
  const resolved = answer?.$ref ? doc.components.responses[answer.$ref.split('/').pop()] : answer;
  return resolved?.content?.['application/json']?.schema?.allOf?.[1]?.properties?.error?.properties?.code?.enum ?? [];
}

describe('GET /openapi.json', () => {
  it('is public, validates as OpenAPI 3.1 and is the document of the route table', async () => {
    const res = await http('GET', '/openapi.json', { base: api.url });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const validator = new Validator();
    const verdict = await validator.validate(structuredClone(res.json));
    expect(verdict.errors).toBeUndefined();
    expect(validator.version).toBe('3.1');
    expect(res.json).toEqual(JSON.parse(JSON.stringify(openApiDocument(ROUTE_TABLE, VERSION))));
  });
});

describe('the route table against the running service', () => {
  it('serves every documented route from that route, with an answer it documents', async () => {
    for (const r of ROUTE_TABLE) {
      // An invalid body (strict schemas refuse unknown fields) and unknown ids: nothing is created or deleted.
      const res = await call(r.method, concrete(r.path), credentialOf(r), r.body ? { __probe: true } : undefined);
      const what = `${r.method.toUpperCase()} ${r.path} → ${res.status} ${res.text.slice(0, 200)}`;
      expect(res.json?.error?.message, what).not.toBe(NO_ROUTE);
      const documented = Object.keys(doc.paths[r.path][r.method].responses).map(Number);
      expect(documented, what).toContain(res.status);
      if (res.status >= 400) expect(documentedCodes(r, res.status), what).toContain(res.json.error.code);
      else expect(Object.keys(doc.paths[r.path][r.method].responses[res.status].content), what).toContain(res.headers.get('content-type')!.split(';')[0]);
    }
  });

  it('serves no method on a documented path that the document does not name', async () => {
    const methods: Method[] = ['get', 'post', 'put', 'delete'];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      const url = concrete(path);
      for (const method of methods.filter((m) => !(m in item))) {
        // Another documented template may take this path (GET /sessions/create is GET /sessions/{id}).
        if (ROUTE_TABLE.some((r) => r.method === method && new RegExp(`^${r.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(url))) continue;
        const group = path.startsWith('/admin/') ? ROUTES.admin[0]! : ROUTES.keyed[0]!;
        const res = await call(method, url, credentialOf(group), method === 'get' ? undefined : { __probe: true });
        expect({ status: res.status, message: res.json?.error?.message }, `${method.toUpperCase()} ${path}`).toEqual({ status: 404, message: NO_ROUTE });
      }
    }
  });

  it('answers 401 without credentials exactly where the document asks for them', async () => {
    for (const r of ROUTE_TABLE) {
      const res = await call(r.method, concrete(r.path), {}, r.body ? { __probe: true } : undefined);
      const what = `${r.method.toUpperCase()} ${r.path}`;
      if (r.auth.length === 0) expect(res.status, what).toBe(200);
      else {
        expect(res.json?.error?.code, what).toBe('unauthorized');
        expect(res.headers.get('www-authenticate'), what).toBe('Bearer');
      }
    }
  });

  it('lets a session token reach exactly the routes documented with it', async () => {
    const sessionId = (await http('POST', '/sessions/create', { base: api.url, key: account.key, body: { ttl: 600 } })).json.sessionId as string;
    const token = (await http('POST', `/sessions/${sessionId}/token`, { base: api.url, key: account.key, body: {} })).json.token as string;
    const streamed = await http('POST', '/execute', { base: api.url, key: account.key, body: { sessionId, command: 'echo hi', stream: true } });
    const executionId = streamed.headers.get('x-execution-id')!;
    for (const r of ROUTES.keyed) {
      const path = concrete(r.path, { id: r.path.startsWith('/executions/') ? executionId : sessionId });
      const query = r.query && 'sessionId' in r.query.shape ? `?sessionId=${sessionId}&path=probe.txt` : '';
      const res = await call(r.method, `${path}${query}`, { authorization: `Bearer ${token}` }, r.body ? { __probe: true } : undefined);
      const what = `${r.method.toUpperCase()} ${r.path} → ${res.status} ${res.text.slice(0, 200)}`;
      if (r.auth.includes('sessionToken')) expect(res.status, what).not.toBe(403);
      else expect(res.json?.error?.code, what).toBe('forbidden');
    }
  });
});

describe('GET /docs', () => {
  it('is a page whose every asset is local and served with a strict CSP', async () => {
    const page = await http('GET', '/docs', { base: api.url });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toBe(DOCS_CSP);
    expect(DOCS_CSP).toContain("script-src 'self'");
    expect(DOCS_CSP).not.toContain('unsafe');
    expect(page.text).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>/);
    const assets = [...page.text.matchAll(/<(?:script|link rel="stylesheet")[^>]*(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/init.js']);
    for (const asset of assets) {
      const res = await http('GET', asset, { base: api.url });
      expect(res.status, asset).toBe(200);
      expect(res.headers.get('content-security-policy'), asset).toBe(DOCS_CSP);
      expect(res.headers.get('x-content-type-options'), asset).toBe('nosniff');
    }
  });

  it('renders every operation of the document in a real browser, offline and without errors', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const browser = await launchBrowser();
    try {
      const tab = await browser.newPage();
      await tab.page.setViewport({ width: 1280, height: 900 });
      // Anything the CSP blocks (an inline style or script, eval) is recorded, not only logged.
      await tab.page.evaluateOnNewDocument(() => {
        const seen: string[] = [];
        (window as any).cspViolations = seen;
        document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
      });
      const res = await tab.page.goto(`${api.url}/docs`, { waitUntil: 'networkidle0' });
      expect(res?.status()).toBe(200);
      await tab.page.waitForSelector('.opblock', { timeout: 15_000 });
      const shown = await tab.page.$$eval('.opblock', (blocks) => blocks.map((b) => {
        const method = b.querySelector('.opblock-summary-method')?.textContent ?? '';
        const path = b.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '';
        return `${method.toLowerCase()} ${path}`;
      }));
      expect(shown.sort()).toEqual(ROUTE_TABLE.map((r) => `${r.method} ${r.path}`).sort());
      // An operation opens with its answers, the shared error answers resolved.
      await tab.page.click('#operations-Execute-execute .opblock-summary-control');
      await tab.page.waitForSelector('#operations-Execute-execute .responses-table .response-col_status', { timeout: 10_000 });
      const statuses = await tab.page.$$eval('#operations-Execute-execute .responses-table .response-col_status',
        (cells) => cells.map((c) => c.textContent?.trim()).filter((t) => /^\d{3}$/.test(t ?? '')));
      expect(statuses.sort()).toEqual(Object.keys(doc.paths['/execute'].post.responses).sort());
      await tab.page.screenshot({ path: `${ARTIFACTS}docs.png`, fullPage: true });
      expect(tab.foreignRequests).toEqual([]);
      expect(tab.pageErrors).toEqual([]);
      expect(await tab.page.evaluate(() => (window as any).cspViolations)).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
