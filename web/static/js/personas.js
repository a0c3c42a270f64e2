// Personas: the list from the store, a card import (uploaded, then `mimic persona import` as a job),
// enable / disable / remove (as `mimic persona edit|remove` jobs; a removal asks first).
import { api, el, jobEnd, start, toast, upload } from './common.js';

async function act(action, name) {
  let confirm = false;
  if (action === 'remove') {
    confirm = window.confirm('Remove ' + name + ' with its settings and its character book in the lore?');
    if (!confirm) return;
  }
  try {
    const r = await api('/personas', { action, name, confirm });
    const row = await jobEnd(r.job);
    toast(row.state === 'done' ? name + ': ' + action + ' done' : name + ': ' + action + ' failed (' + row.message + '); the Logs page says why');
  } catch (err) { toast(err.message); }
  load();
}

function row(p) {
  const tr = el('tr', { 'data-name': p.name },
    el('td', {}, el('strong', {}, p.name), p.version ? el('span', { class: 'text-muted small' }, ' v' + p.version) : null),
    el('td', { class: 'small' }, p.aliases.join(', ')),
    el('td', {}, el('span', { class: 'badge ' + (p.enabled ? 'bg-success' : 'bg-secondary') }, p.enabled ? 'enabled' : 'disabled')),
    el('td', { class: 'small' }, p.adapter ? p.adapter.split('/').pop() + ' ×' + p.adapter_scale : 'base model'),
    el('td', {}, p.freewill.toFixed(2)),
    el('td', {}, p.triggers),
    el('td', { class: 'small' }, (p.lore_scope || p.name) + (p.has_book ? ' (book)' : '')),
    el('td', { class: 'small' }, p.description),
    el('td', { class: 'text-nowrap' },
      el('button', { class: 'btn btn-outline-secondary btn-sm me-1', onclick: () => act(p.enabled ? 'disable' : 'enable', p.name) }, p.enabled ? 'Disable' : 'Enable'),
      el('button', { class: 'btn btn-outline-danger btn-sm', onclick: () => act('remove', p.name) }, 'Remove')));
  return tr;
}

async function load() {
  const j = await api('/personas');
  document.getElementById('personas').replaceChildren(...(j.personas.length ? j.personas.map(row)
    : [el('tr', {}, el('td', { colspan: 9, class: 'text-muted' }, 'no personas yet: import a card'))]));
}

await start('personas');
document.getElementById('import-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = document.getElementById('card').files[0];
  if (!f) return;
  const msg = document.getElementById('import-msg');
  const q = { file: f.name };
  const as = document.getElementById('as').value.trim();
  if (as) q.name = as;
  if (document.getElementById('replace').checked) q.replace = '1';
  msg.textContent = 'importing…';
  try {
    const r = await upload('/personas/import', f, q);
    const done = await jobEnd(r.job);
    msg.textContent = done.state === 'done' ? 'imported ' + f.name : 'import failed (' + done.message + '); the Logs page says why';
    toast(msg.textContent);
  } catch (err) { msg.textContent = err.message; }
  load();
});
load();
setInterval(load, 10000);
