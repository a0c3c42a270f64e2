// Privacy: who is excluded or opted out, and the actions (run as `mimic privacy VERB ID`); a purge
// asks for confirmation first.
import { api, el, start, toast } from './common.js';

async function load() {
  const j = await api('/privacy');
  document.getElementById('people').replaceChildren(...(j.people.length ? j.people.map((p) => el('tr', {}, el('td', {}, p.user), el('td', {}, p.name), el('td', {}, p.flag), el('td', {}, new Date(p.set_ms).toLocaleString()), el('td', {}, p.reason))) : [el('tr', {}, el('td', { colspan: 5, class: 'text-muted' }, 'nobody is left out'))]));
}

await start('privacy');
document.getElementById('privacy-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const action = document.getElementById('action').value, user = document.getElementById('user').value.trim();
  let confirm = false;
  if (action === 'purge') {
    confirm = window.confirm('Delete every message of ' + user + ' from the store and every dataset file? This cannot be undone.');
    if (!confirm) return;
  }
  try { const r = await api('/privacy', { action, user, reason: document.getElementById('reason').value, confirm }); toast(r.message); } catch (err) { toast(err.message); }
  setTimeout(load, 1500);
});
load();
setInterval(load, 5000);
