// Jobs: start fetch/prepare/train/eval as child processes, their progress from the jobs table
// (the same rows `mimic train` writes for its own bar), the loss curve of the selected run, the
// evaluation reports, and loading an adapter into the bot.
import { api, el, start, toast } from './common.js';

let selected = null, lossChart = null;

function splitArgs(s) {
  const out = []; const re = /"([^"]*)"|'([^']*)'|(\S+)/g; let m;
  while ((m = re.exec(s)) !== null) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function bar(j) {
  // A job that reports no step count (fetch, prepare, eval, and the dashboard's own CLI jobs) gets
  // an indeterminate bar while it runs.
  if (j.total <= 0 && (j.state === 'running' || j.state === 'queued'))
    return el('div', { class: 'progress', role: 'progressbar', 'aria-valuetext': j.message || 'running', id: 'job-' + j.id + '-progress' },
      el('div', { class: 'progress-bar progress-bar-striped progress-bar-animated', 'data-pct': 100 }, j.message || 'running'));
  const pct = j.total > 0 ? Math.floor(100 * j.done / j.total) : (j.state === 'done' ? 100 : 0);
  const cls = j.state === 'failed' ? 'bg-danger' : j.state === 'done' ? 'bg-success' : 'progress-bar-striped progress-bar-animated';
  return el('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100, id: 'job-' + j.id + '-progress' },
    el('div', { class: 'progress-bar ' + cls, 'data-pct': pct }, pct + '%'));
}

async function loadJobs() {
  const j = await api('/jobs');
  document.getElementById('jobs').replaceChildren(...j.jobs.map((x) => {
    const cancel = (x.state === 'running' || x.state === 'queued') ? el('button', { class: 'btn btn-outline-danger btn-sm', onclick: async () => { try { await api('/jobs/cancel', { id: x.id }); } catch (e) { toast(e.message); } } }, 'stop') : '';
    const row = el('tr', { 'data-state': x.state, id: 'job-' + x.id }, el('td', {}, x.id), el('td', {}, x.kind), el('td', { class: 'state' }, x.state), el('td', {}, bar(x)),
      el('td', {}, x.loss !== undefined ? x.loss.toFixed(4) : '–'), el('td', { class: 'small' }, x.message), el('td', {}, cancel));
    if (x.has_log) row.addEventListener('click', () => { selected = x.id; loadLoss(); });
    return row;
  }));
  // Bars of running jobs set their width from data-pct (no inline style attribute under the CSP).
  for (const b of document.querySelectorAll('.progress-bar')) b.style.width = b.dataset.pct + '%';
  if (selected === null) { const t = j.jobs.find((x) => x.has_log); if (t) { selected = t.id; } }
  if (selected !== null) loadLoss();
}

async function loadLoss() {
  if (!window.Chart) return;
  const l = await api('/jobs/loss?id=' + selected);
  document.getElementById('curve-job').textContent = '(job ' + selected + ')';
  if (lossChart) lossChart.destroy();
  lossChart = new window.Chart(document.getElementById('loss'), {
    type: 'line', data: { labels: l.step, datasets: [
      { label: 'training loss', data: l.loss, borderColor: '#0d6efd', pointRadius: 0 },
      { label: 'validation loss', data: l.val, borderColor: '#dc3545', spanGaps: true }] },
    options: { animation: false, responsive: true },
  });
}

async function loadReports() {
  const r = await api('/reports');
  document.getElementById('reports').replaceChildren(...(r.reports.length ? r.reports.map((f) => el('li', {}, el('a', { href: '/reports/' + encodeURIComponent(f), target: '_blank', rel: 'noopener' }, f))) : [el('li', { class: 'text-muted' }, 'none yet (mimic eval writes them)')]));
}

await start('training');
document.getElementById('start-job').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const r = await api('/jobs', { kind: document.getElementById('kind').value, args: splitArgs(document.getElementById('args').value) });
    toast('job ' + r.id + ' started'); selected = r.id;
  } catch (err) { toast(err.message); }
  loadJobs();
});
document.getElementById('load-adapter').addEventListener('submit', async (e) => {
  e.preventDefault();
  try { const r = await api('/adapter', { path: document.getElementById('adapter').value }); toast(r.message); } catch (err) { toast(err.message); }
});
loadJobs(); loadReports();
setInterval(loadJobs, 1000);
