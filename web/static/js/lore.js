// Lore: the sources in the store, an upload (then `mimic lore add` as a job), removal (asks
// first), and a search box over the passages (the store's full-text search).
import { api, el, fmtBytes, jobEnd, start, toast, upload } from './common.js';

async function remove(s) {
  if (!window.confirm('Remove ' + s.file + ' (' + s.passages + ' passages) from the lore?')) return;
  try { await api('/lore/remove', { id: s.id, confirm: true }); toast('removed ' + s.file); } catch (err) { toast(err.message); }
  load();
}

async function load() {
  const j = await api('/lore');
  document.getElementById('passages').textContent = '(' + j.passages + ' passages)';
  document.getElementById('sources').replaceChildren(...(j.sources.length ? j.sources.map((s) => el('tr', { 'data-file': s.file },
    el('td', {}, s.id), el('td', { title: s.path }, s.file), el('td', {}, s.scope || '(shared)'), el('td', {}, s.format),
    el('td', {}, s.passages), el('td', {}, fmtBytes(s.bytes)), el('td', { class: 'small' }, new Date(s.added_ms).toLocaleString()),
    el('td', {}, el('button', { class: 'btn btn-outline-danger btn-sm', onclick: () => remove(s) }, 'Remove'))))
    : [el('tr', {}, el('td', { colspan: 8, class: 'text-muted' }, 'no lore yet: upload a file'))]));
}

await start('lore');
document.getElementById('upload-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = document.getElementById('file').files[0];
  if (!f) return;
  const msg = document.getElementById('upload-msg');
  const q = { file: f.name };
  const scope = document.getElementById('scope').value.trim();
  if (scope) q.scope = scope;
  msg.textContent = 'adding…';
  try {
    const r = await upload('/lore/upload', f, q);
    const done = await jobEnd(r.job);
    msg.textContent = done.state === 'done' ? 'added ' + f.name : 'adding failed (' + done.message + '); the Logs page says why';
    toast(msg.textContent);
  } catch (err) { msg.textContent = err.message; }
  load();
});
document.getElementById('search-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const q = new URLSearchParams({ q: document.getElementById('q').value });
  const scope = document.getElementById('search-scope').value.trim();
  if (scope) q.set('scope', scope);
  const out = document.getElementById('results');
  try {
    const j = await api('/lore/search?' + q.toString());
    out.replaceChildren(...(j.results.length ? j.results.map((h) => el('div', { class: 'card mb-2 hit' },
      el('div', { class: 'card-body py-2' },
        el('div', { class: 'small text-muted' }, (h.scope || '(shared)') + (h.title ? ' · ' + h.title : '') + (h.world_info ? ' · World Info' : '')),
        el('div', {}, h.text))))
      : [el('p', { class: 'text-muted' }, 'nothing found')]));
  } catch (err) { out.replaceChildren(el('p', { class: 'text-danger' }, err.message)); }
});
load();
setInterval(load, 10000);
