// deploybus web UI: a thin client of the JSON API. It holds no state the server needs: every page is
// rebuilt from GET /api/... and kept fresh from the live event stream (GET /api/events as
// text/event-stream) and light polling. No framework and no build step: DOM nodes are made with h(),
// and every value from the server goes into the DOM as text (textContent / attributes), never as HTML.
/* global document, window, history, location, fetch, EventSource, URL, URLSearchParams, setInterval, clearInterval, setTimeout, clearTimeout, requestAnimationFrame, console, crypto, btoa, navigator */

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
const main = document.getElementById('main');

// ---------------------------------------------------------------------------------------------
// API

/** An API error: the server's stable code, its sentence, and the bad field when it named one. */
class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  // The session cookie alone is not enough for a change: every non-GET carries the page's CSRF token.
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken;
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (cause) {
    throw new ApiError(0, 'network', `The web server did not answer (${String(cause?.message ?? cause)}).`);
  }
  if (response.status === 401) {
    // The session ran out: sign in again and come back here.
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, 'unauthenticated', 'Your session ended; sign in again.');
  }
  const text = await response.text();
  let data = null;
  if (text !== '') {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const e = data?.error;
    throw new ApiError(response.status, e?.code ?? `http_${response.status}`, e?.message ?? `${response.status} ${response.statusText}`, e?.field);
  }
  return data;
}

const get = (path, params) => api('GET', withQuery(path, params));

function withQuery(path, params) {
  if (params === undefined) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? path : `${path}?${s}`;
}

const seg = (value) => encodeURIComponent(value);

// ---------------------------------------------------------------------------------------------
// DOM helpers

/** Makes an element. Children that are strings or numbers become text nodes; null/false are skipped. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = String(value);
    else if (key === 'checked' || key === 'selected' || key === 'disabled' || key === 'hidden') el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof window.Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const badgeTone = {
  succeeded: 'ok', up: 'ok', ok: 'ok',
  failed: 'bad', down: 'bad', 'no-response': 'bad', refused: 'bad', 'rolled-back': 'warn', 'rollback-failed': 'bad',
  cancelled: 'warn', superseded: 'warn', drift: 'warn', mixed: 'warn', locked: 'warn',
  running: 'run', deploying: 'run', queued: 'idle', waiting: 'idle', skipped: 'idle',
  active: 'ok', failing: 'bad',
};

function badge(text, tone, extra) {
  return h('span', { class: `badge ${tone ?? badgeTone[text] ?? ''} ${extra ?? ''}`.trim() }, text);
}

function notice(kind, title, ...body) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, title ? h('strong', {}, title) : null, ...body);
}

function errorNotice(error, what) {
  const code = error instanceof ApiError ? error.code : 'error';
  const field = error instanceof ApiError && error.field ? ` (field ${error.field})` : '';
  return notice('error', what, `${error.message ?? String(error)}${field}`, code !== 'error' ? h('span', { class: 'subtle small' }, ` [${code}]`) : null);
}

function link(href, ...children) {
  return h('a', { href }, ...children);
}

function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

function table(caption, headers, rows, options = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: options.hideCaption ? 'visually-hidden' : '' }, caption),
      h('thead', {}, h('tr', {}, headers.map((th) => h('th', { scope: 'col', class: th.num ? 'num' : '' }, th.label ?? th)))),
      h('tbody', {}, rows),
    ),
  );
}

function select(options, value, props = {}) {
  return h(
    'select',
    props,
    options.map((o) => {
      const v = typeof o === 'string' ? o : o.value;
      const label = typeof o === 'string' ? o : o.label;
      return h('option', { value: v, selected: v === value }, label);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Formatting

function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  const t = clock(iso);
  return sameDay ? t : `${d.toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' })} ${t}`;
}

/** HH:MM:SS, local time, 24-hour. */
function clock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso ?? '');
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

function ago(iso) {
  if (!iso) return '–';
  const ms = Date.now() - new Date(iso).getTime();
  if (Number.isNaN(ms)) return String(iso);
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr} h ago`;
  return `${Math.floor(hr / 24)} d ago`;
}

/** A time shown relative ("12 s ago"), kept current by the page's ticker, absolute on hover. */
function agoEl(iso) {
  return h('time', { datetime: iso ?? '', title: iso ? new Date(iso).toLocaleString() : '', 'data-ago': iso ?? '' }, ago(iso));
}

function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

const shortSha = (sha) => (sha ? String(sha).slice(0, 10) : '');

/** History rows and deployments come from the ledger; accept both its names and the API's. */
function normDeployment(d) {
  const requestedAt = d.requestedAt ?? d.createdAt;
  const startedAt = d.startedAt;
  const finishedAt = d.finishedAt;
  let durationMs = d.durationMs;
  if ((durationMs === undefined || durationMs === null) && finishedAt) durationMs = new Date(finishedAt) - new Date(startedAt ?? requestedAt);
  return { ...d, deploymentId: d.deploymentId ?? d.id, requestedAt, startedAt, finishedAt, durationMs, hosts: d.hosts ?? [] };
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled', 'superseded']);

// ---------------------------------------------------------------------------------------------
// Router

const routes = [
  { pattern: /^\/$/, nav: '/', render: renderOverview },
  { pattern: /^\/apps\/([^/]+)\/([^/]+)\/?$/, nav: '/', render: (m, current) => renderAppEnv(decodeURIComponent(m[1]), decodeURIComponent(m[2]), current) },
  { pattern: /^\/deploy\/?$/, nav: '/deploy', render: renderDeployForm },
  { pattern: /^\/deploys\/([^/]+)\/?$/, nav: '/history', render: (m, current) => renderDeployment(decodeURIComponent(m[1]), current) },
  { pattern: /^\/history\/?$/, nav: '/history', render: renderHistory },
  { pattern: /^\/locks\/?$/, nav: '/locks', render: renderLocks },
  { pattern: /^\/roster\/?$/, nav: '/roster', render: renderRoster },
  { pattern: /^\/callbacks\/?$/, nav: '/callbacks', render: renderCallbacks },
];

/** What one rendered page owns (timers, event streams); all of it ends when the page is left. */
class Page {
  constructor() {
    this.alive = true;
    this.cleanups = [];
  }
  onLeave(fn) {
    this.cleanups.push(fn);
  }
  every(ms, fn) {
    const timer = setInterval(() => {
      if (this.alive) fn();
    }, ms);
    this.onLeave(() => clearInterval(timer));
  }
  leave() {
    this.alive = false;
    for (const fn of this.cleanups.splice(0)) {
      try {
        fn();
      } catch (error) {
        console.error(error);
      }
    }
  }
}

let page = new Page();
/** Set by a navigation inside the app: the next page's heading takes the focus, so screen readers announce it. */
let focusNextHeading = false;

function matchRoute(pathname) {
  for (const route of routes) {
    const m = pathname.match(route.pattern);
    if (m) return { route, m };
  }
  return undefined;
}

/** Goes to a page of the UI without a reload; `flash` is a sentence the next page shows once. */
function navigate(url, { replace: replaceState = false, flash } = {}) {
  const state = flash === undefined ? null : { flash };
  if (replaceState) history.replaceState(state, '', url);
  else history.pushState(state, '', url);
  focusNextHeading = true;
  render();
}

function render() {
  page.leave();
  page = new Page();
  const found = matchRoute(location.pathname);
  for (const a of document.querySelectorAll('.nav a')) {
    if (found && a.getAttribute('href') === found.route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  replace(main);
  if (!found) {
    document.title = 'Not found · deploybus';
    append(main, h('div', { class: 'page-head' }, h('h1', {}, 'Page not found')), h('p', {}, 'Nothing lives at ', h('code', {}, location.pathname), '. ', link('/', 'Go to the overview.')));
    return;
  }
  const current = page;
  Promise.resolve()
    .then(() => found.route.render(found.m, current))
    .catch((error) => {
      if (current.alive) append(main, errorNotice(error, 'This page could not be loaded.'));
    });
}

document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target instanceof window.Element ? event.target.closest('a[href]') : null;
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !matchRoute(url.pathname)) return;
  event.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) return;
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener('popstate', render);

// Relative times tick once a second on every page.
setInterval(() => {
  for (const el of document.querySelectorAll('time[data-ago]')) {
    const iso = el.getAttribute('data-ago');
    if (iso) el.textContent = ago(iso);
  }
}, 1000);

function pageHead(title, { crumbs, actions, status } = {}) {
  document.title = `${title} · deploybus`;
  const heading = h('h1', { tabindex: '-1' }, title);
  if (focusNextHeading) {
    focusNextHeading = false;
    requestAnimationFrame(() => {
      if (heading.isConnected) heading.focus({ preventScroll: true });
    });
  }
  const head = h('div', { class: 'page-head' }, h('div', { class: 'page-title' }, crumbs ? h('div', { class: 'crumbs' }, crumbs) : null, h('div', { class: 'title-line' }, heading, status ?? null)), actions ? h('div', { class: 'actions' }, actions) : null);
  return head;
}

// ---------------------------------------------------------------------------------------------
// Live events

/**
 * Opens the server's event stream (SSE) with the given filters. The browser reconnects by itself,
 * sending Last-Event-ID so the server can catch up; the banner says when the stream is down.
 */
function liveEvents(current, params, onEvent) {
  if (typeof EventSource === 'undefined') return undefined;
  const source = new EventSource(withQuery('/api/events', params), { withCredentials: true });
  const banner = document.getElementById('connection');
  const handle = (e) => {
    if (!current.alive) return;
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    onEvent({ type: data.type ?? e.type, time: data.time, payload: data.payload ?? {}, seq: e.lastEventId });
  };
  const types = ['deploy.queued', 'deploy.refused', 'deploy.started', 'deploy.batch', 'deploy.host-result', 'deploy.succeeded', 'deploy.failed', 'deploy.cancelled', 'task.started', 'task.completed', 'task.log', 'presence.changed', 'lock.state'];
  for (const t of types) source.addEventListener(t, handle);
  source.addEventListener('message', handle);
  source.addEventListener('open', () => {
    if (banner) banner.hidden = true;
  });
  source.addEventListener('error', () => {
    if (!current.alive || !banner) return;
    banner.textContent = 'Live updates interrupted; reconnecting…';
    banner.hidden = false;
  });
  current.onLeave(() => {
    source.close();
    if (banner) banner.hidden = true;
  });
  return source;
}

/**
 * Resolves once the server holds the stream (it starts listening before it answers), or after `ms`
 * without it: a snapshot read after this misses nothing the stream would not bring.
 */
function streamOpen(source, ms) {
  if (!source || source.readyState === EventSource.OPEN) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    source.addEventListener('open', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------
// Shared data

async function loadApps() {
  const apps = (await get('/api/apps')) ?? [];
  return apps.map((a) => ({ app: a.app, envs: [...(a.envs ?? [])].sort(), hosts: [...(a.hosts ?? [])].sort(), downHosts: [...(a.downHosts ?? [])].sort() })).sort((a, b) => a.app.localeCompare(b.app));
}

/**
 * The servers that serve app in env, from the roster (agents announce app and env in heartbeats);
 * the app's hosts from /api/apps when the roster does not say which env a host serves.
 */
async function loadEnvHosts(apps, app, env) {
  return envHostsFrom(await get('/api/roster').catch(() => undefined), apps, app, env);
}

function envHostsFrom(roster, apps, app, env) {
  const all = apps.find((a) => a.app === app)?.hosts ?? [];
  if (!Array.isArray(roster)) return all;
  const described = roster.filter((r) => Array.isArray(r.apps) && r.apps.some((a) => a.app === app));
  if (described.length === 0) return all;
  return [...new Set(described.filter((r) => r.apps.some((a) => a.app === app && a.env === env)).map((r) => r.host))].sort();
}

/** host -> Set of commits its deploy-agent has prepared for app in env, from the roster (up agents only). */
function preparedFrom(roster, app, env) {
  const prepared = new Map();
  if (!Array.isArray(roster)) return prepared;
  for (const entry of roster) {
    if (entry.service !== 'deploy-agent' || entry.state !== 'up' || !Array.isArray(entry.apps)) continue;
    for (const a of entry.apps) if (a.app === app && a.env === env && Array.isArray(a.prepared)) prepared.set(entry.host, new Set(a.prepared));
  }
  return prepared;
}

/** The lock that covers app in env, if any: an environment-wide lock or one for that app. */
function lockFor(locks, app, env) {
  return locks.find((l) => l.env === env && (l.app === undefined || l.app === null || l.app === app));
}

function lockText(lock) {
  const scope = lock.app ? `${lock.app} in ${lock.env}` : lock.env;
  return `${scope} is locked by ${lock.by} since ${time(lock.at)}: “${lock.reason}”`;
}

/** Counts hosts per ref in a matrix, most common first. */
function refCounts(matrix) {
  const counts = new Map();
  for (const host of matrix?.hosts ?? []) counts.set(host.ref, (counts.get(host.ref) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

/**
 * What an environment runs, in words: one version everywhere, or a mix. A server of the environment
 * that runs nothing yet counts as a version of its own ("nothing") once another server runs something.
 */
function matrixSummary(matrix, envHosts = []) {
  const hosts = matrix?.hosts ?? [];
  const empty = envHosts.filter((x) => !hosts.some((m) => m.host === x)).length;
  if (hosts.length === 0) return { text: 'nothing deployed yet', counts: [], empty, mixed: false, drift: false };
  const counts = refCounts(matrix);
  if (empty > 0) counts.push(['nothing', empty]);
  const drift = hosts.some((x) => x.drift);
  const total = hosts.length + empty;
  if (counts.length === 1) return { text: `${counts[0][0]} on ${total} server${total === 1 ? '' : 's'}`, counts, empty, mixed: false, drift };
  return { text: counts.map(([ref, n]) => `${ref} ×${n}`).join(', '), counts, empty, mixed: true, drift };
}

// ---------------------------------------------------------------------------------------------
// Overview: apps and their environments

async function renderOverview(_m, current) {
  append(main, pageHead('Applications', { actions: [link('/deploy', 'New deploy')] }));
  main.querySelector('.actions a')?.classList.add('button', 'primary');
  const body = h('div', {});
  append(main, body);
  const draw = async () => {
    const [apps, locks, roster, recent] = await Promise.all([
      loadApps(),
      get('/api/locks').catch(() => []),
      get('/api/roster').catch(() => undefined),
      get('/api/deploys', { limit: 8 }).catch(() => []),
    ]);
    const matrices = new Map();
    await Promise.all(
      apps.flatMap((a) =>
        a.envs.map(async (env) => {
          try {
            matrices.set(`${a.app}\u0000${env}`, await get('/api/matrix', { app: a.app, env }));
          } catch {
            matrices.set(`${a.app}\u0000${env}`, undefined);
          }
        }),
      ),
    );
    if (!current.alive) return;
    if (apps.length === 0) {
      replace(body, h('div', { class: 'panel' }, h('p', { class: 'empty' }, 'No applications yet. Deploy-agents announce the apps they serve in their heartbeats; start one and it shows up here.')));
      return;
    }
    replace(
      body,
      h(
        'div',
        { class: 'overview' },
        h('div', { class: 'grid' }, appCards(apps, matrices, roster, locks ?? [])),
        h('div', { class: 'side' }, recentPanel((recent ?? []).map(normDeployment)), fleetPanel(roster, locks ?? [])),
      ),
    );
  };
  await draw();
  current.every(10_000, () => void draw().catch(() => undefined));
  liveEvents(current, { types: 'deploy.*,lock.state' }, (e) => {
    if (e.type !== 'deploy.batch' && e.type !== 'deploy.host-result') void draw().catch(() => undefined);
  });
}

function recentPanel(rows) {
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'recent-heading' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'recent-heading' }, 'Recent deploys'), link('/history', 'All')),
    rows.length === 0
      ? h('p', { class: 'empty' }, 'No deploys yet.')
      : h(
          'ul',
          { class: 'recent' },
          rows.map((d) =>
            h(
              'li',
              {},
              h('a', { href: `/deploys/${seg(d.deploymentId)}` }, h('strong', {}, d.ref), ` → ${d.app} / ${d.env}`),
              h('div', { class: 'small subtle' }, badge(d.state), ` ${d.requestedBy ?? ''} · `, agoEl(d.requestedAt)),
            ),
          ),
        ),
  );
}

function fleetPanel(roster, locks) {
  const entries = Array.isArray(roster) ? roster : [];
  const down = entries.filter((e) => e.state === 'down');
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'fleet-heading' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'fleet-heading' }, 'Fleet'), link('/roster', 'Roster')),
    h('p', { class: 'fleet-line' }, badge(`${entries.length - down.length} up`, 'ok'), ' ', down.length > 0 ? badge(`${down.length} down`, 'bad') : badge('0 down')),
    down.length > 0 ? h('p', { class: 'small' }, 'Silent: ', down.map((e) => `${e.service}@${e.host}`).join(', ')) : null,
    h('h3', {}, 'Locks'),
    locks.length === 0 ? h('p', { class: 'small subtle' }, 'None: every environment takes deploys.') : h('ul', { class: 'recent' }, locks.map((l) => h('li', { class: 'small' }, h('strong', {}, l.app ? `${l.env} (${l.app})` : l.env), ` by ${l.by}: ${l.reason}`))),
  );
}

function appCards(apps, matrices, roster, locks) {
  return apps.map((a) =>
    h(
      'section',
      { class: 'panel app-card', 'aria-label': `Application ${a.app}` },
      h(
        'div',
        { class: 'panel-head' },
        h('h2', {}, a.app),
        h('span', { class: 'subtle small' }, `${a.hosts.length} server${a.hosts.length === 1 ? '' : 's'} up`),
        a.downHosts.length > 0 ? h('span', { class: 'small', title: `deploy-agent silent on ${a.downHosts.join(', ')}` }, badge(`${a.downHosts.length} down`, 'bad')) : null,
      ),
      h(
        'ul',
        { class: 'env-list' },
        a.envs.map((env) => {
          const matrix = matrices.get(`${a.app}\u0000${env}`);
          const summary = matrixSummary(matrix, envHostsFrom(roster, apps, a.app, env));
          const lock = lockFor(locks, a.app, env);
          return h(
            'li',
            {},
            h(
              'a',
              { class: 'env-link', href: `/apps/${seg(a.app)}/${seg(env)}` },
              h('span', { class: 'env-name' }, env),
              h('span', { class: 'env-summary' }, summary.text),
              summary.mixed ? badge('mixed') : null,
              summary.drift ? badge('drift') : null,
              lock ? badge('locked', undefined) : null,
            ),
          );
        }),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// One app in one environment: the release matrix, its lock, recent deploys, rollback

async function renderAppEnv(app, env, current) {
  const rollbackButton = h('button', { type: 'button', class: 'button danger' }, 'Roll back');
  append(
    main,
    pageHead(`${app} / ${env}`, {
      crumbs: [link('/', 'Applications'), ' / ', app],
      actions: [h('a', { class: 'button', href: withQuery('/locks', { env }) }, 'Lock…'), rollbackButton, h('a', { class: 'button primary', href: withQuery('/deploy', { app, env }) }, 'Deploy…')],
    }),
  );
  const messages = h('div', { 'aria-live': 'polite' });
  const lockArea = h('div', {});
  const matrixPanel = h('section', { class: 'panel', 'aria-label': 'Release matrix' });
  const historyPanel = h('section', { class: 'panel', 'aria-label': 'Recent deploys' });
  append(main, messages, lockArea, matrixPanel, historyPanel);

  rollbackButton.addEventListener('click', async () => {
    if (!window.confirm(`Roll ${app} in ${env} back to the release before the current one?`)) return;
    rollbackButton.disabled = true;
    try {
      const result = await api('POST', '/api/rollback', { app, env });
      navigate(`/deploys/${seg(result.deploymentId)}`, { flash: rollbackFlash(result, app, env) });
    } catch (error) {
      replace(messages, errorNotice(error, error.status === 409 ? 'Rollback refused.' : 'Rollback failed.'));
      rollbackButton.disabled = false;
    }
  });

  const drawLock = async () => {
    const locks = (await get('/api/locks', { env })) ?? [];
    if (!current.alive) return;
    const lock = lockFor(locks, app, env);
    if (!lock) return void replace(lockArea);
    replace(
      lockArea,
      h(
        'div',
        { class: 'notice warn lock-banner', role: 'status' },
        h('div', {}, h('strong', {}, `Locked by ${lock.by}`), `since ${time(lock.at)}: “${lock.reason}”. Deploys to ${lock.app ? `${lock.app} in ` : ''}${lock.env} are refused until it is unlocked.`),
        link('/locks', 'Manage locks'),
      ),
    );
  };

  const drawMatrix = async () => {
    const [matrix, known] = await Promise.all([get('/api/matrix', { app, env }), loadApps().then((apps) => loadEnvHosts(apps, app, env)).catch(() => [])]);
    if (!current.alive) return;
    const hosts = [...(matrix?.hosts ?? [])].sort((a, b) => a.host.localeCompare(b.host));
    const missing = known.filter((x) => !hosts.some((m) => m.host === x));
    const summary = matrixSummary(matrix, known);
    const counts = summary.counts;
    const withSha = hosts.some((x) => x.sha);
    replace(
      matrixPanel,
      h('div', { class: 'panel-head' }, h('h2', {}, 'Release matrix'), summary.mixed ? badge('mixed versions', 'warn') : null, summary.drift ? badge('drift', 'warn') : null),
      h(
        'dl',
        { class: 'fact-row spaced' },
        h('div', {}, h('dt', {}, 'Most servers run'), h('dd', {}, matrix?.commonRef ?? '–')),
        h('div', {}, h('dt', {}, 'Last deployed'), h('dd', {}, matrix?.lastDeployedRef ?? '–')),
        h('div', {}, h('dt', {}, 'Versions'), h('dd', { 'data-testid': 'versions' }, counts.length === 0 ? '–' : counts.map(([ref, n]) => `${ref} ×${n}`).join(', '))),
      ),
      hosts.length === 0 && missing.length === 0
        ? h('p', { class: 'empty' }, `Nothing of ${app} runs in ${env} yet.`)
        : table(
            `Release matrix for ${app} in ${env}`,
            ['Server', 'Version', 'Release', withSha ? 'Commit' : null, 'Since', 'Status'].filter((x) => x !== null),
            [
              ...hosts.map((x) => {
                const flags = [];
                if (x.drift) flags.push(badge('drift', 'warn'));
                if (x.differsFromCommon) flags.push(badge('differs from most', 'warn'));
                if (flags.length === 0) flags.push(badge('in step', 'ok'));
                return h(
                  'tr',
                  { class: x.drift ? 'drift' : '', 'data-host': x.host },
                  h('th', { scope: 'row' }, x.host),
                  h('td', {}, h('strong', {}, x.ref)),
                  h('td', { class: 'mono small' }, x.release ?? ''),
                  withSha ? h('td', { class: 'mono small' }, shortSha(x.sha)) : null,
                  h('td', {}, agoEl(x.at)),
                  h('td', {}, flags),
                );
              }),
              ...missing.map((x) =>
                h(
                  'tr',
                  { 'data-host': x, class: hosts.length > 0 ? 'drift' : '' },
                  h('th', { scope: 'row' }, x),
                  h('td', { class: 'subtle' }, 'nothing deployed'),
                  h('td', {}),
                  withSha ? h('td', {}) : null,
                  h('td', {}),
                  h('td', {}, hosts.length > 0 ? badge('not deployed', 'warn') : badge('empty')),
                ),
              ),
            ],
            { hideCaption: true },
          ),
    );
  };

  const drawHistory = async () => {
    const rows = ((await get('/api/deploys', { app, env, limit: 10 })) ?? []).map(normDeployment);
    if (!current.alive) return;
    replace(historyPanel, h('div', { class: 'panel-head' }, h('h2', {}, 'Recent deploys'), link(withQuery('/history', { app, env }), 'All history')), historyTable(rows, 'Recent deploys', { hideCaption: true, compact: true }));
  };

  const drawAll = () => Promise.all([drawLock(), drawMatrix(), drawHistory()]);
  await drawAll();
  current.every(5_000, () => void drawAll().catch(() => undefined));
  liveEvents(current, { types: 'deploy.*,lock.state' }, (e) => {
    const p = e.payload;
    if (e.type === 'lock.state') return void drawLock().catch(() => undefined);
    if (p.app === app && p.env === env) void Promise.all([drawMatrix(), drawHistory()]).catch(() => undefined);
  });
}

function rollbackFlash(result, app, env) {
  // A ref with its commit: a branch deployed twice reads "main (1a2b3c4d5e6f)", not "main" both ways.
  const label = (end) => (end?.ref ? `${end.ref}${end.sha ? ` (${shortSha(end.sha)})` : ''}` : undefined);
  const from = label(result?.rollbackFrom);
  const to = label(result?.rollbackTo) ?? result?.ref;
  return `Rolling ${app} in ${env} back${from ? ` from ${from}` : ''}${to ? ` to ${to}` : ''}.`;
}

// ---------------------------------------------------------------------------------------------
// History

function historyTable(rows, caption, options = {}) {
  if (rows.length === 0) return h('p', { class: 'empty' }, 'No deploys yet.');
  const headers = options.compact ? ['When', 'Version', 'Who', 'Result', { label: 'Duration', num: true }, ''] : ['When', 'App', 'Environment', 'Version', 'Who', 'Result', { label: 'Duration', num: true }, ''];
  return table(
    caption,
    headers,
    rows.map((d) =>
      h(
        'tr',
        { 'data-deployment': d.deploymentId },
        h('td', {}, h('span', { title: d.requestedAt ?? '' }, time(d.requestedAt))),
        options.compact ? null : h('td', {}, d.app),
        options.compact ? null : h('td', {}, d.env),
        h('td', {}, h('strong', {}, d.ref), d.sha ? h('span', { class: 'mono small subtle' }, ` ${shortSha(d.sha)}`) : null),
        h('td', {}, d.requestedBy ?? ''),
        h('td', {}, badge(d.state), d.reason && d.state !== 'succeeded' ? h('div', { class: 'small subtle' }, d.reason) : null),
        h('td', { class: 'num' }, FINISHED.has(d.state) ? duration(d.durationMs) : '–'),
        h('td', {}, h('a', { href: `/deploys/${seg(d.deploymentId)}`, 'aria-label': `Details of deploy ${d.deploymentId}` }, 'Details & log')),
      ),
    ),
    options,
  );
}

async function renderHistory(_m, current) {
  const params = new URLSearchParams(location.search);
  const apps = await loadApps();
  const appSelect = select([{ value: '', label: 'All apps' }, ...apps.map((a) => a.app)], params.get('app') ?? '');
  const envs = [...new Set(apps.flatMap((a) => a.envs))].sort();
  const envSelect = select([{ value: '', label: 'All environments' }, ...envs], params.get('env') ?? '');
  append(main, pageHead('Deploy history'));
  const filters = h('form', { class: 'row filters', role: 'search', 'aria-label': 'Filter history' }, field('Application', appSelect), field('Environment', envSelect));
  const list = h('div', {});
  const more = h('button', { type: 'button', class: 'button' }, 'Load more');
  append(main, h('section', { class: 'panel' }, filters, list, h('div', { class: 'form-actions top-gap' }, more)));

  const pageSize = 25;
  let rows = [];
  const load = async (reset) => {
    const offset = reset ? 0 : rows.length;
    const next = ((await get('/api/deploys', { app: appSelect.value, env: envSelect.value, offset, limit: pageSize })) ?? []).map(normDeployment);
    if (!current.alive) return;
    rows = reset ? next : [...rows, ...next.filter((d) => !rows.some((r) => r.deploymentId === d.deploymentId))];
    replace(list, historyTable(rows, 'Deploy history', { hideCaption: true }));
    more.hidden = next.length < pageSize;
  };
  const onFilter = () => {
    history.replaceState(null, '', withQuery('/history', { app: appSelect.value, env: envSelect.value }));
    void load(true).catch((error) => replace(list, errorNotice(error, 'History could not be loaded.')));
  };
  appSelect.addEventListener('change', onFilter);
  envSelect.addEventListener('change', onFilter);
  more.addEventListener('click', () => void load(false).catch((error) => append(list, errorNotice(error, 'More history could not be loaded.'))));
  await load(true);
  liveEvents(current, { types: 'deploy.*' }, (e) => {
    if (e.type !== 'task.log' && rows.length <= pageSize) void load(true).catch(() => undefined);
  });
}

// ---------------------------------------------------------------------------------------------
// Deploy form: app, env, tag, servers, rollout options, confirm

async function renderDeployForm(_m, current) {
  const params = new URLSearchParams(location.search);
  append(main, pageHead('New deploy', { crumbs: [link('/', 'Applications'), ' / deploy'] }));
  const apps = await loadApps();
  if (!current.alive) return;
  if (apps.length === 0) {
    append(main, h('div', { class: 'panel' }, h('p', { class: 'empty' }, 'No applications to deploy yet: no deploy-agent has announced one.')));
    return;
  }
  const state = {
    app: apps.some((a) => a.app === params.get('app')) ? params.get('app') : apps[0].app,
    env: params.get('env') ?? '',
    ref: params.get('ref') ?? '',
    tags: [],
    hosts: [],
    /** host -> commits prepared there for this app (from the agents' heartbeats, via the roster) */
    prepared: new Map(),
  };
  const appOf = () => apps.find((a) => a.app === state.app) ?? apps[0];

  const appSelect = select(apps.map((a) => a.app), state.app, { name: 'app', required: true });
  const envSelect = h('select', { name: 'env', required: true });
  const tagSelect = h('select', { name: 'ref', required: true });
  const preparedHint = h('p', { class: 'hint', 'data-testid': 'prepared', 'aria-live': 'polite', hidden: true });
  const allRadio = h('input', { type: 'radio', name: 'servers', value: 'all', checked: true });
  const someRadio = h('input', { type: 'radio', name: 'servers', value: 'some' });
  const hostBox = h('div', { class: 'host-checks inactive', role: 'group', 'aria-label': 'Chosen servers' });
  const batchInput = h('input', { type: 'text', name: 'batchSize', value: '1', inputmode: 'numeric', pattern: '^([1-9][0-9]*|(100|[1-9][0-9]?)%)$', autocomplete: 'off' });
  const canaryInput = h('input', { type: 'number', name: 'canary', value: '0', min: '0', max: '1000', step: '1' });
  const pauseInput = h('input', { type: 'number', name: 'pause', value: '0', min: '0', max: '86400', step: '1' });
  const forceInput = h('input', { type: 'checkbox', name: 'force' });
  const formMessages = h('div', { 'aria-live': 'polite' });
  const lockArea = h('div', {});
  const reviewButton = h('button', { type: 'submit', class: 'button primary' }, 'Review deploy');

  const form = h(
    'form',
    { class: 'stack', novalidate: true, 'aria-label': 'Deploy' },
    lockArea,
    h('div', { class: 'row' }, field('Application', appSelect), field('Environment', envSelect)),
    field('Tag', tagSelect, 'Tags of the repository, newest first.'),
    preparedHint,
    h(
      'fieldset',
      {},
      h('legend', {}, 'Servers'),
      h('div', { class: 'choices' }, h('label', { class: 'choice' }, allRadio, h('span', { id: 'all-servers-label' }, 'All servers')), h('label', { class: 'choice' }, someRadio, 'Chosen servers')),
      hostBox,
    ),
    h('div', { class: 'row' }, field('Batch size', batchInput, 'Servers per batch: a number, or a share such as 25%.'), field('Canary', canaryInput, 'Servers deployed first, alone (0: none).'), field('Pause between batches', pauseInput, 'Seconds to wait before each next batch.')),
    h('label', { class: 'choice small' }, forceInput, 'Force: skip the lock and build checks (admins only)'),
    formMessages,
    h('div', { class: 'form-actions' }, reviewButton),
  );
  const confirmPanel = h('section', { class: 'panel', hidden: true, 'aria-labelledby': 'confirm-heading' });
  append(main, h('section', { class: 'panel' }, form), confirmPanel);

  const hostChecks = () => [...hostBox.querySelectorAll('input[type="checkbox"]')];
  const chosenHosts = () => hostChecks().filter((c) => c.checked).map((c) => c.value);

  const refreshHosts = async () => {
    const roster = await get('/api/roster').catch(() => undefined);
    if (!current.alive) return;
    state.hosts = envHostsFrom(roster, apps, state.app, state.env);
    state.prepared = preparedFrom(roster, state.app, state.env);
    drawHosts();
    drawPrepared();
  };
  /** Whether the chosen tag's tree is ready on the servers: a deploy of a prepared commit needs no checkout. */
  const drawPrepared = () => {
    const sha = state.tags.find((t) => t.name === state.ref)?.sha;
    const hosts = state.hosts;
    preparedHint.hidden = sha === undefined || hosts.length === 0;
    if (preparedHint.hidden) return;
    const ready = hosts.filter((host) => state.prepared.get(host)?.has(sha)).length;
    preparedHint.textContent =
      ready === hosts.length
        ? `Prepared on all ${hosts.length} server${hosts.length === 1 ? '' : 's'}: the deploy moves a ready tree into place, no checkout.`
        : ready > 0
          ? `Prepared on ${ready} of ${hosts.length} servers; the others check it out during the deploy.`
          : 'Not prepared on any server yet (its build has not been announced or fetched there): each checks it out during the deploy.';
  };
  const drawHosts = () => {
    const hosts = state.hosts;
    allRadio.nextElementSibling.textContent = `All servers (${hosts.length})`;
    replace(
      hostBox,
      hosts.length === 0
        ? h('span', { class: 'hint' }, 'No servers serve this app right now.')
        : hosts.map((host) =>
            h(
              'label',
              { class: 'choice' },
              h('input', {
                type: 'checkbox',
                name: 'hosts',
                value: host,
                onchange: () => {
                  // Picking a server means "only these".
                  someRadio.checked = chosenHosts().length > 0 || someRadio.checked;
                  allRadio.checked = !someRadio.checked;
                  hostBox.classList.toggle('inactive', allRadio.checked);
                },
              }),
              host,
            ),
          ),
    );
  };
  for (const radio of [allRadio, someRadio]) radio.addEventListener('change', () => hostBox.classList.toggle('inactive', allRadio.checked));

  const drawEnvs = () => {
    const envs = appOf().envs;
    if (!envs.includes(state.env)) state.env = envs[0] ?? '';
    replace(envSelect, envs.map((e) => h('option', { value: e, selected: e === state.env }, e)));
  };

  const drawLock = async () => {
    const locks = state.env ? ((await get('/api/locks', { env: state.env })) ?? []) : [];
    if (!current.alive) return;
    const lock = lockFor(locks, state.app, state.env);
    replace(lockArea, lock ? notice('warn', 'This environment is locked.', `${lockText(lock)}. The conductor will refuse a deploy until it is unlocked.`) : null);
  };

  const loadTags = async () => {
    replace(tagSelect, h('option', { value: '' }, 'Loading tags…'));
    tagSelect.disabled = true;
    try {
      const tags = (await get(`/api/apps/${seg(state.app)}/tags`)) ?? [];
      if (!current.alive) return;
      state.tags = tags;
      if (tags.length === 0) {
        replace(tagSelect, h('option', { value: '' }, 'No tags in the repository'));
        return;
      }
      if (!tags.some((t) => t.name === state.ref)) state.ref = tags[0].name;
      replace(tagSelect, tags.map((t, i) => h('option', { value: t.name, selected: t.name === state.ref }, `${t.name}${t.sha ? `  (${shortSha(t.sha)})` : ''}${i === 0 ? ' — newest' : ''}`)));
      tagSelect.disabled = false;
      drawPrepared();
    } catch (error) {
      replace(tagSelect, h('option', { value: '' }, 'Tags could not be loaded'));
      replace(formMessages, errorNotice(error, 'Tags could not be loaded.'));
    }
  };

  appSelect.addEventListener('change', () => {
    state.app = appSelect.value;
    drawEnvs();
    void refreshHosts();
    void loadTags();
    void drawLock().catch(() => undefined);
  });
  envSelect.addEventListener('change', () => {
    state.env = envSelect.value;
    void refreshHosts();
    void drawLock().catch(() => undefined);
  });
  tagSelect.addEventListener('change', () => {
    state.ref = tagSelect.value;
    drawPrepared();
  });

  const setInvalid = (control, bad) => control.setAttribute('aria-invalid', bad ? 'true' : 'false');

  /** Reads the form into a deploy request, or names what is wrong with it. */
  const readForm = () => {
    const problems = [];
    const request = { app: appSelect.value, env: envSelect.value, ref: tagSelect.value };
    if (!request.env) problems.push('Pick an environment.');
    if (!request.ref) problems.push('Pick a tag.');
    setInvalid(tagSelect, !request.ref);
    if (someRadio.checked) {
      const hosts = chosenHosts();
      if (hosts.length === 0) problems.push('Pick at least one server, or choose all servers.');
      request.hosts = hosts;
    }
    const batch = batchInput.value.trim();
    const batchOk = /^[1-9][0-9]*$/.test(batch) || /^(100|[1-9][0-9]?)%$/.test(batch);
    setInvalid(batchInput, !batchOk);
    if (!batchOk) problems.push('Batch size must be a whole number above 0 or a share such as 25%.');
    else request.batchSize = batch.endsWith('%') ? batch : Number(batch);
    const canary = canaryInput.value.trim() === '' ? 0 : Number(canaryInput.value);
    const canaryOk = Number.isInteger(canary) && canary >= 0 && canary <= 1000;
    setInvalid(canaryInput, !canaryOk);
    if (!canaryOk) problems.push('Canary must be a whole number from 0 to 1000.');
    else if (canary > 0) request.canary = canary;
    const pause = pauseInput.value.trim() === '' ? 0 : Number(pauseInput.value);
    const pauseOk = Number.isInteger(pause) && pause >= 0 && pause <= 86_400;
    setInvalid(pauseInput, !pauseOk);
    if (!pauseOk) problems.push('Pause between batches must be a whole number of seconds from 0 to 86400.');
    else if (pause > 0) request.pauseMs = pause * 1000;
    if (forceInput.checked) request.force = true;
    return { request, problems };
  };

  const showConfirm = (request) => {
    const tag = state.tags.find((t) => t.name === request.ref);
    const deployButton = h('button', { type: 'button', class: 'button primary' }, 'Deploy now');
    const backButton = h('button', { type: 'button', class: 'button' }, 'Back');
    const result = h('div', { 'aria-live': 'assertive' });
    replace(
      confirmPanel,
      h('h2', { id: 'confirm-heading' }, 'Confirm deploy'),
      h(
        'dl',
        { class: 'facts spaced' },
        h('dt', {}, 'Application'),
        h('dd', {}, request.app),
        h('dt', {}, 'Environment'),
        h('dd', {}, request.env),
        h('dt', {}, 'Tag'),
        h('dd', {}, h('strong', {}, request.ref), tag?.sha ? h('span', { class: 'mono small subtle' }, ` ${shortSha(tag.sha)}`) : null),
        h('dt', {}, 'Servers'),
        h('dd', {}, request.hosts ? request.hosts.join(', ') : `all servers of ${request.app} in ${request.env} (${state.hosts.length})`),
        h('dt', {}, 'Batch size'),
        h('dd', {}, String(request.batchSize)),
        h('dt', {}, 'Canary'),
        h('dd', {}, request.canary ? `${request.canary} server${request.canary === 1 ? '' : 's'} first` : 'none'),
        request.pauseMs ? [h('dt', {}, 'Pause'), h('dd', {}, `${request.pauseMs / 1000} s between batches`)] : null,
        request.force ? [h('dt', {}, 'Force'), h('dd', {}, badge('skips lock and build checks', 'bad'))] : null,
      ),
      result,
      h('div', { class: 'form-actions' }, deployButton, backButton),
    );
    confirmPanel.hidden = false;
    form.querySelectorAll('input, select, button').forEach((el) => (el.disabled = true));
    const back = () => {
      confirmPanel.hidden = true;
      form.querySelectorAll('input, select, button').forEach((el) => (el.disabled = false));
      if (state.tags.length === 0) tagSelect.disabled = true;
      reviewButton.focus();
    };
    backButton.addEventListener('click', back);
    deployButton.addEventListener('click', async () => {
      deployButton.disabled = true;
      backButton.disabled = true;
      replace(result, notice('info', null, 'Sending the request to the conductor…'));
      try {
        const queued = await api('POST', '/api/deploys', request);
        navigate(`/deploys/${seg(queued.deploymentId)}`);
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) {
          replace(result, notice('error', `Deploy refused${error.code ? ` (${error.code})` : ''}`, error.message));
        } else {
          replace(result, errorNotice(error, 'The deploy could not be requested.'));
        }
        backButton.disabled = false;
        backButton.textContent = 'Back to the form';
      }
    });
    deployButton.focus();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const { request, problems } = readForm();
    if (problems.length > 0) {
      replace(formMessages, notice('error', 'Please fix the form.', h('ul', { class: 'problems' }, problems.map((p) => h('li', {}, p)))));
      return;
    }
    replace(formMessages);
    showConfirm(request);
  });

  drawEnvs();
  drawHosts();
  await Promise.all([loadTags(), refreshHosts(), drawLock().catch(() => undefined)]);
  liveEvents(current, { types: 'lock.state' }, () => void drawLock().catch(() => undefined));
}

// ---------------------------------------------------------------------------------------------
// One deployment: live rollout view and full log

async function renderDeployment(id, current) {
  /** Everything the page shows, fed by the API snapshot and live events (applying one twice is harmless). */
  const model = {
    deployment: undefined,
    hosts: new Map(), // host -> {state, steps: Map(step -> 'run'|'ok'|'bad'), release, durationMs, error}
    order: [],
    batches: [],
    currentBatch: undefined,
    lines: [],
    lineKeys: new Set(),
  };
  const hostModel = (host) => {
    let m = model.hosts.get(host);
    if (!m) {
      m = { state: 'waiting', steps: new Map() };
      model.hosts.set(host, m);
      if (!model.order.includes(host)) model.order.push(host);
    }
    return m;
  };

  const statusBadge = h('span', { role: 'status', 'aria-live': 'polite', 'aria-label': 'Deploy state' });
  const cancelButton = h('button', { type: 'button', class: 'button danger', hidden: true }, 'Cancel deploy');
  const rollbackButton = h('button', { type: 'button', class: 'button', hidden: true }, 'Roll back');
  const head = pageHead(`Deploy ${id}`, { crumbs: [link('/history', 'History'), ' / ', id], status: statusBadge, actions: [cancelButton, rollbackButton] });
  const title = head.querySelector('h1');
  const messages = h('div', { 'aria-live': 'polite' });
  const flash = typeof history.state?.flash === 'string' ? notice('info', null, history.state.flash) : null;
  const facts = h('dl', { class: 'fact-row' });
  const progressBar = h('span', {});
  const progress = h('div', { class: 'progress', role: 'progressbar', 'aria-label': 'Rollout progress', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0' }, progressBar);
  const progressText = h('div', { class: 'small subtle' });
  const hostsArea = h('div', {});
  const hostFilter = select([{ value: '', label: 'All hosts' }], '', {});
  const follow = h('input', { type: 'checkbox', checked: true });
  const logBox = h('div', { class: 'log', role: 'log', 'aria-label': 'Deploy log', 'aria-live': 'off', tabindex: '0' });
  append(
    main,
    head,
    flash,
    messages,
    h('section', { class: 'panel', 'aria-label': 'Summary' }, facts, h('div', { class: 'top-gap' }, progress, progressText)),
    h('section', { class: 'panel', 'aria-labelledby': 'hosts-heading' }, h('h2', { id: 'hosts-heading' }, 'Hosts'), hostsArea),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'log-heading' },
      h('div', { class: 'panel-head' }, h('h2', { id: 'log-heading' }, 'Log'), h('div', { class: 'log-tools' }, field('Host', hostFilter), h('label', { class: 'choice small' }, follow, 'Follow'))),
      logBox,
    ),
  );

  // ---- drawing ----
  const drawHead = () => {
    const d = model.deployment;
    if (!d) return;
    title.textContent = `${d.ref} → ${d.app} / ${d.env}`;
    document.title = `${d.ref} to ${d.app}/${d.env} · deploybus`;
    replace(statusBadge, badge(d.state, undefined, 'big'));
    const running = d.state === 'queued' || d.state === 'running';
    cancelButton.hidden = !running;
    rollbackButton.hidden = running;
    replace(
      facts,
      [
        ['Deployment', h('span', { class: 'mono' }, d.deploymentId)],
        ['Version', [d.ref, d.sha ? h('span', { class: 'mono small subtle' }, ` ${shortSha(d.sha)}`) : null]],
        ['Requested by', d.requestedBy ?? '–'],
        ['Requested', time(d.requestedAt)],
        ['Started', time(d.startedAt)],
        ['Finished', time(d.finishedAt)],
        ['Duration', FINISHED.has(d.state) ? duration(d.durationMs) : '–'],
      ].map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))),
    );
    if (d.reason && d.state !== 'succeeded') replace(messages, notice(d.state === 'failed' ? 'error' : 'warn', d.state === 'failed' ? 'The deploy failed.' : `The deploy was ${d.state}.`, d.reason));
    else replace(messages);
  };

  const drawHosts = () => {
    const total = model.order.length;
    const done = model.order.filter((x) => !['waiting', 'deploying', 'running'].includes(hostModel(x).state)).length;
    const failed = model.order.filter((x) => ['failed', 'no-response', 'refused', 'rolled-back'].includes(hostModel(x).state)).length;
    const pct = total === 0 ? (model.deployment && FINISHED.has(model.deployment.state) ? 100 : 0) : Math.round((done / total) * 100);
    progressBar.style.width = `${pct}%`;
    progress.setAttribute('aria-valuenow', String(pct));
    progress.className = `progress ${failed > 0 ? 'bad' : pct === 100 ? 'ok' : ''}`;
    const batchText = model.currentBatch ? ` · batch ${model.currentBatch.index} of ${model.currentBatch.total}` : model.batches.length > 0 ? ` · ${model.batches.length} batch${model.batches.length === 1 ? '' : 'es'}` : '';
    progressText.textContent = total === 0 ? 'Waiting for the rollout to start…' : `${done} of ${total} host${total === 1 ? '' : 's'} done${failed ? `, ${failed} not deployed` : ''}${batchText}`;
    if (total === 0) return void replace(hostsArea, h('p', { class: 'empty' }, model.deployment && FINISHED.has(model.deployment.state) ? 'No host took part.' : 'The conductor has not started the rollout yet.'));
    replace(
      hostsArea,
      table(
        'Hosts',
        ['Host', 'State', 'Steps', { label: 'Time', num: true }, 'Release / error'],
        model.order.map((host) => {
          const m = hostModel(host);
          // A host the rollout never reached (cancelled, or stopped by a failure) was skipped, not waiting.
          const ended = model.deployment && FINISHED.has(model.deployment.state);
          const shown = ended && ['waiting', 'deploying', 'running'].includes(m.state) ? 'skipped' : m.state;
          return h(
            'tr',
            { 'data-host': host },
            h('th', { scope: 'row' }, host),
            h('td', {}, badge(shown)),
            h('td', {}, m.steps.size === 0 ? h('span', { class: 'subtle small' }, '–') : h('ul', { class: 'steps', 'aria-label': `Steps on ${host}` }, [...m.steps.entries()].map(([step, s]) => h('li', { class: `step ${s}`, title: s === 'ok' ? 'done' : s === 'bad' ? 'failed' : 'running' }, `${s === 'ok' ? '✓ ' : s === 'bad' ? '✗ ' : '… '}${step}`)))),
            h('td', { class: 'num' }, m.durationMs !== undefined ? duration(m.durationMs) : '–'),
            h('td', { class: m.error ? 'small' : 'mono small' }, m.error ?? m.release ?? ''),
          );
        }),
        { hideCaption: true },
      ),
    );
    const hosts = ['', ...model.order];
    if (hostFilter.options.length !== hosts.length) {
      const chosen = hostFilter.value;
      replace(hostFilter, hosts.map((x) => h('option', { value: x, selected: x === chosen }, x === '' ? 'All hosts' : x)));
    }
  };

  const lineEl = (l) => h('div', { class: `log-line ${l.stream}`, 'data-host': l.host }, h('span', { class: 'log-time', title: l.at }, clock(l.at)), h('span', { class: 'log-host', title: l.host }, l.host), h('span', { class: 'log-text' }, l.line));
  const drawLog = () => {
    const wanted = hostFilter.value;
    const lines = model.lines.filter((l) => wanted === '' || l.host === wanted);
    replace(logBox, lines.length === 0 ? h('div', { class: 'log-empty' }, 'No output yet.') : lines.map(lineEl));
    if (follow.checked) logBox.scrollTop = logBox.scrollHeight;
  };
  hostFilter.addEventListener('change', drawLog);

  /** Adds log lines once each (keyed by host and line number), keeping them ordered by host and number. */
  const addLines = (lines) => {
    let added = 0;
    let appendOnly = true;
    const last = model.lines[model.lines.length - 1];
    for (const l of lines) {
      const key = `${l.host}\u0000${l.seq}`;
      if (model.lineKeys.has(key)) continue;
      model.lineKeys.add(key);
      model.lines.push(l);
      added += 1;
      if (last && (new Date(l.at) < new Date(last.at))) appendOnly = false;
    }
    if (added === 0) return;
    if (!appendOnly || added > 1) {
      model.lines.sort((a, b) => new Date(a.at) - new Date(b.at) || (a.host === b.host ? a.seq - b.seq : a.host.localeCompare(b.host)));
      drawLog();
      return;
    }
    const l = model.lines[model.lines.length - 1];
    if (hostFilter.value !== '' && l.host !== hostFilter.value) return;
    logBox.querySelector('.log-empty')?.remove();
    logBox.append(lineEl(l));
    if (follow.checked) logBox.scrollTop = logBox.scrollHeight;
  };

  // ---- the model, fed by snapshots and events ----
  const applyDeployment = (raw) => {
    const d = normDeployment(raw);
    model.deployment = { ...model.deployment, ...d };
    for (const r of d.hosts) {
      const m = hostModel(r.host);
      m.state = r.outcome;
      m.release = r.release;
      m.durationMs = r.durationMs;
      m.error = r.error;
    }
  };

  const terminalHostStates = new Set(['succeeded', 'failed', 'no-response', 'refused', 'rolled-back', 'rollback-failed']);
  const applyEvent = (e) => {
    const p = e.payload ?? {};
    if (p.deploymentId !== undefined && p.deploymentId !== id) return;
    const d = model.deployment ?? {};
    switch (e.type) {
      case 'deploy.queued':
        model.deployment = { ...d, state: d.state ?? 'queued', sha: d.sha ?? p.sha };
        break;
      case 'deploy.started':
        model.deployment = { ...d, state: FINISHED.has(d.state) ? d.state : 'running', sha: p.sha ?? d.sha, startedAt: d.startedAt ?? e.time };
        for (const host of p.hosts ?? []) hostModel(host);
        model.batches = p.batches ?? [];
        break;
      case 'deploy.batch':
        model.currentBatch = { index: p.index, total: p.total };
        for (const host of p.hosts ?? []) {
          const m = hostModel(host);
          if (m.state === 'waiting') m.state = 'deploying';
        }
        break;
      case 'task.started': {
        const m = hostModel(p.host);
        if (!terminalHostStates.has(m.state)) m.state = 'running';
        if (m.steps.get(p.step) === undefined) m.steps.set(p.step, 'run');
        break;
      }
      case 'task.completed': {
        const m = hostModel(p.host);
        m.steps.set(p.step, p.ok ? 'ok' : 'bad');
        break;
      }
      case 'task.log':
        addLines((p.lines ?? []).map((l, i) => ({ host: p.host, seq: p.seq * 1000 + i, stream: l.stream, line: l.text, at: l.at })));
        return;
      case 'deploy.host-result': {
        const m = hostModel(p.host);
        m.state = p.outcome;
        m.release = p.release;
        m.durationMs = p.durationMs;
        m.error = p.error;
        break;
      }
      case 'deploy.succeeded':
      case 'deploy.failed':
      case 'deploy.cancelled': {
        const state = e.type.slice('deploy.'.length);
        model.deployment = { ...d, state, finishedAt: d.finishedAt ?? e.time, durationMs: p.durationMs ?? d.durationMs, reason: p.reason ?? d.reason };
        // The ledger has the final word (times, every host's result): read it once more.
        void refreshDeployment().catch(() => undefined);
        void loadLogs().catch(() => undefined);
        break;
      }
      default:
        return;
    }
    drawHead();
    drawHosts();
  };

  const refreshDeployment = async () => {
    const raw = await get(`/api/deploys/${seg(id)}`);
    if (!current.alive || !raw) return;
    applyDeployment(raw);
    drawHead();
    drawHosts();
  };

  const loadLogs = async () => {
    // A page may hold fewer lines than asked (one bus answer has a size limit): the next one starts
    // after the lines received, and only an empty page ends the log.
    for (let offset = 0; current.alive; ) {
      const lines = (await get(`/api/deploys/${seg(id)}/logs`, { offset, limit: 1000 })) ?? [];
      if (lines.length === 0) break;
      addLines(lines.map((l) => ({ host: l.host, seq: l.seq, stream: l.stream ?? 'stdout', line: l.line, at: l.at })));
      offset += lines.length;
    }
  };

  // Listen first, so nothing that happens while the snapshot loads is missed; events wait for it.
  let buffered = [];
  const stream = liveEvents(current, { deploymentId: id }, (e) => {
    if (buffered) buffered.push(e);
    else applyEvent(e);
  });
  // The snapshot is read once the stream is held: an event between the two would otherwise be in neither.
  await streamOpen(stream, 3_000);
  try {
    const [raw, replay] = await Promise.all([get(`/api/deploys/${seg(id)}`), get('/api/events', { deploymentId: id, limit: 1000 }).catch(() => ({ events: [] }))]);
    if (!current.alive) return;
    if (!raw) throw new ApiError(404, 'not_found', `There is no deployment ${id}.`);
    applyDeployment(raw);
    // The ledger's events give the rollout's plan (hosts, batches) that the deployment row does not.
    for (const e of replay?.events ?? []) applyEvent({ type: e.type, time: e.time, payload: e.payload });
    applyDeployment(raw);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      replace(main, pageHead('Deploy not found'), notice('error', null, `There is no deployment ${id}.`), h('p', {}, link('/history', 'Back to the history')));
      return;
    }
    throw error;
  }
  drawHead();
  drawHosts();
  drawLog();
  const pending = buffered;
  buffered = undefined;
  for (const e of pending) applyEvent(e);
  await loadLogs().catch((error) => append(messages, errorNotice(error, 'The log could not be loaded.')));

  // A safety net under the live stream while the deploy is unfinished: the ledger is the truth.
  current.every(4_000, () => {
    if (model.deployment && !FINISHED.has(model.deployment.state)) void refreshDeployment().catch(() => undefined);
  });

  cancelButton.addEventListener('click', async () => {
    if (!window.confirm('Cancel this deploy? Hosts already deployed keep the new release; the rest are not touched.')) return;
    cancelButton.disabled = true;
    try {
      const result = await api('POST', `/api/deploys/${seg(id)}/cancel`);
      replace(messages, notice('info', 'Cancel requested.', typeof result?.result === 'string' ? `The conductor says: ${result.result}.` : ''));
      await refreshDeployment();
    } catch (error) {
      replace(messages, errorNotice(error, 'The deploy could not be cancelled.'));
    } finally {
      cancelButton.disabled = false;
    }
  });
  rollbackButton.addEventListener('click', async () => {
    const d = model.deployment;
    if (!d || !window.confirm(`Roll ${d.app} in ${d.env} back to the release before the current one?`)) return;
    rollbackButton.disabled = true;
    try {
      const result = await api('POST', '/api/rollback', { app: d.app, env: d.env });
      navigate(`/deploys/${seg(result.deploymentId)}`, { flash: rollbackFlash(result, d.app, d.env) });
    } catch (error) {
      replace(messages, errorNotice(error, error.status === 409 ? 'Rollback refused.' : 'Rollback failed.'));
      rollbackButton.disabled = false;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Locks

async function renderLocks(_m, current) {
  append(main, pageHead('Environment locks'));
  const apps = await loadApps().catch(() => []);
  const envs = [...new Set(apps.flatMap((a) => a.envs))].sort();
  const listPanel = h('section', { class: 'panel', 'aria-labelledby': 'locks-heading' });
  const messages = h('div', { 'aria-live': 'polite' });

  const params = new URLSearchParams(location.search);
  const envInput = h('input', { type: 'text', name: 'env', required: true, list: 'known-envs', autocomplete: 'off', value: params.get('env') ?? envs[0] ?? '' });
  const appSelect = select([{ value: '', label: 'All apps in the environment' }, ...apps.map((a) => a.app)], params.get('app') ?? '', { name: 'app' });
  const reasonInput = h('input', { type: 'text', name: 'reason', required: true, maxlength: '500', placeholder: 'e.g. incident 311, release freeze' });
  const lockButton = h('button', { type: 'submit', class: 'button primary' }, 'Lock');
  const form = h(
    'form',
    { class: 'stack', 'aria-label': 'Lock an environment' },
    h('div', { class: 'row' }, field('Environment', envInput), field('Application', appSelect)),
    h('datalist', { id: 'known-envs' }, envs.map((e) => h('option', { value: e }))),
    field('Reason', reasonInput, 'Shown to everyone whose deploy the lock refuses.'),
    h('div', { class: 'form-actions' }, lockButton),
  );
  append(main, messages, h('div', { class: 'two-col locks-layout' }, listPanel, h('section', { class: 'panel', 'aria-labelledby': 'lock-form-heading' }, h('h2', { id: 'lock-form-heading' }, 'Lock an environment'), form)));

  const draw = async () => {
    const locks = (await get('/api/locks')) ?? [];
    if (!current.alive) return;
    replace(
      listPanel,
      h('h2', { id: 'locks-heading' }, 'Held locks'),
      locks.length === 0
        ? h('p', { class: 'empty' }, 'No locks: every environment takes deploys.')
        : table(
            'Held locks',
            ['Environment', 'Scope', 'Held by', 'Reason', 'Since', ''],
            locks.map((l) => {
              const scope = l.app ? `${l.env} (${l.app})` : l.env;
              const unlock = h('button', { type: 'button', class: 'button small', 'aria-label': `Unlock ${scope}` }, 'Unlock');
              unlock.addEventListener('click', async () => {
                unlock.disabled = true;
                try {
                  await api('DELETE', withQuery(`/api/locks/${seg(l.env)}`, { app: l.app ?? undefined }));
                  replace(messages, notice('ok', null, `${scope} is unlocked.`));
                  await draw();
                } catch (error) {
                  replace(messages, errorNotice(error, `${scope} could not be unlocked.`));
                  unlock.disabled = false;
                }
              });
              return h('tr', { 'data-env': l.env }, h('th', { scope: 'row' }, l.env), h('td', {}, l.app ?? 'all apps'), h('td', {}, l.by), h('td', {}, l.reason), h('td', {}, h('span', { title: l.at }, time(l.at)), h('div', { class: 'small subtle' }, agoEl(l.at))), h('td', {}, unlock));
            }),
            { hideCaption: true },
          ),
    );
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const env = envInput.value.trim();
    const reason = reasonInput.value.trim();
    envInput.setAttribute('aria-invalid', env ? 'false' : 'true');
    reasonInput.setAttribute('aria-invalid', reason ? 'false' : 'true');
    if (!env || !reason) {
      replace(messages, notice('error', 'Please fix the form.', !env ? 'Name the environment to lock. ' : '', !reason ? 'Give a reason: people whose deploys are refused will read it.' : ''));
      return;
    }
    lockButton.disabled = true;
    try {
      const body = { env, reason };
      if (appSelect.value) body.app = appSelect.value;
      await api('POST', '/api/locks', body);
      replace(messages, notice('ok', null, `${appSelect.value ? `${appSelect.value} in ${env}` : env} is locked.`));
      reasonInput.value = '';
      await draw();
    } catch (error) {
      replace(messages, errorNotice(error, error.status === 409 ? 'Already locked.' : 'The lock could not be taken.'));
    } finally {
      lockButton.disabled = false;
    }
  });

  await draw();
  current.every(10_000, () => void draw().catch(() => undefined));
  liveEvents(current, { types: 'lock.state' }, () => void draw().catch(() => undefined));
}

// ---------------------------------------------------------------------------------------------
// Roster

async function renderRoster(_m, current) {
  append(main, pageHead('Roster', { status: h('span', { class: 'subtle small' }, 'live: every daemon’s last heartbeat') }));
  const summary = h('p', { class: 'subtle', role: 'status', 'aria-live': 'polite' });
  const panel = h('section', { class: 'panel', 'aria-label': 'Roster' });
  append(main, summary, panel);
  const draw = async () => {
    const entries = ((await get('/api/roster')) ?? []).slice().sort((a, b) => (a.state === b.state ? 0 : a.state === 'down' ? -1 : 1) || a.host.localeCompare(b.host) || a.service.localeCompare(b.service));
    if (!current.alive) return;
    const down = entries.filter((e) => e.state === 'down').length;
    summary.textContent = `${entries.length} daemon${entries.length === 1 ? '' : 's'}: ${entries.length - down} up, ${down} down.`;
    replace(
      panel,
      entries.length === 0
        ? h('p', { class: 'empty' }, 'No heartbeats yet.')
        : table(
            'Roster',
            ['Host', 'Service', 'State', 'Last heartbeat', 'Version', 'Instance', 'Apps'],
            entries.map((e) =>
              h(
                'tr',
                { 'data-host': e.host, 'data-service': e.service },
                h('th', { scope: 'row' }, e.host),
                h('td', {}, e.service),
                h('td', {}, badge(e.state)),
                h('td', {}, agoEl(e.lastSeen)),
                h('td', { class: 'mono small' }, e.version ?? ''),
                h('td', { class: 'mono small subtle' }, e.instance ?? ''),
                h('td', { class: 'small' }, (e.apps ?? []).map((a) => `${a.app}/${a.env}${a.ref ? ` @ ${a.ref}` : ''}`).join(', ')),
              ),
            ),
            { hideCaption: true },
          ),
    );
  };
  await draw();
  // Heartbeats move lastSeen without a presence change, so poll as well as listen.
  current.every(3_000, () => void draw().catch(() => undefined));
  liveEvents(current, { types: 'presence.changed' }, () => void draw().catch(() => undefined));
}

// ---------------------------------------------------------------------------------------------
// Callbacks: HTTP callback subscriptions. The notifier POSTs each matching event, signed with the
// subscription's secret, to its URL; it checks every field (its destination allow-list included) and a
// refusal names the field, which the form shows next to that field.

/**
 * A signing secret made in this browser: 32 bytes from crypto.getRandomValues, base64url, with the
 * prefix the notifier gives the secrets it makes. It leaves the browser once, in the create request,
 * and the page shows it once, after the subscription is made.
 */
function newSecret() {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  const b64 = btoa(String.fromCharCode(...bytes));
  return `whsec_${b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

/** "deploy.*, task.completed" -> ['deploy.*', 'task.completed'] (commas or spaces between). */
function patternList(text) {
  return [...new Set(text.split(/[\s,]+/).filter((t) => t !== ''))];
}

const CALLBACK_FIELDS = { url: 'URL', events: 'Event types', app: 'Application', env: 'Environment', secret: 'Your secret', description: 'Description' };

async function renderCallbacks(_m, current) {
  append(main, pageHead('Callbacks', { status: h('span', { class: 'subtle small' }, 'events POSTed to your URLs, signed') }));
  const apps = await loadApps().catch(() => []);
  if (!current.alive) return;
  const envs = [...new Set(apps.flatMap((a) => a.envs))].sort();
  const messages = h('div', { 'aria-live': 'polite' });
  const secretArea = h('div', {});
  const listPanel = h('section', { class: 'panel', 'aria-labelledby': 'subs-heading' }, h('h2', { id: 'subs-heading' }, 'Subscriptions'), h('p', { class: 'loading' }, 'Loading…'));

  const urlInput = h('input', { type: 'url', name: 'url', required: true, autocomplete: 'off', spellcheck: 'false', maxlength: '2048', placeholder: 'https://hooks.example.com/deploybus' });
  const eventsInput = h('input', { type: 'text', name: 'events', required: true, autocomplete: 'off', spellcheck: 'false', value: 'deploy.*' });
  const appInput = h('input', { type: 'text', name: 'app', list: 'callback-apps', autocomplete: 'off', spellcheck: 'false' });
  const envInput = h('input', { type: 'text', name: 'env', list: 'callback-envs', autocomplete: 'off', spellcheck: 'false' });
  const descriptionInput = h('input', { type: 'text', name: 'description', maxlength: '512', autocomplete: 'off' });
  const generateRadio = h('input', { type: 'radio', name: 'secret-source', value: 'generate', checked: true });
  const ownRadio = h('input', { type: 'radio', name: 'secret-source', value: 'own' });
  const secretInput = h('input', { type: 'password', name: 'secret', autocomplete: 'new-password', spellcheck: 'false', maxlength: '256' });
  const createButton = h('button', { type: 'submit', class: 'button primary' }, 'Subscribe');
  const formMessages = h('div', { 'aria-live': 'polite' });

  /** Each field has a place for what is wrong with it (the form's check or the notifier's refusal), tied to its control. */
  const slots = new Map();
  const checkedField = (name, control, hint) => {
    const wrap = field(CALLBACK_FIELDS[name], control, hint);
    const slot = h('span', { class: 'field-error', id: `${control.id}-error`, 'data-field': name, hidden: true });
    wrap.append(slot);
    slots.set(name, { control, slot });
    return wrap;
  };
  const describedBy = (control, id, on) => {
    const ids = (control.getAttribute('aria-describedby') ?? '').split(' ').filter((x) => x !== '' && x !== id);
    if (on) ids.unshift(id);
    if (ids.length === 0) control.removeAttribute('aria-describedby');
    else control.setAttribute('aria-describedby', ids.join(' '));
  };
  const clearFieldErrors = () => {
    for (const { control, slot } of slots.values()) {
      slot.textContent = '';
      slot.hidden = true;
      control.removeAttribute('aria-invalid');
      describedBy(control, slot.id, false);
    }
  };
  /** Shows text next to the named field; false when the form has no such field (the caller shows it above the form). */
  const fieldError = (name, text) => {
    const entry = slots.get(name);
    if (!entry || entry.control.closest('[hidden]')) return false;
    entry.slot.textContent = text;
    entry.slot.hidden = false;
    entry.control.setAttribute('aria-invalid', 'true');
    describedBy(entry.control, entry.slot.id, true);
    return true;
  };

  const secretField = checkedField('secret', secretInput, '16 to 256 printable characters without spaces. The receiver checks signatures with it.');
  secretField.hidden = true;
  const form = h(
    'form',
    { class: 'stack', novalidate: true, 'aria-label': 'New subscription' },
    checkedField('url', urlInput, 'Where each event is POSTed. The notifier only calls destinations its operator allows.'),
    checkedField('events', eventsInput, 'Exact types (deploy.succeeded), prefixes (deploy.*, task.*) or * for everything; separate with commas.'),
    h('div', { class: 'row' }, checkedField('app', appInput, 'Empty: every app.'), checkedField('env', envInput, 'Empty: every environment.')),
    h('datalist', { id: 'callback-apps' }, apps.map((a) => h('option', { value: a.app }))),
    h('datalist', { id: 'callback-envs' }, envs.map((e) => h('option', { value: e }))),
    checkedField('description', descriptionInput, 'Optional, for people: what receives these events.'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Signing secret'),
      h(
        'div',
        { class: 'choices' },
        h('label', { class: 'choice' }, generateRadio, 'Generate one in this browser (shown once, after subscribing)'),
        h('label', { class: 'choice' }, ownRadio, 'Use my own'),
      ),
      secretField,
    ),
    formMessages,
    h('div', { class: 'form-actions' }, createButton),
  );
  for (const radio of [generateRadio, ownRadio]) {
    radio.addEventListener('change', () => {
      secretField.hidden = !ownRadio.checked;
      if (ownRadio.checked) secretInput.focus();
    });
  }
  append(main, messages, secretArea, listPanel, h('section', { class: 'panel', 'aria-labelledby': 'new-sub-heading' }, h('h2', { id: 'new-sub-heading' }, 'New subscription'), form));

  /** Events after the subscription's position that it will get: what a failing one still has to deliver. */
  const backlogOf = async (s) => {
    if ((s.events ?? []).includes('*')) return undefined;
    const page = await get('/api/events', { after: s.cursor, types: (s.events ?? []).join(','), app: s.app, env: s.env, limit: 1000 });
    return page?.events?.length;
  };

  const row = (s, backlog) => {
    const scope = `${s.app ?? 'every app'} / ${s.env ?? 'every environment'}`;
    const buttons = [];
    if (s.state === 'failing') {
      const enable = h('button', { type: 'button', class: 'button small', 'aria-label': `Re-enable callbacks to ${s.url}` }, 'Re-enable');
      enable.addEventListener('click', async () => {
        enable.disabled = true;
        try {
          await api('POST', `/api/subscriptions/${seg(s.id)}/enable`);
          replace(messages, notice('info', null, `Trying ${s.url} again now; what it missed follows in order once it answers.`));
          shown = '';
          await draw();
        } catch (error) {
          replace(messages, errorNotice(error, `Callbacks to ${s.url} could not be re-enabled.`));
          enable.disabled = false;
        }
      });
      buttons.push(enable);
    }
    const remove = h('button', { type: 'button', class: 'button small danger', 'aria-label': `Delete the subscription of ${s.url}` }, 'Delete');
    remove.addEventListener('click', async () => {
      if (!window.confirm(`Delete the subscription of ${s.url}? Nothing more is sent to it.`)) return;
      remove.disabled = true;
      try {
        await api('DELETE', `/api/subscriptions/${seg(s.id)}`);
        replace(messages, notice('ok', null, `The subscription of ${s.url} is deleted.`));
        await draw();
      } catch (error) {
        replace(messages, errorNotice(error, `The subscription of ${s.url} could not be deleted.`));
        remove.disabled = false;
      }
    });
    buttons.push(remove);
    const failing = s.state === 'failing';
    return h(
      'tr',
      { 'data-subscription': s.id, class: failing ? 'drift' : '' },
      h('th', { scope: 'row' }, h('div', { class: 'mono small break' }, s.url), s.description ? h('div', { class: 'small subtle' }, s.description) : null, h('div', { class: 'mono small subtle' }, s.id)),
      h('td', { class: 'mono small' }, (s.events ?? []).join(', ')),
      h('td', { class: 'small' }, scope),
      h(
        'td',
        {},
        badge(s.state),
        failing || s.failures > 0 ? h('div', { class: 'small' }, `${s.failures} failed deliver${s.failures === 1 ? 'y' : 'ies'} in a row`) : null,
        failing && s.lastError ? h('div', { class: 'small subtle break', 'data-testid': 'last-error' }, s.lastError) : null,
      ),
      h(
        'td',
        { class: 'small' },
        s.cursor > 0 ? `through event #${s.cursor}` : 'nothing yet',
        backlog === undefined ? null : h('div', { class: failing ? '' : 'subtle' }, backlog >= 1000 ? '1000 or more waiting' : `${backlog} waiting`),
      ),
      h('td', { class: 'small' }, s.createdBy, h('div', { class: 'subtle' }, agoEl(s.createdAt))),
      h('td', {}, h('div', { class: 'form-actions nowrap' }, buttons)),
    );
  };

  /** What the list showed last: an unchanged list is not redrawn, so polling never takes the focus from a button. */
  let shown = '';

  const draw = async () => {
    let subs;
    try {
      subs = (await get('/api/subscriptions')) ?? [];
    } catch (error) {
      if (!current.alive) return;
      shown = '';
      replace(listPanel, h('h2', { id: 'subs-heading' }, 'Subscriptions'), errorNotice(error, 'Subscriptions could not be loaded.'));
      return;
    }
    const backlogs = new Map();
    await Promise.all(subs.filter((s) => s.state === 'failing').map(async (s) => backlogs.set(s.id, await backlogOf(s).catch(() => undefined))));
    if (!current.alive) return;
    const key = JSON.stringify([subs, [...backlogs]]);
    if (key === shown) return;
    shown = key;
    replace(
      listPanel,
      h('h2', { id: 'subs-heading' }, 'Subscriptions'),
      subs.length === 0
        ? h('p', { class: 'empty' }, 'No subscriptions: nothing is sent anywhere. Subscribe a URL below.')
        : table('Subscriptions', ['URL', 'Events', 'Only', 'State', 'Delivered', 'Created', ''], subs.map((s) => row(s, backlogs.get(s.id))), { hideCaption: true }),
    );
  };

  const showSecret = (sub, secret) => {
    const secretBox = h('input', { type: 'text', readonly: true, value: secret, class: 'mono secret-value', spellcheck: 'false', autocomplete: 'off' });
    const copy = h('button', { type: 'button', class: 'button small' }, 'Copy');
    const done = h('button', { type: 'button', class: 'button small' }, 'I have stored it');
    copy.addEventListener('click', () => {
      secretBox.select();
      const written = navigator.clipboard?.writeText(secret);
      if (!written) return void (copy.textContent = 'Selected: press Ctrl+C');
      written.then(
        () => (copy.textContent = 'Copied'),
        () => (copy.textContent = 'Selected: press Ctrl+C'),
      );
    });
    done.addEventListener('click', () => replace(secretArea));
    replace(
      secretArea,
      h(
        'section',
        { class: 'panel secret-panel', 'aria-labelledby': 'secret-heading', 'data-subscription': sub.id },
        h('h2', { id: 'secret-heading' }, `Subscribed ${sub.url}`),
        h('p', {}, 'Configure the receiver with this signing secret now: it is shown only this once, and deploybus cannot show it again.'),
        field('Signing secret', secretBox),
        h('p', { class: 'small subtle' }, 'Each callback carries X-Deploybus-Timestamp and X-Deploybus-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>. Compare in constant time and refuse timestamps more than 5 minutes off.'),
        h('div', { class: 'form-actions' }, copy, done),
      ),
    );
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors();
    replace(formMessages);
    replace(secretArea);
    const url = urlInput.value.trim();
    const events = patternList(eventsInput.value);
    const own = ownRadio.checked;
    const bad = [];
    if (!url) bad.push(['url', 'Give the URL the events go to.']);
    if (events.length === 0) bad.push(['events', 'Name at least one event type, such as deploy.*']);
    if (own && (secretInput.value.length < 16 || secretInput.value.length > 256)) bad.push(['secret', 'Must be 16 to 256 characters.']);
    if (bad.length > 0) {
      for (const [name, text] of bad) fieldError(name, text);
      replace(formMessages, notice('error', 'Please fix the form.', `See ${bad.map(([name]) => CALLBACK_FIELDS[name]).join(', ')}.`));
      slots.get(bad[0][0])?.control.focus();
      return;
    }
    const secret = own ? secretInput.value : newSecret();
    const body = { url, events, secret };
    for (const [key, input] of [['app', appInput], ['env', envInput], ['description', descriptionInput]]) if (input.value.trim() !== '') body[key] = input.value.trim();
    createButton.disabled = true;
    try {
      const created = await api('POST', '/api/subscriptions', body);
      if (own) replace(secretArea, notice('ok', `Subscribed ${created.url}.`, 'Its callbacks are signed with the secret you gave.'));
      else showSecret(created, created.secret ?? secret);
      urlInput.value = '';
      descriptionInput.value = '';
      secretInput.value = '';
      await draw();
    } catch (error) {
      // The notifier names the field it refused ("url", "events.1"): the sentence goes next to that field.
      const name = error instanceof ApiError && error.status === 400 && error.field ? error.field.split('.')[0] : undefined;
      if (name !== undefined && fieldError(name, error.message)) {
        replace(formMessages, notice('error', 'The subscription was refused.', `See ${CALLBACK_FIELDS[name]}.`));
        slots.get(name).control.focus();
      } else {
        replace(formMessages, errorNotice(error, 'The subscription could not be made.'));
      }
    } finally {
      createButton.disabled = false;
    }
  });

  await draw();
  // Delivery moves positions and states without an event the stream carries: poll.
  current.every(5_000, () => void draw().catch(() => undefined));
}

// ---------------------------------------------------------------------------------------------

render();
