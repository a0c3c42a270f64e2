// The live log: the bot's output over Server-Sent Events, coloured by level, filtered by level and
// text, with pause and auto-scroll. Lines keep arriving while paused and show on resume.
import { el, start, stream } from './common.js';

const LEVELS = { ERROR: 0, WARN: 1, INFO: 2, DEBUG: 3, TRACE: 4 };
const MAX = 5000;
const log = document.getElementById('log');
const lines = [];
let held = [];

function levelOf(text, kind) {
  if (kind === 'notice') return -1;
  const m = / (ERROR|WARN|INFO|DEBUG|TRACE) /.exec(text.slice(0, 40));
  return m ? LEVELS[m[1]] : 2;
}

function visible(l) {
  const max = Number(document.getElementById('level').value);
  const q = document.getElementById('search').value.toLowerCase();
  return l.level <= max && (!q || l.text.toLowerCase().includes(q));
}

function node(l) {
  const cls = l.level < 0 ? 'l-notice' : ['l-error', 'l-warn', 'l-info', 'l-debug', 'l-trace'][l.level];
  return el('div', { class: cls, 'data-id': l.id }, l.text);
}

function render() {
  log.replaceChildren(...lines.filter(visible).map(node));
  count();
  if (document.getElementById('follow').checked) log.scrollTop = log.scrollHeight;
}

function count() { document.getElementById('count').textContent = lines.length + ' lines' + (held.length ? ', ' + held.length + ' held' : ''); }

function add(l) {
  lines.push(l);
  if (lines.length > MAX) { lines.shift(); if (log.firstChild) log.firstChild.remove(); }
  if (visible(l)) log.append(node(l));
  if (document.getElementById('follow').checked) log.scrollTop = log.scrollHeight;
}

await start('logs');
stream((text, kind, id) => {
  const l = { text, kind, id, level: levelOf(text, kind) };
  if (document.getElementById('pause').checked) { held.push(l); count(); return; }
  add(l);
  count();
}, true);
document.getElementById('pause').addEventListener('change', (e) => {
  if (!e.target.checked) { for (const l of held) add(l); held = []; count(); }
});
for (const id of ['level', 'search']) document.getElementById(id).addEventListener('input', render);
