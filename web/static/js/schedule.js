// Schedule: the scheduler's jobs from the store with their last runs; switch a job off or on.
import { api, el, start, toast } from './common.js';

const when = (ms) => (ms ? new Date(ms).toLocaleString() : '–');

async function toggle(j) {
  try { const r = await api('/schedule', { name: j.name, enabled: !j.enabled }); toast(j.name + ': ' + r.message); } catch (err) { toast(err.message); }
  load();
}

function runs(j) {
  if (!j.runs.length) return el('span', { class: 'text-muted' }, 'never ran');
  return el('ul', { class: 'list-unstyled small mb-0' }, ...j.runs.map((r) => el('li', {},
    el('span', { class: 'badge me-1 ' + (r.status === 'ok' ? 'bg-success' : r.status === 'failed' ? 'bg-danger' : 'bg-secondary') }, r.status),
    when(r.scheduled_ms), r.detail ? ' · ' + r.detail : '')));
}

async function load() {
  const j = await api('/schedule');
  document.getElementById('jobs').replaceChildren(...(j.jobs.length ? j.jobs.map((x) => el('tr', { 'data-name': x.name },
    el('td', {}, el('strong', {}, x.name)), el('td', {}, x.kind), el('td', {}, el('code', {}, x.expr)), el('td', {}, x.tz),
    el('td', { class: 'small' }, (x.guild !== '0' ? 'guild ' + x.guild : '') + (x.channel !== '0' ? ' channel ' + x.channel : '')),
    el('td', { class: 'small' }, x.enabled ? when(x.next_ms) : 'off'), el('td', {}, runs(x)),
    el('td', {}, el('button', { class: 'btn btn-sm ' + (x.enabled ? 'btn-outline-warning' : 'btn-outline-success'), onclick: () => toggle(x) }, x.enabled ? 'Switch off' : 'Switch on'))))
    : [el('tr', {}, el('td', { colspan: 8, class: 'text-muted' }, 'no scheduled jobs'))]));
}

await start('schedule');
load();
setInterval(load, 10000);
