// Statistics from the store: totals for the window and charts per hour (24 h) or per 6 h (7 d).
import { api, el, start } from './common.js';

let counts = null, latency = null;

function chart(id, labels, sets, old) {
  if (old) old.destroy();
  return new window.Chart(document.getElementById(id), {
    type: 'line', data: { labels, datasets: sets },
    options: { animation: false, responsive: true, interaction: { mode: 'index', intersect: false }, scales: { y: { beginAtZero: true } } },
  });
}

async function load() {
  const w = document.getElementById('window').value;
  const s = await api('/stats?window=' + w);
  const t = s.total;
  const rows = [['messages seen', t.seen], ['replies', t.replies], ['reply rate', (t.rate * 100).toFixed(1) + ' %'],
    ['latency p50 / p95 / p99', t.p50_ms.toFixed(0) + ' / ' + t.p95_ms.toFixed(0) + ' / ' + t.p99_ms.toFixed(0) + ' ms'],
    ['errors', t.errors], ['skipped', t.skipped], ['empty', t.empty], ['tokens generated', t.gen_tokens]];
  document.getElementById('totals').replaceChildren(...rows.map(([k, v]) => el('tr', {}, el('th', { class: 'fw-normal text-muted' }, k), el('td', { id: 'stat-' + k.split(' ')[0] }, v))));
  if (!window.Chart) return;
  const labels = s.series.map((p) => new Date(p.t).toLocaleString([], w === '7d' ? { weekday: 'short', hour: '2-digit' } : { hour: '2-digit', minute: '2-digit' }));
  counts = chart('counts', labels, [
    { label: 'seen', data: s.series.map((p) => p.seen), borderColor: '#6c757d' },
    { label: 'replies', data: s.series.map((p) => p.replies), borderColor: '#0d6efd' },
    { label: 'errors', data: s.series.map((p) => p.errors), borderColor: '#dc3545' }], counts);
  latency = chart('latency', labels, [
    { label: 'p50 ms', data: s.series.map((p) => p.p50_ms), borderColor: '#198754' },
    { label: 'p95 ms', data: s.series.map((p) => p.p95_ms), borderColor: '#fd7e14' },
    { label: 'p99 ms', data: s.series.map((p) => p.p99_ms), borderColor: '#dc3545' }], latency);
}

await start('stats');
document.getElementById('window').addEventListener('change', load);
load();
setInterval(load, 60000);
