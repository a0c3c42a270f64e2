// The status page: the supervisor's view of the bot and the bot's own /metrics, every 2 s.
import { api, el, fmtBytes, fmtDuration, start, toast } from './common.js';

const COLORS = { running: 'bg-success', stopped: 'bg-secondary', stopping: 'bg-warning', backoff: 'bg-danger', error: 'bg-danger', starting: 'bg-info' };

function rows(tbody, pairs) {
  tbody.replaceChildren(...pairs.map(([k, v]) => el('tr', {}, el('th', { class: 'fw-normal text-muted' }, k), el('td', {}, v))));
}

async function refresh() {
  let s;
  try { s = await api('/status'); } catch (e) { return; }
  const st = document.getElementById('state');
  st.textContent = s.bot.state + (s.bot.restart_in_s ? ' (retry in ' + s.bot.restart_in_s + ' s)' : '');
  st.className = 'badge fs-6 ' + (COLORS[s.bot.state] || 'bg-secondary');
  const c = s.child || {};
  rows(document.getElementById('proc'), [
    ['process', s.bot.pid ? 'pid ' + s.bot.pid : '–'],
    ['uptime', s.bot.state === 'running' ? fmtDuration(s.bot.uptime_s) : '–'],
    ['memory (RSS)', fmtBytes(c.rss_bytes)],
    ['CPU time', c.cpu_seconds !== undefined ? c.cpu_seconds.toFixed(1) + ' s' : '–'],
    ['threads', c.threads ?? '–'],
    ['crash restarts', s.bot.restarts],
    ['last problem', s.bot.last_error || '–'],
  ]);
  const last = c.last_reply_s ? new Date(c.last_reply_s * 1000).toLocaleString() : '–';
  rows(document.getElementById('bot'), [
    ['ready', c.ready === undefined ? '–' : (c.ready ? 'yes' : (c.ready_text || 'no'))],
    ['gateway', c.gateway_connected === undefined ? '–' : (c.gateway_connected ? 'connected' : 'not connected')],
    ['model', c.model_loaded ? (c.model || s.config.model) : (c.model_loaded === 0 ? 'not loaded' : s.config.model || '–')],
    ['adapter', s.config.adapter || 'none'],
    ['model memory', (s.config.preload ? 'loaded at start' : 'loaded on first use') +
      (s.config.idle_unload_s > 0 ? ', unloaded after ' + fmtDuration(s.config.idle_unload_s) + ' idle' : ', kept loaded') +
      (c.model_resident === undefined ? '' : (c.model_resident ? '; in memory now' : '; not in memory now'))],
    ['queue depth', c.queue_depth ?? '–'],
    ['tokens/s (last reply)', c.tokens_per_second !== undefined ? c.tokens_per_second.toFixed(1) : '–'],
    ['last reply', last],
    ['replies sent', c.replies && c.replies.sent !== undefined ? c.replies.sent : '–'],
  ]);
}

async function act(verb) {
  const msg = document.getElementById('action-msg');
  try { await api('/bot/' + verb, {}); msg.textContent = verb + ' requested'; } catch (e) { toast(e.message); msg.textContent = e.message; }
  refresh();
}

await start('status');
for (const v of ['start', 'stop', 'restart']) document.getElementById(v).addEventListener('click', () => act(v));
refresh();
setInterval(refresh, 2000);
