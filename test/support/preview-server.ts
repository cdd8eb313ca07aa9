import type { Buntime } from '@buntime/sdk';

/**
 * A web server for a session's preview port (8080), in node:http so it can misbehave on cue:
 * echoes each request (`METHOD URL BODY auth=… cookie=…`); `/cookies`, `/origin-headers` and
 * `/redirect` answer with headers a preview must not pass through as they are; `/slow` never
 * answers, `/broken` closes the connection without an answer, `/endless` streams 1 KiB every
 * 20 ms for as long as the client reads.
 */
export const PREVIEW_SERVER = `
const http = require('node:http');
http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/slow') return;
  if (path === '/broken') return req.socket.destroy();
  let body = '';
  for await (const chunk of req) body += chunk;
  if (path === '/endless') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => res.write('x'.repeat(1024)), 20);
    res.on('close', () => clearInterval(timer));
    return;
  }
  if (path === '/cookies') {
    res.setHeader('set-cookie', ['x=1; Domain=preview.test; Path=/', 'buntime_preview=forged; Path=/', 'y=2; Path=/app; HttpOnly']);
  }
  if (path === '/origin-headers') {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('clear-site-data', '"cookies", "storage"');
    res.setHeader('service-worker-allowed', '/');
  }
  if (path === '/redirect') {
    res.writeHead(302, { location: '/login?next=%2F' });
    return res.end();
  }
  res.setHeader('content-type', 'text/x-echo');
  res.setHeader('x-from', 'session');
  res.end(req.method + ' ' + req.url + ' ' + body + ' auth=' + (req.headers.authorization ?? 'none') + ' cookie=' + (req.headers.cookie ?? 'none'));
}).listen(8080);
`;

/** Starts {@link PREVIEW_SERVER} in the background in a session and waits until it answers. */
export async function startPreviewServer(client: Buntime, sessionId: string): Promise<void> {
  await client.spawn({ sessionId, code: PREVIEW_SERVER });
  for (let i = 0; i < 100; i++) {
    const r = await client.execute({ sessionId, code: 'try { await fetch("http://127.0.0.1:8080/"); console.log("up") } catch { console.log("down") }' });
    if (r.stdout === 'up\n') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the session\'s preview server did not come up');
}
