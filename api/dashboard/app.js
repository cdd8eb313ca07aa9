// Buntime dashboard: one dependency-free ES module served as is (no build step, no bundler), so
// it stays one file of small sections rather than the house's one-concept modules. The page only
// ever calls its own origin (CSP connect-src 'self'). The API key and the admin token live in
// sessionStorage (this tab only), never in a URL or a cookie. The DOM is built with
// createElement/textContent: nothing from the API is ever parsed as HTML.

const KEY_STORE = 'buntime.apiKey';
const ADMIN_STORE = 'buntime.adminToken';
/** Session list poll, ms: 6 requests a minute, a small share of the free plan's 100. */
const REFRESH_MS = 10_000;
/** Usage is daily data: the poll refreshes it this often, ms (one more request a minute). */
const USAGE_REFRESH_MS = 60_000;
/** After a console run, usage is fetched again if older than this, ms. */
const USAGE_AFTER_RUN_MS = 5_000;
/** Characters of console output kept on the page. */
const MAX_OUTPUT_CHARS = 200_000;
const DAYS = 30;

const state = { key: '', selected: '', pollTimer: 0, lastRefresh: 0, usageAt: 0, refreshing: false, run: null, previewUrls: new Map() };

const $ = (id) => document.getElementById(id);

/** An element with attributes (`text` sets textContent, `on*` adds listeners) and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = String(value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children);
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API on this origin with `token` as the bearer; JSON in and out unless `raw`. */
async function api(path, { method = 'GET', body, token = state.key, raw = false, signal } = {}) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit',
  });
  noteRateLimit(res);
  if (!res.ok) throw await errorOf(res);
  return raw ? res : res.json();
}

async function errorOf(res) {
  try {
    const { error } = await res.json();
    return new ApiError(res.status, error.code, error.message);
  } catch {
    return new ApiError(res.status, 'http_error', `HTTP ${res.status}`);
  }
}

function noteRateLimit(res) {
  const left = res.headers.get('x-ratelimit-remaining');
  const limit = res.headers.get('x-ratelimit-limit');
  if (left === null || limit === null) return;
  $('rate').textContent = `Rate limit: ${left} of ${limit} requests left this minute`;
}

const describeError = (err) => (err instanceof ApiError ? `${err.code}: ${err.message}` : `network error: ${err.message}`);
const q = (params) => new URLSearchParams(params).toString();

// ---------------------------------------------------------------- formatting

const number = new Intl.NumberFormat('en');

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const limitsText = (l) => `${l.memory} MB · ${l.cpu} CPU · ${l.timeout} s · ${l.disk} MB disk`;
const shortDate = (iso) => iso.slice(0, 16).replace('T', ' ');

// ---------------------------------------------------------------- views and keys

function showView(name) {
  for (const tab of document.querySelectorAll('.tab')) {
    if (tab.dataset.view === name) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  $('view-account').hidden = name !== 'account';
  $('view-admin').hidden = name !== 'admin';
}

async function connect(key) {
  state.key = key;
  $('account-status').textContent = 'Connecting…';
  try {
    await refreshSessions();
  } catch (err) {
    disconnect();
    $('account-status').textContent = err instanceof ApiError && err.status === 401 ? 'That API key was refused.' : describeError(err);
    return;
  }
  sessionStorage.setItem(KEY_STORE, key);
  $('api-key').value = '';
  $('api-key').placeholder = 'connected (key kept in this tab)';
  $('forget-key').hidden = false;
  $('account-body').hidden = false;
  $('account-status').textContent = 'Connected.';
  startPolling();
  void refreshUsage();
}

function disconnect() {
  state.key = '';
  state.selected = '';
  sessionStorage.removeItem(KEY_STORE);
  stopPolling();
  $('account-body').hidden = true;
  $('forget-key').hidden = true;
  $('api-key').placeholder = 'btk_…';
  $('detail').hidden = true;
  $('rate').textContent = '';
}

// ---------------------------------------------------------------- sessions

function startPolling() {
  stopPolling();
  if (!state.key || document.visibilityState !== 'visible') return;
  state.pollTimer = window.setInterval(poll, REFRESH_MS);
}

function poll() {
  void refreshSessions().catch(showPollError);
  if (Date.now() - state.usageAt >= USAGE_REFRESH_MS) void refreshUsage();
}

function stopPolling() {
  window.clearInterval(state.pollTimer);
  state.pollTimer = 0;
}

function showPollError(err) {
  $('account-status').textContent = `Refresh failed: ${describeError(err)}`;
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible') return stopPolling();
  if (state.key && Date.now() - state.lastRefresh >= REFRESH_MS) void refreshSessions().catch(showPollError);
  startPolling();
});

async function refreshSessions() {
  if (state.refreshing) return;
  state.refreshing = true;
  try {
    const { sessions, total } = await api(`/sessions?${q({ limit: 100 })}`);
    state.lastRefresh = Date.now();
    state.previewUrls = new Map(sessions.map((s) => [s.sessionId, s.previewUrl]));
    renderSessions(sessions, total);
    $('refreshed-at').textContent = `Last refreshed ${new Date().toLocaleTimeString()}.`;
    if (state.selected && !sessions.some((s) => s.sessionId === state.selected)) closeDetail();
  } finally {
    state.refreshing = false;
  }
}

function renderSessions(sessions, total) {
  const now = Date.now();
  $('sessions-count').textContent = `(${total})`;
  const rows = sessions.map((s) => el('tr', { 'data-session-id': s.sessionId, 'aria-current': s.sessionId === state.selected ? 'true' : undefined },
    el('td', {}, el('code', { text: s.sessionId })),
    el('td', {}, el('span', { class: `badge state-${s.state}`, text: s.state })),
    el('td', { text: limitsText(s.resourceLimits) }),
    el('td', { text: duration(now - Date.parse(s.createdAt)) }),
    el('td', { text: duration(Date.parse(s.expiresAt) - now), title: s.expiresAt }),
    el('td', { text: `${duration(now - Date.parse(s.lastActive))} ago`, title: s.lastActive }),
    el('td', {}, el('button', { type: 'button', class: 'secondary small', 'aria-label': `Open session ${s.sessionId}`, text: 'Open', onclick: () => void openDetail(s.sessionId) })),
  ));
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: 'No live sessions. Create one with “New session”.' })));
  $('sessions').tBodies[0].replaceChildren(...rows);
}

async function newSession() {
  try {
    const s = await api('/sessions/create', { method: 'POST', body: { ttl: 3600, metadata: { createdBy: 'dashboard' } } });
    await refreshSessions();
    await openDetail(s.sessionId);
  } catch (err) {
    $('account-status').textContent = `Could not create a session: ${describeError(err)}`;
  }
}

// ---------------------------------------------------------------- one session

async function openDetail(sessionId) {
  state.selected = sessionId;
  for (const row of $('sessions').tBodies[0].rows) {
    if (row.dataset.sessionId === sessionId) row.setAttribute('aria-current', 'true');
    else row.removeAttribute('aria-current');
  }
  $('detail').hidden = false;
  $('detail-title').textContent = `Session ${sessionId}`;
  $('output').textContent = '';
  $('result').textContent = '';
  $('preview-link').removeAttribute('href');
  $('code').focus();
  await Promise.all([refreshDetail(), mintPreviewLink(sessionId)]);
}

function closeDetail() {
  state.selected = '';
  $('detail').hidden = true;
}

async function refreshDetail() {
  const id = state.selected;
  if (!id) return;
  try {
    const [list, procs] = await Promise.all([
      api(`/files/list?${q({ sessionId: id, limit: 200 })}`),
      api(`/processes?${q({ sessionId: id })}`),
    ]);
    if (id !== state.selected) return;
    renderFiles(list);
    renderProcesses(procs.processes);
  } catch (err) {
    $('result').textContent = describeError(err);
  }
}

function renderFiles(list) {
  const items = list.files.map((f) => el('li', {},
    el('code', { text: f.type === 'directory' ? `${f.path}/` : f.path }),
    el('span', { class: 'muted', text: f.type === 'directory' ? ' directory' : ` ${bytes(f.size)}` })));
  if (items.length === 0) items.push(el('li', { class: 'muted', text: 'No files in /workspace.' }));
  if (list.total > list.files.length) items.push(el('li', { class: 'muted', text: `… and ${list.total - list.files.length} more` }));
  $('files').replaceChildren(...items);
}

function renderProcesses(processes) {
  const items = processes.map((p) => el('li', {},
    el('code', { text: `${p.pid}` }), ' ', el('span', { class: 'cmd', text: p.command }), ' ',
    el('button', { type: 'button', class: 'secondary small', 'aria-label': `Kill process ${p.pid}`, text: 'Kill', onclick: () => void killPids([p.pid]) })));
  if (items.length === 0) items.push(el('li', { class: 'muted', text: 'No processes running.' }));
  $('processes').replaceChildren(...items);
}

async function mintPreviewLink(sessionId) {
  try {
    const { token } = await api(`/sessions/${encodeURIComponent(sessionId)}/token`, { method: 'POST', body: { ttl: 900 } });
    if (sessionId !== state.selected) return;
    $('preview-link').href = `${previewBase(sessionId)}?${q({ token })}`;
  } catch {
    $('preview-link').removeAttribute('href');
  }
}

/** Where a session's preview is served: its own origin (PREVIEW_DOMAIN) or a path of this one. */
function previewBase(sessionId) {
  const url = new URL(state.previewUrls.get(sessionId) ?? `/preview/${encodeURIComponent(sessionId)}/`, location.href);
  return url.origin === location.origin ? url.pathname : url.href;
}

async function killPids(pids) {
  try {
    for (const pid of pids) await api('/execution/kill', { method: 'POST', body: { sessionId: state.selected, pid } });
  } catch (err) {
    $('result').textContent = `Kill failed: ${describeError(err)}`;
  }
  await refreshDetail();
}

async function deleteSession() {
  const id = state.selected;
  if (!id || !window.confirm(`Delete session ${id} and its files?`)) return;
  try {
    await api(`/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
    closeDetail();
    await refreshSessions();
  } catch (err) {
    $('result').textContent = `Delete failed: ${describeError(err)}`;
  }
}

// ---------------------------------------------------------------- console

/** Splits an SSE body into `{event, data, id}` records (comments and pings dropped). */
async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const record = parseSseBlock(block);
      if (record) yield record;
    }
  }
}

function parseSseBlock(block) {
  const record = { event: 'message', data: [], id: '' };
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') record.event = value;
    else if (field === 'data') record.data.push(value);
    else if (field === 'id') record.id = value;
  }
  return record.data.length === 0 ? null : { ...record, data: record.data.join('\n') };
}

function appendOutput(text, stream) {
  const out = $('output');
  if (out.textContent.length > MAX_OUTPUT_CHARS) return;
  out.append(stream === 'stderr' ? el('span', { class: 'stderr', text }) : document.createTextNode(text));
  out.scrollTop = out.scrollHeight;
}

async function runConsole(event) {
  event.preventDefault();
  const source = $('code').value;
  if (!state.selected || state.run || source.trim() === '') return;
  const mode = document.querySelector('input[name="mode"]:checked').value;
  const run = { controller: new AbortController(), executionId: '' };
  state.run = run;
  $('run').disabled = true;
  $('stop').disabled = false;
  $('output').textContent = '';
  $('result').textContent = 'Running…';
  try {
    const res = await api('/execute', { method: 'POST', raw: true, signal: run.controller.signal, body: { sessionId: state.selected, [mode]: source, stream: true } });
    run.executionId = res.headers.get('x-execution-id') ?? '';
    await readRun(res.body);
  } catch (err) {
    $('result').textContent = err.name === 'AbortError' ? 'Stopped reading.' : describeError(err);
  } finally {
    state.run = null;
    $('run').disabled = false;
    $('stop').disabled = true;
    void refreshDetail();
    // Executions and CPU time are counted as a run ends; a quick look keeps the charts current.
    if (Date.now() - state.usageAt > USAGE_AFTER_RUN_MS) void refreshUsage();
  }
}

async function readRun(body) {
  for await (const ev of sseEvents(body)) {
    const data = JSON.parse(ev.data);
    if (ev.event === 'stdout' || ev.event === 'stderr') appendOutput(data.data, ev.event);
    else if (ev.event === 'result') $('result').textContent = resultLine(data);
    else if (ev.event === 'error') $('result').textContent = `Error ${data.error.code}: ${data.error.message}`;
    if (state.run && !state.run.executionId && data.executionId) state.run.executionId = data.executionId;
  }
}

function resultLine(r) {
  const exit = r.exitCode === null ? `signal ${r.signal}` : `exit code ${r.exitCode}`;
  return `${r.status} (${exit}) · ${r.executionTime} ms wall · ${r.cpuTime} ms CPU · ${bytes(r.memoryUsed)} peak memory`;
}

/** Stops the running execution: kills the processes it started (found by its execution id). */
async function stopRun() {
  const run = state.run;
  if (!run) return;
  try {
    const { processes } = await api(`/processes?${q({ sessionId: state.selected })}`);
    const pids = processes.filter((p) => p.executionId === run.executionId).map((p) => p.pid);
    for (const pid of pids) await api('/execution/kill', { method: 'POST', body: { sessionId: state.selected, pid } });
  } catch (err) {
    $('result').textContent = `Stop failed: ${describeError(err)}`;
  }
}

// ---------------------------------------------------------------- usage charts

const METRICS = [
  { field: 'requests', title: 'Requests', value: (d) => d.requests, unit: '' },
  { field: 'executions', title: 'Executions', value: (d) => d.executions, unit: '' },
  { field: 'cpuMs', title: 'CPU time', value: (d) => d.cpuMs, unit: ' ms' },
  { field: 'sessionHours', title: 'Session hours', value: (d) => Math.round((d.sessionSeconds / 3600) * 100) / 100, unit: ' h' },
];

/** The last `DAYS` UTC days, oldest first, with zeros where the API lists no activity. */
function lastDays(days) {
  const byDate = new Map(days.map((d) => [d.date, d]));
  const out = [];
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  for (let i = DAYS - 1; i >= 0; i--) {
    const date = new Date(today - i * 86_400_000).toISOString().slice(0, 10);
    out.push(byDate.get(date) ?? { date, requests: 0, executions: 0, cpuMs: 0, sessionSeconds: 0 });
  }
  return out;
}

async function refreshUsage() {
  try {
    const usage = await api(`/usage?${q({ days: DAYS })}`);
    state.usageAt = Date.now();
    $('usage-plan').textContent = `(account ${usage.account}, plan ${usage.plan})`;
    const days = lastDays(usage.days ?? []);
    $('charts').replaceChildren(...METRICS.map((m) => chart(m, days)));
  } catch (err) {
    $('charts').replaceChildren(el('p', { class: 'status', text: `Usage unavailable: ${describeError(err)}` }));
  }
}

/** One metric as an inline SVG bar chart: a bar per day with data, a baseline, max and dates. */
function chart(metric, days) {
  const W = 300, H = 120, TOP = 16, BOTTOM = 18;
  const values = days.map(metric.value);
  const max = Math.max(0, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const step = W / days.length;
  const plot = H - TOP - BOTTOM;
  const label = `${metric.title} per day over the last ${DAYS} days: total ${number.format(total)}${metric.unit}, busiest day ${number.format(max)}${metric.unit}`;
  const bars = [];
  days.forEach((d, i) => {
    const v = values[i];
    if (v <= 0) return;
    const h = Math.max(1, (v / max) * plot);
    bars.push(svg('rect', { class: 'bar', x: (i * step + 1).toFixed(1), y: (TOP + plot - h).toFixed(1), width: (step - 2).toFixed(1), height: h.toFixed(1), 'data-date': d.date, 'data-value': v },
      svg('title', {}, `${d.date}: ${number.format(v)}${metric.unit}`)));
  });
  const image = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, 'data-metric': metric.field },
    svg('line', { class: 'axis', x1: 0, x2: W, y1: TOP + plot + 0.5, y2: TOP + plot + 0.5 }),
    svg('text', { class: 'tick', x: 0, y: 11 }, `max ${number.format(max)}${metric.unit}`),
    svg('text', { class: 'tick', x: 0, y: H - 4 }, days[0].date.slice(5)),
    svg('text', { class: 'tick', x: W, y: H - 4, 'text-anchor': 'end' }, days[days.length - 1].date.slice(5)),
    ...bars);
  return el('figure', { class: 'chart-box' }, el('figcaption', {}, el('strong', { text: metric.title }), el('span', { class: 'muted', text: ` ${number.format(total)}${metric.unit} in ${DAYS} days` })), image);
}

// ---------------------------------------------------------------- admin

async function adminConnect(token) {
  $('admin-status').textContent = 'Connecting…';
  try {
    const { accounts } = await api('/admin/accounts', { token });
    sessionStorage.setItem(ADMIN_STORE, token);
    $('admin-token').value = '';
    $('admin-token').placeholder = 'connected (token kept in this tab)';
    $('forget-admin').hidden = false;
    $('admin-body').hidden = false;
    $('admin-status').textContent = `${accounts.length} ${accounts.length === 1 ? 'account' : 'accounts'}.`;
    renderAccounts(accounts, token);
  } catch (err) {
    adminDisconnect();
    $('admin-status').textContent = err instanceof ApiError && err.status === 401 ? 'That admin token was refused.' : describeError(err);
  }
}

function adminDisconnect() {
  sessionStorage.removeItem(ADMIN_STORE);
  $('admin-body').hidden = true;
  $('forget-admin').hidden = true;
  $('admin-token').placeholder = 'JWT from buntime-admin token';
}

function renderAccounts(accounts, token) {
  const rows = accounts.map((a) => el('tr', { 'data-account': a.name },
    el('td', {}, el('code', { text: a.name })),
    el('td', { text: a.plan }),
    el('td', { text: shortDate(a.createdAt) }),
    el('td', {}, el('button', { type: 'button', class: 'secondary small', 'aria-label': `Show keys of ${a.name}`, text: 'Keys', onclick: () => void showKeys(a.name, token) }))));
  $('accounts').tBodies[0].replaceChildren(...rows);
}

async function showKeys(account, token) {
  $('keys-title').textContent = `Keys of ${account}`;
  for (const row of $('accounts').tBodies[0].rows) {
    if (row.dataset.account === account) row.setAttribute('aria-current', 'true');
    else row.removeAttribute('aria-current');
  }
  try {
    const { keys } = await api(`/admin/accounts/${encodeURIComponent(account)}/keys`, { token });
    const rows = keys.map((k) => el('tr', {},
      el('td', {}, el('code', { text: k.id })), el('td', { text: k.label || '—' }), el('td', { text: shortDate(k.createdAt) }),
      el('td', { text: k.lastUsedAt ? shortDate(k.lastUsedAt) : 'never' }), el('td', { text: k.revokedAt ? shortDate(k.revokedAt) : 'no' })));
    if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 5, class: 'muted', text: 'No keys.' })));
    $('keys').tBodies[0].replaceChildren(...rows);
  } catch (err) {
    $('admin-status').textContent = describeError(err);
  }
}

// ---------------------------------------------------------------- wiring

function init() {
  for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => showView(tab.dataset.view));
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('api-key').value.trim();
    if (key) void connect(key);
  });
  $('forget-key').addEventListener('click', () => { disconnect(); $('account-status').textContent = 'Key forgotten.'; $('api-key').focus(); });
  $('refresh').addEventListener('click', () => void refreshSessions().catch(showPollError));
  $('new-session').addEventListener('click', () => void newSession());
  $('delete-session').addEventListener('click', () => void deleteSession());
  $('console-form').addEventListener('submit', (e) => void runConsole(e));
  $('stop').addEventListener('click', () => void stopRun());
  $('code').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('console-form').requestSubmit();
  });
  $('admin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('admin-token').value.trim();
    if (token) void adminConnect(token);
  });
  $('forget-admin').addEventListener('click', () => { adminDisconnect(); $('admin-status').textContent = 'Token forgotten.'; });
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) void connect(key);
  const admin = sessionStorage.getItem(ADMIN_STORE);
  if (admin) void adminConnect(admin);
}

init();
