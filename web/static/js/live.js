// Live settings: a slider (numbers with bounds) or a text box per key, saved on change and applied
// to the running bot at once; the source column says where the value in force comes from.
import { api, el, start, toast } from './common.js';

function control(k) {
  const id = 'key-' + k.key.replace(/\./g, '-');
  if ((k.type === 'number' || k.type === 'integer') && k.min !== undefined) {
    const step = k.type === 'integer' ? 1 : (k.max - k.min) / 100;
    const out = el('output', { for: id, class: 'ms-2', id: id + '-out' }, k.value);
    const r = el('input', { type: 'range', class: 'form-range', id, min: k.min, max: k.max, step, value: k.value, 'aria-label': k.key });
    r.addEventListener('input', () => { out.textContent = r.value; });
    r.addEventListener('change', () => save(k.key, r.value));
    return [r, out];
  }
  const t = el('input', { class: 'form-control form-control-sm', id, value: k.value ?? '', 'aria-label': k.key });
  t.addEventListener('change', () => save(k.key, t.value));
  return [t, ''];
}

async function save(key, value) {
  try { const r = await api('/live', { key, value }); toast(key + ' = ' + value + ': ' + r.message); } catch (e) { toast(key + ': ' + e.message); }
  load();
}

async function load() {
  const j = await api('/live');
  document.getElementById('keys').replaceChildren(...j.keys.map((k) => {
    const [c, out] = control(k);
    const src = k.source === 'live' ? 'live (was ' + k.below + ' from ' + k.below_source + ')' : k.source;
    return el('tr', {}, el('td', {}, el('code', {}, k.key), el('div', { class: 'small text-muted' }, k.help)), el('td', {}, c), el('td', {}, out), el('td', { class: 'small', id: 'src-' + k.key.replace(/\./g, '-') }, src));
  }));
}

await start('live');
load();
