// The libscim console: a few pages over the admin API (docs/admin-api.md), routed by the
// URL's fragment. Every value from the server reaches the page through textContent or
// an attribute set by setAttribute, never as HTML. The admin credential is kept in
// sessionStorage (gone with the tab) and sent as a Bearer token.
'use strict';

const API = '/admin/api';
const KEY = 'libscim.admin';
const PAGE = 20;
const SERVICES = ['uem', 'access'];
const app = document.getElementById('app');
const warnings = document.getElementById('warnings');
// The secret of a token just issued, shown once on its directory's page.
let fresh = null;
// The activity page's poller, stopped when another page is shown.
let poller = null;

// --- DOM ------------------------------------------------------------------------------

// h('a', {href: '#/x'}, 'text', child…): attributes by setAttribute, strings as text.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function paint(...nodes) {
  app.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

function notice(kind, text, testid) {
  return h('p', { class: `notice ${kind}`, 'data-testid': testid }, text);
}

// A read-only value with a Copy button.
function copyField(value, testid) {
  const input = h('input', { type: 'text', readonly: true, 'data-testid': testid });
  input.value = value || '';
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(input.value);
      } catch {
        input.select();
        document.execCommand('copy');
      }
      button.textContent = 'Copied';
      setTimeout(() => { button.textContent = 'Copy'; }, 1500);
    },
  }, 'Copy');
  return h('div', { class: 'copy' }, input, button);
}

function table(headers, rows, testid) {
  return h('table', { 'data-testid': testid },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.length
      ? rows
      : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'Nothing yet.'))));
}

// A record as attribute | value rows (nested values as JSON).
function fields(record) {
  return h('table', { class: 'fields' }, h('tbody', {}, Object.entries(record).map(([k, v]) => h('tr', {},
    h('th', {}, k),
    h('td', { class: 'mono' }, typeof v === 'string' ? v : JSON.stringify(v))))));
}

function json(value) {
  return h('pre', { class: 'mono' }, JSON.stringify(value, null, 2));
}

// A field of an admin object, in camelCase or snake_case.
function get(obj, camel) {
  if (!obj) return undefined;
  if (obj[camel] !== undefined) return obj[camel];
  return obj[camel.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())];
}

function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

// --- the admin API ----------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.error)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const credential = sessionStorage.getItem(KEY);
  const headers = { Accept: 'application/json' };
  if (credential) headers.Authorization = `Bearer ${credential}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (resp.status === 401) sessionStorage.removeItem(KEY);
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

const enc = encodeURIComponent;

// --- token expiry -----------------------------------------------------------------------

const DAY = 86400000;

// 'expired', 'soon' (within 30 days) or 'ok', from the server's flags when present.
function tokenState(token) {
  if (!token) return 'none';
  const expired = get(token, 'expired');
  const soon = get(token, 'expiresSoon');
  const at = new Date(get(token, 'expiresAt')).getTime();
  if (expired === true || (expired === undefined && at <= Date.now())) return 'expired';
  if (soon === true || (soon === undefined && at - Date.now() <= 30 * DAY)) return 'soon';
  return 'ok';
}

function tokenBadge(token) {
  const state = tokenState(token);
  if (state === 'none') return h('span', { class: 'badge bad' }, 'no token');
  const at = get(token, 'expiresAt');
  if (state === 'expired') return h('span', { class: 'badge bad' }, `expired ${when(at)}`);
  const days = Math.max(0, Math.ceil((new Date(at).getTime() - Date.now()) / DAY));
  if (state === 'soon') return h('span', { class: 'badge warn' }, `expires in ${days} days`);
  return h('span', { class: 'badge ok' }, `valid until ${new Date(at).toLocaleDateString()}`);
}

// The banner above every page: each directory whose token expires within 30 days.
async function refreshWarnings() {
  if (!sessionStorage.getItem(KEY)) {
    warnings.replaceChildren();
    return;
  }
  try {
    const { directories } = await api('GET', '/directories');
    warnings.replaceChildren(...directories
      .filter((d) => tokenState(d.token) !== 'ok')
      .map((d) => {
        const state = tokenState(d.token);
        const text = state === 'none'
          ? 'has no token: the IdP cannot provision it.'
          : state === 'expired'
            ? `has an expired token (${when(get(d.token, 'expiresAt'))}): regenerate it and paste it into the IdP.`
            : `has a token expiring ${when(get(d.token, 'expiresAt'))}: regenerate it before then.`;
        return h('p', { class: `notice ${state === 'soon' ? 'warn' : 'bad'}`, 'data-testid': 'token-warning' },
          'Directory ', h('a', { href: `#/dir/${enc(d.id)}` }, d.name), ' ', text);
      }));
  } catch {
    // The page itself reports what went wrong.
  }
}

// --- pages ------------------------------------------------------------------------------

function signIn(message) {
  document.getElementById('nav').hidden = true;
  warnings.replaceChildren();
  const input = h('input', { type: 'password', id: 'credential', autocomplete: 'off', required: true });
  const error = h('div', {});
  if (message) error.append(notice('bad', message, 'signin-error'));
  const form = h('form', {
    class: 'card',
    onsubmit: async (e) => {
      e.preventDefault();
      const credential = input.value.trim();
      const resp = await fetch(`${API}/directories`, {
        headers: { Authorization: `Bearer ${credential}`, Accept: 'application/json' },
        cache: 'no-store',
      });
      if (resp.ok) {
        sessionStorage.setItem(KEY, credential);
        location.hash = '#/directories';
        route();
      } else {
        const body = await resp.json().catch(() => ({}));
        error.replaceChildren(notice('bad',
          resp.status === 401 ? 'That is not the admin credential.' : (body.detail || `HTTP ${resp.status}`),
          'signin-error'));
      }
    },
  },
  h('label', { for: 'credential' }, 'Admin credential'),
  h('p', { class: 'muted' }, 'The credential serve printed at start (never a SCIM token).'),
  input, error, h('p', {}, h('button', { type: 'submit' }, 'Sign in')));
  paint(h('h1', {}, 'Sign in'), form);
  input.focus();
}

async function directories(show) {
  const { directories: list } = await api('GET', '/directories');
  const rows = list.map((d) => h('tr', { 'data-testid': 'directory-row' },
    h('td', {}, h('a', { href: `#/dir/${enc(d.id)}` }, d.name)),
    h('td', {}, d.domain),
    h('td', {}, d.idp),
    h('td', {}, (d.services || []).map((s) => h('span', { class: 'badge' }, s))),
    h('td', {}, tokenBadge(d.token)),
    h('td', {}, h('a', { href: `#/dir/${enc(d.id)}/users` }, 'Users'), ' · ',
      h('a', { href: `#/dir/${enc(d.id)}/groups` }, 'Groups'))));
  show(
    h('div', { class: 'row' }, h('h1', {}, 'Directories'),
      h('a', { class: 'button', href: '#/new', 'data-testid': 'new-directory' }, 'New directory')),
    table(['Name', 'Domain', 'IdP', 'Services', 'Token', ''], rows, 'directories'));
}

function servicesChecks(selected) {
  return h('div', { class: 'checks' }, SERVICES.map((s) => h('label', {},
    h('input', { type: 'checkbox', name: 'services', value: s, checked: selected.includes(s) }),
    s === 'uem' ? 'UEM (devices)' : 'Access (identity)')));
}

function lifespanSelect(name, months) {
  const select = h('select', { name, id: name });
  for (let m = 1; m <= 24; m++) {
    select.append(h('option', { value: m, selected: m === months }, `${m} month${m > 1 ? 's' : ''}`));
  }
  return select;
}

// The wizard, step 1: what the directory is. Its page (step 2) shows what to paste into
// the IdP, the token's lifespan and the OIDC login.
function wizard(show) {
  const error = h('div', {});
  const form = h('form', {
    class: 'card',
    'data-testid': 'wizard',
    onsubmit: async (e) => {
      e.preventDefault();
      const f = new FormData(form);
      const body = {
        name: f.get('name'),
        domain: f.get('domain'),
        idp: f.get('idp'),
        services: f.getAll('services'),
        tokenLifespanMonths: Number(f.get('lifespan')),
      };
      try {
        const created = await api('POST', '/directories', body);
        fresh = { directory: created.directory.id, token: created.token };
        location.hash = `#/dir/${enc(created.directory.id)}`;
      } catch (err) {
        error.replaceChildren(notice('bad', err.message, 'wizard-error'));
      }
    },
  },
  h('label', { for: 'name' }, 'Name'),
  h('input', { type: 'text', name: 'name', id: 'name', required: true, placeholder: 'Okta production' }),
  h('label', { for: 'domain' }, 'Domain'),
  h('input', { type: 'text', name: 'domain', id: 'domain', required: true, placeholder: 'example.com' }),
  h('label', { for: 'idp' }, 'Identity provider'),
  h('select', { name: 'idp', id: 'idp' },
    h('option', { value: 'okta' }, 'Okta'),
    h('option', { value: 'entra' }, 'Microsoft Entra ID'),
    h('option', { value: 'generic' }, 'Other SCIM 2.0 client')),
  h('label', {}, 'Services that receive users'),
  servicesChecks(SERVICES),
  h('label', { for: 'lifespan' }, 'Token lifespan'),
  lifespanSelect('lifespan', 6),
  error,
  h('p', {}, h('button', { type: 'submit' }, 'Create directory')));
  show(h('h1', {}, 'New directory'), form);
}

function tabs(id, active) {
  const item = (key, href, text) => h('a', { href, class: key === active ? 'active' : null }, text);
  return h('div', { class: 'tabs' },
    item('settings', `#/dir/${enc(id)}`, 'Settings'),
    item('users', `#/dir/${enc(id)}/users`, 'Users'),
    item('groups', `#/dir/${enc(id)}/groups`, 'Groups'),
    item('activity', `#/activity?directory=${enc(id)}`, 'Activity'));
}

async function directory(show, id) {
  const d = await api('GET', `/directories/${enc(id)}`);
  const token = d.token;
  // Shown once: a later visit to the page no longer has it.
  const secret = fresh && fresh.directory === id ? fresh.token : null;
  fresh = null;
  const tokenCard = h('div', { class: 'card', 'data-testid': 'token-card' },
    h('h2', {}, 'Token'),
    h('p', {}, tokenBadge(token), token
      ? ` issued ${when(get(token, 'issuedAt'))}, lifespan ${get(token, 'lifespanMonths')} months, expires ${when(get(token, 'expiresAt'))}`
      : ''),
    secret
      ? [notice('warn', 'Copy the token now: it is shown only once.'), copyField(secret.secret, 'token')]
      : h('p', { class: 'muted' }, 'The token is shown only when it is issued. Regenerate to get a new one.'));
  const lifespan = lifespanSelect('regen-lifespan', (token && get(token, 'lifespanMonths')) || 6);
  const regenError = h('div', {});
  tokenCard.append(h('form', {
    class: 'row',
    onsubmit: async (e) => {
      e.preventDefault();
      if (token && !confirm('Regenerate the token? The current one stops working at once.')) return;
      try {
        const issued = await api('POST', `/directories/${enc(id)}/token`, { lifespanMonths: Number(lifespan.value) });
        fresh = { directory: id, token: issued };
        await directory(show, id);
        refreshWarnings();
      } catch (err) {
        regenError.replaceChildren(notice('bad', err.message, 'regenerate-error'));
      }
    },
  }, h('label', { for: 'regen-lifespan' }, 'Lifespan'), lifespan,
  h('button', { type: 'submit', 'data-testid': 'regenerate' }, 'Regenerate')), regenError);

  const login = d.login;
  const oidcError = h('div', {});
  const field = (name, label, value, type = 'text') => [
    h('label', { for: name }, label),
    (() => {
      const input = h('input', { type, name, id: name, required: true });
      input.value = value || '';
      return input;
    })(),
  ];
  const oidcForm = h('form', {
    'data-testid': 'oidc-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const f = new FormData(oidcForm);
      const body = {
        clientId: f.get('clientId'),
        clientSecret: f.get('clientSecret'),
        configUrl: f.get('configUrl'),
        claim: f.get('claim') || 'email',
        attribute: f.get('attribute') || 'email',
        allowHttp: f.get('allowHttp') === 'on',
      };
      try {
        await api('PUT', `/directories/${enc(id)}/oidc`, body);
        await directory(show, id);
      } catch (err) {
        oidcError.replaceChildren(notice('bad', err.message, 'oidc-error'));
      }
    },
  },
  field('clientId', 'Client ID', login && get(login, 'clientId')),
  field('clientSecret', login ? 'Client secret (never shown again: enter it to save)' : 'Client secret', '', 'password'),
  field('configUrl', 'Configuration URL (.well-known/openid-configuration)', login && get(login, 'configUrl'), 'url'),
  h('div', { class: 'row' },
    h('div', {}, field('claim', 'ID-token claim', (login && get(login, 'claim')) || 'email')),
    h('span', {}, '↔'),
    h('div', {}, field('attribute', 'User attribute', (login && get(login, 'attribute')) || 'email'))),
  h('div', { class: 'checks' }, h('label', {}, h('input', { type: 'checkbox', name: 'allowHttp' }),
    'Allow http:// IdP URLs (loopback testing only)')),
  oidcError,
  h('p', {}, h('button', { type: 'submit' }, login ? 'Save login' : 'Enable login')));
  const oidcCard = h('div', { class: 'card' }, h('h2', {}, 'Sign-in with OpenID Connect'),
    login
      ? [h('label', {}, 'Redirect URI (paste into the IdP application)'),
        copyField(get(login, 'redirectUri'), 'redirect-uri'),
        h('label', {}, 'Login URL'), copyField(get(login, 'loginUrl'), 'login-url')]
      : h('p', { class: 'muted' }, 'Not configured.'),
    oidcForm);

  let outbox = null;
  try {
    outbox = await api('GET', `/directories/${enc(id)}/outbox`);
  } catch {
    outbox = null;
  }
  show(
    h('h1', {}, d.name),
    tabs(id, 'settings'),
    h('div', { class: 'card' },
      h('p', {}, h('span', { class: 'badge' }, d.idp), ' domain ', h('strong', {}, d.domain), ' · services ',
        (d.services || []).map((s) => h('span', { class: 'badge', 'data-testid': 'service' }, s))),
      h('label', {}, 'Tenant URL (paste into the IdP)'),
      copyField(get(d, 'tenantUrl'), 'tenant-url')),
    tokenCard,
    oidcCard,
    outbox && h('div', { class: 'card', 'data-testid': 'outbox' }, h('h2', {}, 'Outbox'),
      h('p', {}, `${outbox.pending} pending · last event ${get(outbox, 'lastSeq')} · acknowledged up to ${outbox.acked}`,
        ` · ${outbox.kept} kept · ${outbox.dropped} dropped`),
      eventsTable(outbox.recent)));
}

// The query of a search box, as a SCIM filter: a filter typed as such is sent as is,
// a plain word is looked for in the names.
function searchFilter(text, attrs) {
  const t = text.trim();
  if (!t) return '';
  if (/\s(eq|ne|co|sw|ew|gt|ge|lt|le|pr)(\s|$)/i.test(t)) return t;
  const quoted = JSON.stringify(t);
  return attrs.map((a) => `${a} co ${quoted}`).join(' or ');
}

async function listing(show, id, kind, params) {
  const start = Math.max(1, Number(params.get('start')) || 1);
  const q = params.get('q') || '';
  const attrs = kind === 'users' ? ['userName', 'displayName'] : ['displayName'];
  const query = new URLSearchParams({ startIndex: start, count: PAGE });
  const filter = searchFilter(q, attrs);
  if (filter) query.set('filter', filter);
  const d = await api('GET', `/directories/${enc(id)}`);
  const search = h('input', { type: 'search', name: 'q', placeholder: kind === 'users' ? 'userName or a SCIM filter' : 'group name or a SCIM filter' });
  search.value = q;
  const go = (s) => {
    const p = new URLSearchParams();
    if (search.value.trim()) p.set('q', search.value.trim());
    if (s > 1) p.set('start', s);
    location.hash = `#/dir/${enc(id)}/${kind}?${p}`;
  };
  const head = [h('h1', {}, d.name), tabs(id, kind),
    h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); go(1); } },
      search, h('button', { type: 'submit' }, 'Search'))];
  let page;
  try {
    page = await api('GET', `/directories/${enc(id)}/${kind}?${query}`);
  } catch (err) {
    if (err.status === 400) {
      show(...head, notice('bad', err.message, 'search-error'));
      return;
    }
    throw err;
  }
  const resources = page.Resources || [];
  const total = page.totalResults || 0;
  const rows = resources.map((r) => {
    const link = h('a', { href: `#/dir/${enc(id)}/${kind}/${enc(r.id)}` },
      kind === 'users' ? (r.userName || r.id) : (r.displayName || r.id));
    if (kind === 'users') {
      const email = (r.emails || []).find((e) => e.primary) || (r.emails || [])[0];
      return h('tr', { 'data-testid': 'user-row' }, h('td', {}, link), h('td', {}, r.displayName || ''),
        h('td', {}, email ? email.value : ''),
        h('td', {}, r.active === false ? h('span', { class: 'badge bad' }, 'inactive') : h('span', { class: 'badge ok' }, 'active')),
        h('td', { class: 'mono' }, r.externalId || ''));
    }
    return h('tr', { 'data-testid': 'group-row' }, h('td', {}, link),
      h('td', {}, when(r.meta && r.meta.lastModified)),
      h('td', { class: 'mono' }, r.externalId || ''));
  });
  const headers = kind === 'users' ? ['userName', 'Name', 'Email', 'Status', 'externalId'] : ['Group', 'Last modified', 'externalId'];
  const last = start + resources.length - 1;
  const list = table(headers, rows, kind);
  // What the list answers, for a reader (or a test) telling one search's answer from another's.
  list.setAttribute('data-query', q);
  list.setAttribute('data-start', start);
  show(...head,
    list,
    h('div', { class: 'pager' },
      h('button', { type: 'button', class: 'secondary', disabled: start <= 1, onclick: () => go(Math.max(1, start - PAGE)) }, 'Previous'),
      h('span', { 'data-testid': 'page-info' }, total ? `${start}–${last} of ${total}` : 'none'),
      h('button', { type: 'button', class: 'secondary', disabled: last >= total, onclick: () => go(start + PAGE) }, 'Next')));
}

function eventsTable(events) {
  return table(['Seq', 'Time', 'Event', 'Summary'], (events || []).map((e) => h('tr', { 'data-testid': 'event-row' },
    h('td', {}, get(e, 'eventSeq') ?? e.seq), h('td', {}, when(e.time)), h('td', {}, e.event || e.kind || ''),
    h('td', {}, e.summary || ''))), 'events');
}

async function user(show, id, userId) {
  const d = await api('GET', `/directories/${enc(id)}`);
  const u = await api('GET', `/directories/${enc(id)}/users/${enc(userId)}`);
  const records = u.records || {};
  const record = (service, title) => h('div', { class: 'card', 'data-testid': `record-${service}` },
    h('h2', {}, title),
    records[service] ? fields(records[service]) : h('p', { class: 'muted' }, 'Not fed to this service.'));
  show(
    h('h1', {}, u.user.userName || userId),
    tabs(id, 'users'),
    h('p', {}, h('a', { href: `#/dir/${enc(id)}/users` }, `← ${d.name} users`)),
    h('div', { class: 'grid2' }, record('uem', 'Workspace ONE UEM record'), record('access', 'Workspace ONE Access record')),
    h('h2', {}, 'Recent events'),
    eventsTable(u.events),
    h('h2', {}, 'SCIM resource'),
    h('div', { class: 'card', 'data-testid': 'scim-resource' }, json(u.user)));
}

async function group(show, id, groupId) {
  const g = await api('GET', `/directories/${enc(id)}/groups/${enc(groupId)}`);
  const members = g.members || [];
  // A member pushed without a display name is named by its user's userName (the first
  // 50 looked up; beyond, the id).
  const names = new Map();
  await Promise.all(members.filter((m) => !m.display && m.value && m.type !== 'Group').slice(0, 50)
    .map(async (m) => {
      try {
        const u = await api('GET', `/directories/${enc(id)}/users/${enc(m.value)}`);
        names.set(m.value, u.user.userName);
      } catch {
        // Shown by id.
      }
    }));
  const rows = members.map((m) => h('tr', { 'data-testid': 'member-row' },
    h('td', {}, m.type === 'Group' || !m.value
      ? (m.display || m.value)
      : h('a', { href: `#/dir/${enc(id)}/users/${enc(m.value)}` }, m.display || names.get(m.value) || m.value)),
    h('td', {}, m.type || 'User'), h('td', { class: 'mono' }, m.value)));
  show(
    h('h1', {}, g.group.displayName || groupId),
    tabs(id, 'groups'),
    h('p', {}, h('span', { class: 'badge ok' }, 'pushed'), ` ${rows.length} member${rows.length === 1 ? '' : 's'}`),
    table(['Member', 'Type', 'id'], rows, 'members'),
    h('h2', {}, 'SCIM resource'),
    h('div', { class: 'card' }, json(g.group)));
}

async function activity(show, params) {
  const directory = params.get('directory') || '';
  const tbody = h('tbody', {});
  const status = h('span', { class: 'muted', 'data-testid': 'activity-status' }, 'connecting…');
  show(
    h('div', { class: 'row' }, h('h1', {}, 'Activity'), status),
    directory ? h('p', {}, 'One directory only. ', h('a', { href: '#/activity' }, 'Show all.')) : null,
    h('table', { 'data-testid': 'activity' },
      h('thead', {}, h('tr', {}, ['Time', 'Directory', 'What', 'Status', 'Detail'].map((t) => h('th', {}, t)))),
      tbody));
  let after = 0;
  const state = { stopped: false, timer: null };
  poller = { stop: () => { state.stopped = true; clearTimeout(state.timer); } };
  const tick = async () => {
    if (state.stopped) return;
    try {
      const q = new URLSearchParams({ after, limit: 200 });
      if (directory) q.set('directory', directory);
      const feed = await api('GET', `/activity?${q}`);
      for (const item of feed.items || []) {
        const request = item.kind === 'request';
        tbody.prepend(h('tr', { 'data-testid': 'activity-row', 'data-kind': item.kind },
          h('td', {}, when(item.time)),
          h('td', {}, get(item, 'directoryName') || item.directory || '—'),
          h('td', {}, request ? `${item.method} ${item.path}` : item.event),
          h('td', {}, request ? h('span', { class: `badge ${item.status >= 400 ? 'bad' : 'ok'}` }, item.status) : ''),
          h('td', {}, request ? `${item.latencyMs} ms` : (item.summary || ''))));
      }
      while (tbody.children.length > 500) tbody.lastElementChild.remove();
      if (feed.next !== undefined && feed.next !== null) after = feed.next;
      status.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      status.textContent = `paused: ${err.message}`;
    }
    if (!state.stopped) state.timer = setTimeout(tick, 1500);
  };
  await tick();
}

// --- routing ------------------------------------------------------------------------------

// Pages render through a `show` that is void once another route has begun, so a slow
// answer for a page already left never replaces the page shown now.
let generation = 0;

async function route() {
  if (poller) poller.stop();
  poller = null;
  const mine = ++generation;
  const show = (...nodes) => {
    if (mine === generation) paint(...nodes);
  };
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query || '');
  const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
  if (!sessionStorage.getItem(KEY) || parts[0] === 'signin') {
    signIn();
    return;
  }
  document.getElementById('nav').hidden = false;
  refreshWarnings();
  try {
    if (parts[0] === 'new') wizard(show);
    else if (parts[0] === 'activity') await activity(show, params);
    else if (parts[0] === 'dir' && parts.length === 2) await directory(show, parts[1]);
    else if (parts[0] === 'dir' && parts[2] === 'users' && parts.length === 3) await listing(show, parts[1], 'users', params);
    else if (parts[0] === 'dir' && parts[2] === 'users' && parts.length === 4) await user(show, parts[1], parts[3]);
    else if (parts[0] === 'dir' && parts[2] === 'groups' && parts.length === 3) await listing(show, parts[1], 'groups', params);
    else if (parts[0] === 'dir' && parts[2] === 'groups' && parts.length === 4) await group(show, parts[1], parts[3]);
    else await directories(show);
  } catch (err) {
    if (mine !== generation) return;
    if (err.status === 401) {
      history.replaceState(null, '', '#/signin');
      signIn('Signed out: the admin credential was refused.');
      return;
    }
    show(notice('bad', err.message, 'page-error'));
  }
}

document.getElementById('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  location.hash = '#/signin';
});
window.addEventListener('hashchange', route);
route();
