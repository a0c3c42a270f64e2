// The first run: the token goes to `mimic setup` (run by the dashboard as a job), whose output
// (the token check, the MESSAGE CONTENT intent, the invite link, the model advice, the config it
// wrote) is shown here line by line. The token is never shown back.
import { api, el, fmtBytes, start } from './common.js';

async function load() {
  const j = await api('/setup');
  document.getElementById('token-state').textContent = j.token_set
    ? 'The bot has a token. Running this again writes the config anew.'
    : 'The bot has no token yet: this page gets it running.';
  document.getElementById('replace-box').classList.toggle('d-none', !j.token_set);
  if (j.config_path) document.getElementById('conf-path').textContent = j.config_path;
  document.getElementById('ram').textContent = 'This machine has ' + fmtBytes(j.ram_bytes) + ' of memory; ' +
    (j.models.length ? j.models.length + ' GGUF file(s) found.' : 'no GGUF file found yet: put one under models/ (setup says which size fits).');
  const sel = document.getElementById('model');
  sel.replaceChildren(el('option', { value: '' }, 'the recommended one'),
    ...j.models.map((m) => el('option', { value: m.path }, m.path + ' (' + fmtBytes(m.bytes) + ')')));
}

function follow(job, after) {
  const out = document.getElementById('setup-out');
  out.classList.remove('d-none');
  out.replaceChildren();
  const es = new EventSource('/api/events?after=' + after);
  es.addEventListener('log', (e) => { out.append(el('div', {}, e.data)); out.scrollTop = out.scrollHeight; });
  es.addEventListener('notice', (e) => {
    if (!e.data.startsWith('job ' + job + ' ')) return;
    es.close();
    const good = e.data.endsWith(' finished');
    const res = document.getElementById('setup-result');
    res.className = 'fw-bold ' + (good ? 'text-success' : 'text-danger');
    res.replaceChildren(good ? 'Done: invite the bot with the link above, then ' : 'Setup stopped: the lines above say why. ',
      good ? el('a', { href: '/status' }, 'start it on the status page') : '');
    load();
  });
}

await start('setup');
document.getElementById('setup-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = document.getElementById('token');
  const res = document.getElementById('setup-result');
  res.textContent = '';
  try {
    const r = await api('/setup', { token: input.value, model: document.getElementById('model').value, replace: document.getElementById('replace').checked });
    follow(r.job, r.after);
  } catch (err) { res.className = 'fw-bold text-danger'; res.textContent = err.message; }
  input.value = '';
});
load();
