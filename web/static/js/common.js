// Shared by every page: the API client (session cookie + CSRF header), the navigation bar, and
// notifications for the dashboard's notices (bot started, stopped, crashed; job finished), shown
// in the page and, when the person allowed it, through the browser's Notification API.
let csrf = null;
let lastEvent = 0;

export async function session() {
  if (csrf) return csrf;
  const r = await fetch('/api/session', { credentials: 'same-origin' });
  if (r.status === 401) { location.href = '/login'; throw new Error('not logged in'); }
  const j = await r.json();
  csrf = j.csrf;
  lastEvent = j.last_event || 0;
  return csrf;
}

export async function api(path, body) {
  const opts = { credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    opts.method = 'POST';
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-CSRF-Token'] = await session();
    opts.body = JSON.stringify(body);
  }
  const r = await fetch('/api' + path, opts);
  if (r.status === 401) { location.href = '/login'; throw new Error('not logged in'); }
  let j = {};
  try { j = await r.json(); } catch (e) { j = {}; }
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}

// Sends one file's bytes as the body of a POST (an upload: a card, a lore file); query is an object
// of query parameters (the file's name among them).
export async function upload(path, file, query) {
  const qs = new URLSearchParams(query).toString();
  const r = await fetch('/api' + path + '?' + qs, {
    method: 'POST', credentials: 'same-origin', body: file,
    headers: { 'Content-Type': 'application/octet-stream', 'X-CSRF-Token': await session() },
  });
  if (r.status === 401) { location.href = '/login'; throw new Error('not logged in'); }
  let j = {};
  try { j = await r.json(); } catch (e) { j = {}; }
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}

// Waits for job id (the jobs table) to end; resolves with its row.
export async function jobEnd(id) {
  for (;;) {
    const j = await api('/jobs');
    const row = j.jobs.find((x) => x.id === id);
    if (row && ['done', 'failed', 'cancelled'].includes(row.state)) return row;
    await new Promise((res) => setTimeout(res, 500));
  }
}

export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

export function fmtBytes(b) {
  if (b === undefined || b === null) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB']; let i = 0;
  while (b >= 1024 && i < 3) { b /= 1024; i++; }
  return b.toFixed(i ? 1 : 0) + ' ' + u[i];
}

export function fmtDuration(s) {
  if (!s && s !== 0) return '–';
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + 'd ' : '') + (h ? h + 'h ' : '') + m + 'm ' + Math.floor(s % 60) + 's';
}

export function toast(text) {
  const area = document.getElementById('toasts');
  if (!area) return;
  const n = el('div', { class: 'note', role: 'status' }, text);
  area.append(n);
  setTimeout(() => n.remove(), 8000);
}

function notify(text) {
  toast(text);
  if ('Notification' in window && Notification.permission === 'granted' && document.hidden)
    new Notification('mimic', { body: text });
}

const PAGES = [['status', 'Status'], ['logs', 'Logs'], ['stats', 'Statistics'], ['live', 'Live settings'],
  ['personas', 'Personas'], ['lore', 'Lore'], ['training', 'Training'], ['schedule', 'Schedule'],
  ['privacy', 'Privacy'], ['settings', 'Settings'], ['setup', 'First run']];

function nav() {
  const n = document.getElementById('nav');
  if (!n) return;
  const here = document.body.dataset.page;
  const ul = el('ul', { class: 'navbar-nav me-auto' });
  for (const [p, t] of PAGES)
    ul.append(el('li', { class: 'nav-item' }, el('a', { class: 'nav-link' + (p === here ? ' active' : ''), href: '/' + p }, t)));
  const right = el('div', { class: 'd-flex gap-2' });
  if ('Notification' in window && Notification.permission === 'default')
    right.append(el('button', { class: 'btn btn-outline-light btn-sm', id: 'notify', onclick: () => Notification.requestPermission() }, 'Notifications'));
  right.append(el('button', { class: 'btn btn-outline-light btn-sm', id: 'logout', onclick: async () => {
    await api('/logout', {}); location.href = '/login';
  } }, 'Log out'));
  n.append(el('a', { class: 'navbar-brand', href: '/status' }, 'mimic'), ul, right);
}

// The event stream: handlers get every log line (onLog) and notice; notices older than the page
// are not shown again.
export function stream(onLog, fromStart) {
  const after = fromStart ? 0 : lastEvent;
  const es = new EventSource('/api/events?after=' + after);
  es.addEventListener('log', (e) => { if (onLog) onLog(e.data, 'log', Number(e.lastEventId)); });
  es.addEventListener('notice', (e) => {
    if (onLog) onLog(e.data, 'notice', Number(e.lastEventId));
    if (Number(e.lastEventId) > lastEvent) notify(e.data);
  });
  return es;
}

// Notices for the pages other than the log: one tab holds the event stream (a Web Lock elects it)
// and passes notices to the others (a BroadcastChannel), so many open tabs never use up the
// browser's six connections per host.
function shareNotices() {
  if (!('locks' in navigator) || !('BroadcastChannel' in window)) { stream(null, false); return; }
  const ch = new BroadcastChannel('mimic-notices');
  ch.onmessage = (e) => { if (e.data && e.data.id > lastEvent) { lastEvent = e.data.id; toast(e.data.text); } };
  navigator.locks.request('mimic-notices', () => new Promise(() => {
    const es = new EventSource('/api/events?after=' + lastEvent);
    es.addEventListener('notice', (e) => {
      const id = Number(e.lastEventId);
      if (id <= lastEvent) return;
      lastEvent = id;
      notify(e.data);
      ch.postMessage({ id, text: e.data });
    });
  }));
}

export async function start(page) {
  await session();
  nav();
  if (page !== 'logs') shareNotices();
}
