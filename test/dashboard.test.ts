import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signAdminToken } from '../core/admin-token.ts';
import { startApi } from '../api/main.ts';
import { DASHBOARD_CSP } from '../api/routes/dashboard.ts';
import { launchBrowser, type GuardedPage } from './support/browser.ts';
import { deleteSessionsOf, http, newAccount } from './support/harness.ts';

/** Where screenshots go (gitignored with the rest of .buntime/). */
const ARTIFACTS = new URL('../.buntime/artifacts/', import.meta.url).pathname;
/** The page's session poll, ms (api/dashboard/app.js REFRESH_MS). */
const REFRESH_MS = 10_000;

// An API instance of its own with the admin API on (the suite's runs without ADMIN_JWT_SECRET),
// on the suite's Redis prefix so the suite's runner serves its sessions.
const SECRET = randomBytes(24).toString('base64url');
let api: Awaited<ReturnType<typeof startApi>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let tab: GuardedPage;
let account: Awaited<ReturnType<typeof newAccount>>;

beforeAll(async () => {
  api = await startApi({ ...process.env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: inject('redisPrefix'), PORT: '0', LOG_LEVEL: 'silent', ADMIN_JWT_SECRET: SECRET });
  account = await newAccount();
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await launchBrowser();
  tab = await browser.newPage();
  await tab.page.setViewport({ width: 1280, height: 900 });
});

afterAll(async () => {
  await browser?.close();
  if (account) await deleteSessionsOf(account.key).catch(() => {});
  await api?.stop();
});

const shot = (name: string) => tab.page.screenshot({ path: `${ARTIFACTS}dashboard-${name}.png`, fullPage: true });
const textOf = (selector: string) => tab.page.$eval(selector, (n) => n.textContent ?? '');

describe('dashboard in a real browser', () => {
  it('is served publicly with a strict CSP and nosniff', async () => {
    for (const path of ['/dashboard', '/dashboard/app.js', '/dashboard/style.css']) {
      const res = await http('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(DASHBOARD_CSP).toContain("script-src 'self'; style-src 'self'");
  });

  it('takes a pasted key, shows a session created elsewhere within one refresh, and runs code with streamed output', async () => {
    const { page } = tab;
    const res = await page.goto(`${api.url}/dashboard`, { waitUntil: 'networkidle0' });
    expect(res?.status()).toBe(200);
    await shot('start');
    // Controls of a connected page stay hidden until a key is accepted.
    expect(await page.$eval('#forget-key', (n) => getComputedStyle(n).display)).toBe('none');
    expect(await page.$eval('#account-body', (n) => getComputedStyle(n).display)).toBe('none');
    await page.type('#api-key', account.key);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#account-body:not([hidden])', { timeout: 10_000 });
    // The key lives in this tab's sessionStorage only: not in the URL, not in a cookie.
    expect(page.url()).not.toContain(account.key);
    expect(await page.evaluate(() => sessionStorage.getItem('buntime.apiKey'))).toBe(account.key);
    expect(await page.cookies()).toEqual([]);

    // Created through the suite's API instance: the page's instance learns of it from Redis.
    const created = await http('POST', '/sessions/create', { key: account.key, body: { ttl: 600 } });
    const sessionId = created.json.sessionId as string;
    const t0 = Date.now();
    await page.waitForSelector(`tr[data-session-id="${sessionId}"]`, { timeout: REFRESH_MS + 3000 });
    expect(Date.now() - t0).toBeLessThanOrEqual(REFRESH_MS + 3000);
    expect(await textOf(`tr[data-session-id="${sessionId}"]`)).toMatch(/active|idle/);
    expect(await textOf('#rate')).toMatch(/Rate limit: \d+ of 100 requests left this minute/);

    await page.click(`tr[data-session-id="${sessionId}"] button`);
    await page.waitForSelector('#detail:not([hidden])');
    await page.waitForFunction(() => document.activeElement?.id === 'code', { timeout: 5000 });
    await page.type('#code', 'console.log("hi")');
    await page.click('#run');
    await page.waitForFunction(() => /^ok \(exit code 0\)/.test(document.getElementById('result')?.textContent ?? ''), { timeout: 30_000 });
    expect(await textOf('#output')).toBe('hi\n');
    expect(await page.$eval('#output', (n) => n.getAttribute('aria-live'))).toBe('polite');

    const link = await page.$eval('#preview-link', (a) => ({ rel: a.getAttribute('rel'), target: a.getAttribute('target'), href: a.getAttribute('href') }));
    expect(link.rel).toBe('noopener noreferrer');
    expect(link.target).toBe('_blank');
    expect(link.href).toMatch(new RegExp(`^/preview/${sessionId}/\\?token=[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
  });

  it('draws the last 30 days of usage as inline SVG charts with data marks', async () => {
    const { page } = tab;
    await page.waitForSelector('svg.chart[data-metric="requests"] rect.bar', { timeout: 10_000 });
    const charts = await page.$$eval('svg.chart', (svgs) => svgs.map((s) => ({
      metric: s.getAttribute('data-metric'),
      label: s.getAttribute('aria-label'),
      bars: [...s.querySelectorAll('rect.bar')].map((r) => Number(r.getAttribute('height'))),
    })));
    expect(charts.map((c) => c.metric)).toEqual(['requests', 'executions', 'cpuMs', 'sessionHours']);
    const requests = charts[0]!;
    expect(requests.bars.length).toBeGreaterThan(0);
    expect(requests.bars.every((h) => h > 0)).toBe(true);
    expect(requests.label).toMatch(/Requests per day over the last 30 days: total \d+/);
    await shot('desktop');
  });

  it('fits a narrow screen', async () => {
    const { page } = tab;
    // A phone's width (isMobile would reload the page; the layout is what is under test).
    await page.setViewport({ width: 390, height: 844 });
    await page.waitForFunction(() => window.innerWidth === 390);
    const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((n) => n.getBoundingClientRect().right > window.innerWidth + 1 && !n.closest('.table-wrap'))
      .map((n) => `${n.tagName.toLowerCase()}#${n.id}.${n.className} right=${Math.round(n.getBoundingClientRect().right)}`));
    expect(wide).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await page.$eval('#detail', (n) => (n as HTMLElement).hidden)).toBe(false);
    await shot('narrow');
    await page.setViewport({ width: 1280, height: 900 });
  });

  it('lists accounts and keys in the admin view with a pasted admin token', async () => {
    const { page } = tab;
    await page.click('button.tab[data-view="admin"]');
    await page.type('#admin-token', signAdminToken(SECRET, 300).token);
    await page.click('#admin-form button[type="submit"]');
    const row = `tr[data-account="${account.name}"]`;
    await page.waitForSelector(row, { timeout: 10_000 });
    expect(await textOf(row)).toContain('free');
    await page.click(`${row} button`);
    await page.waitForFunction((id) => document.getElementById('keys')?.textContent?.includes(id), { timeout: 10_000 }, account.keyId);
    // A key is never shown again, only its id.
    expect(await page.content()).not.toContain(account.key);
    await shot('admin');
  });

  it('made no request beyond loopback and logged no error', async () => {
    expect(tab.foreignRequests).toEqual([]);
    expect(tab.pageErrors).toEqual([]);
    // The guard itself: a request to a non-loopback name is seen and stopped in the browser
    // (.invalid never resolves, and the resolver rules map every name to nothing anyway).
    const probe = await browser.newPage();
    await probe.page.evaluate(() => fetch('http://guard-check.invalid/').catch(() => 'blocked'));
    expect(probe.foreignRequests).toEqual(['http://guard-check.invalid/']);
    await probe.page.close();
  });
});
