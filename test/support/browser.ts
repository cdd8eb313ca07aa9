import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** Debian's chromium; scripts/ensure-chromium.sh installs it. */
export const CHROMIUM = '/usr/bin/chromium';

/** True for URLs the browser may fetch: loopback hosts, and the page's own data:/blob: URLs. */
export function isLoopbackUrl(raw: string): boolean {
  const url = new URL(raw);
  if (url.protocol === 'data:' || url.protocol === 'blob:' || raw === 'about:blank') return true;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return /^127(?:\.\d{1,3}){3}$/.test(host) || host === '::1' || host === 'localhost';
}

/** A page whose every request is checked, and what it saw go wrong. */
export interface GuardedPage {
  page: Page;
  /** Requests to anything but loopback (each was aborted before it left). */
  foreignRequests: string[];
  /** Console errors and uncaught exceptions of the page. */
  pageErrors: string[];
}

/**
 * Headless chromium with a fresh profile, no background traffic, every name resolving to nothing
 * but 127.0.0.1. `close()` ends the browser and removes its profile.
 */
export async function launchBrowser(): Promise<{ browser: Browser; newPage: () => Promise<GuardedPage>; close: () => Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'buntime-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      `--user-data-dir=${profile}`,
    ],
  });
  const newPage = async (): Promise<GuardedPage> => {
    const page = await browser.newPage();
    const guarded: GuardedPage = { page, foreignRequests: [], pageErrors: [] };
    await page.setRequestInterception(true);
    page.on('request', (req) => {
      if (isLoopbackUrl(req.url())) return void req.continue();
      guarded.foreignRequests.push(req.url());
      void req.abort('blockedbyclient');
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') guarded.pageErrors.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => guarded.pageErrors.push(`uncaught: ${err instanceof Error ? err.message : String(err)}`));
    return guarded;
  };
  const close = async () => {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  };
  return { browser, newPage, close };
}
