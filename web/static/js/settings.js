// Settings kept in the config file, and the bot token (write-only: never read back).
import { api, el, start, toast } from './common.js';

async function load() {
  const j = await api('/settings');
  document.getElementById('config-path').textContent = j.config_path || '(no config file: start the dashboard with --config to edit)';
  document.getElementById('token-state').textContent = j.token.set ? 'A token is set' + (j.token.file ? ' (in ' + j.token.file + ')' : '') + '.' : 'No token is set yet.';
  document.getElementById('keys').replaceChildren(...j.keys.map((k) => {
    const t = el('input', { class: 'form-control form-control-sm', value: k.value ?? '', 'aria-label': k.key });
    if (!j.editable) t.setAttribute('disabled', '');
    const b = el('button', { class: 'btn btn-outline-primary btn-sm', onclick: async () => {
      try { const r = await api('/settings', { key: k.key, value: t.value }); toast(r.message); } catch (e) { toast(k.key + ': ' + e.message); }
      load();
    } }, 'save');
    if (!j.editable) b.setAttribute('disabled', '');
    return el('tr', {}, el('td', {}, el('code', {}, k.key), el('div', { class: 'small text-muted' }, k.help)), el('td', {}, t), el('td', {}, b), el('td', { class: 'small' }, k.source));
  }));
}

await start('settings');
document.getElementById('token-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = document.getElementById('token');
  try { const r = await api('/token', { token: input.value }); toast(r.message); } catch (err) { toast(err.message); }
  input.value = '';
  load();
});
load();
