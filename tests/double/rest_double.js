#!/usr/bin/env node
// A scripted double of Discord's REST API (v10) for mimic's tests. Plain Node `http`, no npm
// packages. It is not Discord: it implements the routes mimic calls with realistic JSON, Discord's
// rate-limit headers and behaviour (per-route buckets keyed by major parameter, the global limit,
// 429 bodies and scopes), scripted faults (429 storms, 5xx bursts, malformed JSON, huge bodies,
// garbage headers), and an in-memory store of channels and messages. Every request is logged as one
// JSON line (time, method, path, body, bucket state at arrival, whether it hit an empty bucket or
// exceeded the global limit) so the C tests can check the client's behaviour from the outside.
//
// Usage: node rest_double.js CONFIG.json     (prints {"port":N} on stdout once listening)
// Config (every field optional):
//   token        expected bot token (401 otherwise); app_id; bot_id; gateway_url; shards
//   app_flags    GET /applications/@me "flags" (default 1<<19: MESSAGE CONTENT on); app_name; bot_public
//   base         path prefix (default "/api/v10")
//   global       {limit: 50, window_ms: 1000}
//   default_bucket {limit: 5, window_ms: 1000}
//   buckets      {"POST /channels/{channel_id}/messages": {limit, window_ms, id}} (same id = shared)
//   faults       [{route: template or "*", kind: "429"|"5xx"|"malformed"|"big"|"bad_headers"|"hang",
//                  count, skip, scope ("user"|"shared"|"global"), retry_after (s), status, bytes,
//                  path (only requests whose path, after the base, starts with it)}]
//   seed         {guilds: [{id, name, channels: [{id, name, type, messages: N, parent_id, archived,
//                  webhooks: N (other integrations' webhooks), no_webhooks (the bot lacks Manage
//                  Webhooks there: 403 50013 on its webhook routes),
//                  forbidden (403 on its messages and thread lists), rich (mentions, attachments,
//                  embeds, reactions, replies, edits in the seeded history)}]}]}
//   manage_threads  the bot may list private archived threads (403 otherwise)
//   log          path of the JSON-lines request log
// Test-only endpoints (outside the API base, never logged or rate limited):
//   GET /_double/dump               {channel id: [message ids, oldest first]}
//   GET /_double/dump?channel=ID    that channel's message objects, oldest first
//   POST /_double/add {channel_id, n}  n new messages in a channel (ids newer than every other)
//   GET /_double/webhooks[?channel=ID]  the webhooks (with avatar hashes and tokens)
//   POST /_double/webhook_delete {id}   deletes a webhook as someone else would
'use strict';
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');

const cfg = process.argv[2] ? JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) : {};
const BASE = cfg.base || '/api/v10';
const APP_ID = cfg.app_id || '900000000000000001';
const BOT_ID = cfg.bot_id || APP_ID;
const GLOBAL = Object.assign({limit: 50, window_ms: 1000}, cfg.global || {});
const DEFAULT_BUCKET = Object.assign({limit: 5, window_ms: 1000}, cfg.default_bucket || {});
const BUCKETS = cfg.buckets || {};
const FAULTS = (cfg.faults || []).map((f) => Object.assign({count: 1, skip: 0, seen: 0, fired: 0}, f));
const T0 = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - T0) / 1e6; // monotonic ms since start
const EPOCH = 1420070400000n;
let snowSeq = 0n;
function snowflake(ms) {
  snowSeq = (snowSeq + 1n) & 4095n;
  return (((BigInt(ms) - EPOCH) << 22n) | snowSeq).toString();
}
let lastSnow = 0n;
function nextId() { // strictly increasing ids
  let id = BigInt(snowflake(Date.now()));
  if (id <= lastSnow) id = lastSnow + 1n;
  lastSnow = id;
  return id.toString();
}
const cmpId = (a, b) => { const x = BigInt(a), y = BigInt(b); return x < y ? -1 : x > y ? 1 : 0; };

// ---- store ----
const channels = new Map(); // id -> {id, guild_id, name, type, parent_id, archived, messages: []}
const guilds = new Map();   // id -> {id, channels: [ids]}
const webhooks = new Map(); // id -> {id, token, channel_id, name}
const dms = new Map();      // recipient -> channel id
const reactions = new Map(); // message id -> Map(emoji -> [user ids])
const users = [];
for (let i = 0; i < 8; i++) users.push({id: String(100000000000000000n + BigInt(i)), username: `user${i}`, global_name: `User ${i}`, discriminator: '0', avatar: null, bot: false});
const botUser = {id: BOT_ID, username: 'mimic', global_name: null, discriminator: '0', avatar: null, bot: true};

function makeMessage(ch, author, content, extra) {
  const id = nextId();
  const m = Object.assign({id, channel_id: ch.id, author, content, timestamp: new Date().toISOString(),
    edited_timestamp: null, tts: false, mention_everyone: false, mentions: [], mention_roles: [],
    attachments: [], embeds: [], pinned: false, type: 0, flags: 0}, extra || {});
  if (ch.guild_id) m.guild_id = ch.guild_id;
  ch.messages.push(m);
  return m;
}

let archiveSeq = 0, seededChannels = 0;
function addChannel(c, guildId) {
  const ch = {id: String(c.id), guild_id: guildId, name: c.name || `channel-${c.id}`, type: c.type === undefined ? 0 : c.type,
    parent_id: c.parent_id || null, archived: !!c.archived, forbidden: !!c.forbidden, messages: [],
    archive_ms: Date.now() - 3600000 - (archiveSeq++) * 1000, no_webhooks: !!c.no_webhooks};
  channels.set(ch.id, ch);
  // Webhooks of other integrations already in the channel (they count toward the limit of 15).
  for (let i = 0; i < (c.webhooks || 0); i++) {
    const w = {id: nextId(), token: crypto.randomBytes(24).toString('base64url'), channel_id: ch.id, name: `other-bot ${i}`, foreign: true};
    webhooks.set(w.id, w);
  }
  if (guildId) guilds.get(guildId).channels.push(ch.id);
  const n = c.messages || 0;
  // Seeded history: ids spread over the past, oldest first.
  const start = Date.now() - n * 60000;
  // Ids unique across channels: the channel's seed index in the worker bits, i in the sequence.
  const worker = BigInt(seededChannels++ % 1024) << 12n;
  for (let i = 0; i < n; i++) {
    const id = ((BigInt(start + i * 60000) - EPOCH) << 22n | worker | BigInt(i % 4096)).toString();
    const u = users[i % users.length];
    const m = {id, channel_id: ch.id, guild_id: guildId, author: u, content: `message ${i} in ${ch.name}`,
      timestamp: new Date(start + i * 60000).toISOString(), edited_timestamp: null, tts: false,
      mention_everyone: false, mentions: [], mention_roles: [], attachments: [], embeds: [], pinned: false,
      type: 0, flags: 0};
    if (c.rich) enrich(ch, m, i);
    ch.messages.push(m);
  }
  return ch;
}

// Deterministic variety for "rich" channels: every field the fetcher must keep shows up.
function enrich(ch, m, i) {
  const ms = Date.parse(m.timestamp);
  if (i % 5 === 1) m.attachments = [{id: String(BigInt(m.id) + 1n), filename: `photo${i}.png`, size: 1000 + i,
    url: `https://cdn.example/attachments/${ch.id}/${i}/photo${i}.png`, proxy_url: 'https://media.example/x', content_type: 'image/png'}];
  if (i % 7 === 2) {
    m.reactions = [{count: 3, count_details: {burst: 0, normal: 3}, me: false, me_burst: false, emoji: {id: null, name: '👍'}, burst_colors: []},
      {count: 1, count_details: {burst: 0, normal: 1}, me: false, me_burst: false, emoji: {id: '555000000000000001', name: 'pepe'}, burst_colors: []}];
    reactions.set(m.id, new Map([['👍', users.slice(1, 4).map((u) => u.id)], ['pepe:555000000000000001', [users[6].id]]]));
  }
  if (i % 11 === 3 && ch.messages.length) {
    const prev = ch.messages[ch.messages.length - 1];
    m.type = 19;
    m.message_reference = {type: 0, message_id: prev.id, channel_id: ch.id, guild_id: m.guild_id};
    m.referenced_message = prev;
  }
  if (i % 13 === 4) {
    const u = users[(i + 1) % users.length];
    m.mentions = [u];
    m.content = `<@${u.id}> look at this ${i}`;
  }
  if (i % 17 === 5) m.embeds = [{type: 'rich', title: `Title ${i}`, description: `Embedded text ${i}`}];
  if (i % 19 === 6) { m.edited_timestamp = new Date(ms + 30000).toISOString(); m.content += ' (edited)'; }
  if (i % 23 === 7) m.content = `héllo 👋 "quoted" \\ back\nslash ${i}  two  spaces\n`;
}

for (const g of (cfg.seed && cfg.seed.guilds) || []) {
  guilds.set(String(g.id), {id: String(g.id), name: g.name || `guild-${g.id}`, channels: []});
  for (const c of g.channels || []) addChannel(c, String(g.id));
}

// ---- routes, buckets and the log ----
const logFd = cfg.log ? fs.openSync(cfg.log, 'a') : null;
function log(entry) { if (logFd !== null) fs.writeSync(logFd, JSON.stringify(entry) + '\n'); }

// Route template and major parameter, written independently of mimic's C code.
function routeOf(method, path) {
  const segs = path.split('/').slice(1);
  let major = '';
  const out = segs.map((s, i) => {
    const top = segs[0];
    if (i === 1 && /^\d+$/.test(s) && ['channels', 'guilds', 'webhooks', 'interactions'].includes(top)) {
      const name = {channels: 'channel_id', guilds: 'guild_id', webhooks: 'webhook_id', interactions: 'interaction_id'}[top];
      major = `${name}=${s}`;
      return `{${name}}`;
    }
    if (i === 2 && (top === 'webhooks' || top === 'interactions') && /^\d+$/.test(segs[1])) {
      if (top === 'webhooks') major += '/' + crypto.createHash('sha1').update(s).digest('hex').slice(0, 8);
      return '{token}';
    }
    if (i > 0 && segs[i - 1] === 'reactions') return '{emoji}';
    if (/^\d+$/.test(s)) return '{id}';
    return s;
  });
  return {tmpl: `${method} /${out.join('/')}`, major, exempt: segs[0] === 'interactions' && segs[3] === 'callback'};
}

const bucketState = new Map(); // "id|major" -> {remaining, reset_at, blocked_until}
let globalTimes = [];
let globalBlockedUntil = 0;

function bucketFor(route) {
  const b = BUCKETS[route.tmpl] || DEFAULT_BUCKET;
  const id = b.id || crypto.createHash('sha1').update(route.tmpl).digest('hex').slice(0, 16);
  const key = `${id}|${route.major}`;
  let st = bucketState.get(key);
  if (!st) { st = {remaining: b.limit, reset_at: 0, started: false}; bucketState.set(key, st); }
  return {id, key, limit: b.limit, window_ms: b.window_ms, st};
}

function json(res, status, body, headers) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, Object.assign({'Content-Type': 'application/json'}, headers || {}));
  res.end(text);
  return text;
}
function discordError(status, code, message, errors) {
  const b = {message, code};
  if (errors) b.errors = errors;
  return [status, b];
}
function formError(field, code, message) {
  return discordError(400, 50035, 'Invalid Form Body', {[field]: {_errors: [{code, message}]}});
}

// ---- handlers: each returns [status, body] ----
function getChannel(id) { return channels.get(id); }

function listMessages(ch, q) {
  let limit = q.has('limit') ? Number(q.get('limit')) : 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return formError('limit', 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 100.');
  const all = ch.messages; // ascending by id
  let pick;
  if (q.has('before')) {
    const b = q.get('before');
    const older = all.filter((m) => cmpId(m.id, b) < 0);
    pick = older.slice(Math.max(0, older.length - limit));
  } else if (q.has('after')) {
    const a = q.get('after');
    pick = all.filter((m) => cmpId(m.id, a) > 0).slice(0, limit);
  } else if (q.has('around')) {
    const a = q.get('around');
    const i = all.findIndex((m) => cmpId(m.id, a) >= 0);
    const s = Math.max(0, (i < 0 ? all.length : i) - Math.floor(limit / 2));
    pick = all.slice(s, s + limit);
  } else {
    pick = all.slice(Math.max(0, all.length - limit));
  }
  return [200, pick.slice().reverse()]; // newest first, like Discord
}

const seenNonces = new Map();
function createMessage(ch, body, author, extra) {
  if (typeof body !== 'object' || body === null) return formError('_', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
  const content = body.content === undefined ? '' : body.content;
  if (typeof content !== 'string') return formError('content', 'BASE_TYPE_STRING', 'Must be a string.');
  if (content.length > 2000) return formError('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
  const files = body._files || [];
  if (files.length > 10) return formError('files', 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  if (content.trim() === '' && !(body.embeds && body.embeds.length) && !files.length && !(body.components && body.components.length)) return discordError(400, 50006, 'Cannot send an empty message');
  const am = body.allowed_mentions;
  if (am && am.parse && (am.users || am.roles)) {
    const both = (am.parse.includes('users') && am.users) || (am.parse.includes('roles') && am.roles);
    if (both) return formError('allowed_mentions', 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', 'parse and users/roles are mutually exclusive.');
  }
  if (body.nonce !== undefined && body.enforce_nonce) {
    const k = `${ch.id}|${body.nonce}`;
    if (seenNonces.has(k)) return [200, seenNonces.get(k)];
  }
  const ext = Object.assign({}, extra || {});
  if (body.message_reference && body.message_reference.message_id) {
    ext.type = 19;
    ext.message_reference = {message_id: String(body.message_reference.message_id), channel_id: ch.id, guild_id: ch.guild_id};
  }
  if (body.flags) ext.flags = body.flags & (4 | 4096 | 8192 | 32768 | 64);
  if (Array.isArray(body.components)) {
    const bad = body.components.length > 5 || body.components.some((r) => !r || r.type !== 1 || !Array.isArray(r.components) || r.components.length < 1 || r.components.length > 5);
    if (bad) return formError('components', 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', 'Invalid component layout.');
    ext.components = body.components;
  }
  if (files.length) {
    const meta = Array.isArray(body.attachments) ? body.attachments : [];
    ext.attachments = files.map((f, i) => {
      const idx = Number((/^files\[(\d+)\]$/.exec(f.field) || [])[1]);
      const a = meta.find((x) => Number(x.id) === idx) || {};
      const id = nextId();
      return {id, filename: f.filename, size: f.size, content_type: f.content_type, description: a.description,
        url: `https://cdn.discordapp.com/attachments/${ch.id}/${id}/${f.filename}`, proxy_url: `https://media.discordapp.net/attachments/${ch.id}/${id}/${f.filename}`};
    });
  }
  const m = makeMessage(ch, author, content, ext);
  if (body.nonce !== undefined) { m.nonce = body.nonce; seenNonces.set(`${ch.id}|${body.nonce}`, m); }
  return [200, m];
}

function webhookObj(w) { return {id: w.id, type: 1, token: w.token, channel_id: w.channel_id, guild_id: (channels.get(w.channel_id) || {}).guild_id, name: w.name, avatar: w.avatar || null, application_id: w.foreign ? '1' : APP_ID, user: botUser}; }

function validCommand(c) {
  if (!c || typeof c.name !== 'string' || !/^[-_'\p{L}\p{N}]{1,32}$/u.test(c.name) || c.name !== c.name.toLowerCase()) return false;
  const type = c.type || 1;
  if (type === 1 && (typeof c.description !== 'string' || c.description.length < 1 || c.description.length > 100)) return false;
  return true;
}

function handle(method, path, q, body) {
  let m;
  if (method === 'GET' && path === '/gateway/bot')
    return [200, {url: cfg.gateway_url || 'wss://gateway.discord.gg', shards: cfg.shards || 1,
      session_start_limit: {total: 1000, remaining: 999, reset_after: 14400000, max_concurrency: cfg.max_concurrency || 1}}];
  if (method === 'GET' && path === '/users/@me') return [200, botUser];
  if (method === 'GET' && path === '/applications/@me') // app_flags: the privileged-intent bits (default: MESSAGE CONTENT limited on)
    return [200, {id: APP_ID, name: cfg.app_name || 'mimic', description: '', icon: null, bot_public: cfg.bot_public !== false,
      bot_require_code_grant: false, flags: cfg.app_flags === undefined ? (1 << 19) : cfg.app_flags, bot: botUser,
      owner: {id: '100000000000000000', username: 'owner'}, verify_key: '0'.repeat(64)}];
  if (method === 'GET' && path === '/users/@me/guilds') {
    const limit = q.has('limit') ? Number(q.get('limit')) : 200;
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) return formError('limit', 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 200.');
    const after = q.get('after') || '0';
    const gs = [...guilds.values()].filter((g) => cmpId(g.id, after) > 0).sort((a, b) => cmpId(a.id, b.id)).slice(0, limit);
    return [200, gs.map((g) => ({id: g.id, name: g.name, icon: null, owner: false, permissions: '0', features: []}))];
  }
  if (method === 'POST' && path === '/users/@me/channels') {
    const rid = body && String(body.recipient_id || '');
    if (!/^\d+$/.test(rid)) return formError('recipient_id', 'NUMBER_TYPE_COERCE', 'Value is not snowflake.');
    let id = dms.get(rid);
    if (!id) { id = nextId(); dms.set(rid, id); channels.set(id, {id, guild_id: undefined, name: null, type: 1, messages: []}); }
    const u = users.find((x) => x.id === rid) || {id: rid, username: `user-${rid}`, discriminator: '0', avatar: null};
    return [200, {id, type: 1, last_message_id: null, recipients: [u]}];
  }
  if ((m = path.match(/^\/channels\/(\d+)\/messages$/))) {
    const ch = getChannel(m[1]);
    if (!ch) return discordError(404, 10003, 'Unknown Channel');
    if (method === 'GET' && ch.forbidden) return discordError(403, 50001, 'Missing Access');
    if (method === 'GET') return listMessages(ch, q);
    if (method === 'POST') return createMessage(ch, body, botUser);
  }
  if ((m = path.match(/^\/channels\/(\d+)\/typing$/)) && method === 'POST') {
    if (!getChannel(m[1])) return discordError(404, 10003, 'Unknown Channel');
    return [204];
  }
  if ((m = path.match(/^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)(\/@me)?$/))) {
    const ch = getChannel(m[1]);
    if (!ch) return discordError(404, 10003, 'Unknown Channel');
    if (!ch.messages.find((x) => x.id === m[2])) return discordError(404, 10008, 'Unknown Message');
    let emoji;
    try { emoji = decodeURIComponent(m[3]); } catch (e) { return discordError(400, 10014, 'Unknown Emoji'); }
    if (!/^[^:\s]+(:\d+)?$/u.test(emoji)) return discordError(400, 10014, 'Unknown Emoji');
    if (!reactions.has(m[2])) reactions.set(m[2], new Map());
    const r = reactions.get(m[2]);
    if (!r.has(emoji)) r.set(emoji, users.slice(0, 5).map((u) => u.id)); // seeded reactors
    if (method === 'PUT' && m[4]) { if (!r.get(emoji).includes(BOT_ID)) r.get(emoji).push(BOT_ID); return [204]; }
    if (method === 'GET' && !m[4]) {
      const limit = q.has('limit') ? Number(q.get('limit')) : 25;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return formError('limit', 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 100.');
      const after = q.get('after') || '0';
      const ids = r.get(emoji).filter((id) => cmpId(id, after) > 0).sort(cmpId).slice(0, limit);
      return [200, ids.map((id) => users.find((u) => u.id === id) || botUser)];
    }
  }
  if ((m = path.match(/^\/guilds\/(\d+)\/channels$/)) && method === 'GET') {
    const g = guilds.get(m[1]);
    if (!g) return discordError(404, 10004, 'Unknown Guild');
    return [200, g.channels.map((id) => channels.get(id)).filter((c) => c.type !== 10 && c.type !== 11 && c.type !== 12)
      .map((c, i) => ({id: c.id, type: c.type, guild_id: g.id, name: c.name, position: i, parent_id: c.parent_id,
        last_message_id: c.messages.length ? c.messages[c.messages.length - 1].id : null}))];
  }
  const threadObj = (c) => ({id: c.id, type: c.type, guild_id: c.guild_id, parent_id: c.parent_id, name: c.name,
    message_count: c.messages.length, last_message_id: c.messages.length ? c.messages[c.messages.length - 1].id : null,
    thread_metadata: {archived: c.archived, archive_timestamp: new Date(c.archive_ms).toISOString(), auto_archive_duration: 1440, locked: false}});
  if ((m = path.match(/^\/guilds\/(\d+)\/threads\/active$/)) && method === 'GET') {
    const g = guilds.get(m[1]);
    if (!g) return discordError(404, 10004, 'Unknown Guild');
    const th = g.channels.map((id) => channels.get(id)).filter((c) => (c.type === 10 || c.type === 11 || c.type === 12) && !c.archived);
    return [200, {threads: th.map(threadObj), members: []}];
  }
  if ((m = path.match(/^\/channels\/(\d+)\/threads\/archived\/(public|private)$/)) && method === 'GET') {
    const ch = getChannel(m[1]);
    if (!ch) return discordError(404, 10003, 'Unknown Channel');
    const priv = m[2] === 'private';
    if (ch.forbidden || (priv && !cfg.manage_threads)) return discordError(403, 50001, 'Missing Access');
    const limit = q.has('limit') ? Number(q.get('limit')) : 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return formError('limit', 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 100.');
    const before = q.has('before') ? Date.parse(q.get('before')) : Infinity;
    if (Number.isNaN(before)) return formError('before', 'DATE_TYPE_PARSE', 'Could not parse the date.');
    // Newest archived first, like Discord; 'before' is an archive timestamp.
    const th = [...channels.values()].filter((c) => c.parent_id === ch.id && c.archived && c.archive_ms < before &&
      (priv ? c.type === 12 : c.type === 10 || c.type === 11)).sort((a, b) => b.archive_ms - a.archive_ms);
    return [200, {threads: th.slice(0, limit).map(threadObj), members: [], has_more: th.length > limit}];
  }
  if ((m = path.match(/^\/channels\/(\d+)\/webhooks$/))) {
    const ch = getChannel(m[1]);
    if (!ch) return discordError(404, 10003, 'Unknown Channel');
    if (ch.no_webhooks) return discordError(403, 50013, 'Missing Permissions');
    if (method === 'GET') return [200, [...webhooks.values()].filter((w) => w.channel_id === ch.id).map(webhookObj)];
    if (method === 'POST') {
      const name = body && body.name;
      if (typeof name !== 'string' || name.length < 1 || name.length > 80 || /clyde|discord/i.test(name))
        return formError('name', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 80 in length and not contain clyde or discord.');
      if ([...webhooks.values()].filter((w) => w.channel_id === ch.id).length >= 15)
        return discordError(400, 30007, 'Maximum number of webhooks reached (15)');
      let avatar = null;
      if (body.avatar !== undefined && body.avatar !== null) {
        const am = /^data:image\/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/]+={0,2})$/.exec(String(body.avatar));
        if (!am) return formError('avatar', 'IMAGE_INVALID', 'Invalid image data');
        avatar = crypto.createHash('md5').update(Buffer.from(am[2], 'base64')).digest('hex');
      }
      const w = {id: nextId(), token: crypto.randomBytes(24).toString('base64url'), channel_id: ch.id, name, avatar};
      webhooks.set(w.id, w);
      return [200, webhookObj(w)];
    }
  }
  if ((m = path.match(/^\/webhooks\/(\d+)$/)) && (method === 'GET' || method === 'DELETE')) {
    const w = webhooks.get(m[1]);
    if (!w) return discordError(404, 10015, 'Unknown Webhook');
    if (method === 'GET') return [200, webhookObj(w)];
    if ((channels.get(w.channel_id) || {}).no_webhooks) return discordError(403, 50013, 'Missing Permissions');
    webhooks.delete(w.id);
    return [204];
  }
  if ((m = path.match(/^\/webhooks\/(\d+)\/([^/]+)$/))) {
    const [, id, token] = m;
    if (id === APP_ID && method === 'POST') { // interaction follow-up
      const ch = channels.values().next().value || addChannel({id: nextId()}, undefined);
      return createMessage(ch, body, botUser, {webhook_id: APP_ID, interaction_token_seen: true});
    }
    const w = webhooks.get(id);
    if (!w || w.token !== token) return discordError(404, 10015, 'Unknown Webhook');
    if (method === 'DELETE') { webhooks.delete(id); return [204]; }
    if (method === 'POST') {
      let ch = channels.get(w.channel_id);
      if (q.has('thread_id')) {
        ch = channels.get(q.get('thread_id'));
        if (!ch || ch.parent_id !== w.channel_id) return discordError(400, 10003, 'Unknown Channel');
      }
      const author = {id: w.id, username: (body && body.username) || w.name, avatar: null, bot: true, discriminator: '0000'};
      const res = createMessage(ch, body, author, {webhook_id: w.id, avatar_url_seen: body && body.avatar_url});
      if (res[0] !== 200) return res;
      return q.get('wait') === 'true' ? res : [204];
    }
  }
  // Edits of posted messages: the bot user's own through the channel, a webhook's through it.
  const editMessage = (ch, msg, body) => {
    if (typeof body !== 'object' || body === null) return formError('_', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
    if (body.content !== undefined && (typeof body.content !== 'string' || body.content.length > 2000))
      return formError('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
    if (body.components !== undefined) {
      const bad = !Array.isArray(body.components) || body.components.length > 5 || body.components.some((r) => !r || r.type !== 1 || !Array.isArray(r.components) || r.components.length < 1 || r.components.length > 5);
      if (bad) return formError('components', 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', 'Invalid component layout.');
      msg.components = body.components;
    }
    if (body.content !== undefined) msg.content = body.content;
    msg.edited_timestamp = new Date().toISOString();
    return [200, msg];
  };
  if ((m = path.match(/^\/channels\/(\d+)\/messages\/(\d+)$/)) && method === 'PATCH') {
    const ch = getChannel(m[1]);
    if (!ch) return discordError(404, 10003, 'Unknown Channel');
    const msg = ch.messages.find((x) => x.id === m[2]);
    if (!msg) return discordError(404, 10008, 'Unknown Message');
    if (!msg.author || msg.author.id !== BOT_ID) return discordError(403, 50005, 'Cannot edit a message authored by another user');
    return editMessage(ch, msg, body);
  }
  if ((m = path.match(/^\/webhooks\/(\d+)\/([^/]+)\/messages\/(\d+)$/)) && method === 'PATCH') {
    const w = webhooks.get(m[1]);
    if (!w || w.token !== m[2]) return discordError(404, 10015, 'Unknown Webhook');
    const ch = channels.get(q.has('thread_id') ? q.get('thread_id') : w.channel_id);
    const msg = ch && ch.messages.find((x) => x.id === m[3]);
    if (!msg || msg.webhook_id !== w.id) return discordError(404, 10008, 'Unknown Message');
    return editMessage(ch, msg, body);
  }
  if ((m = path.match(/^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/)) && method === 'PATCH') {
    if (m[1] !== APP_ID) return discordError(404, 10015, 'Unknown Webhook');
    return [200, {id: nextId(), content: body && body.content, flags: 0, webhook_id: APP_ID}];
  }
  if ((m = path.match(/^\/interactions\/(\d+)\/([^/]+)\/callback$/)) && method === 'POST') {
    const t = body && body.type;
    if (![1, 4, 5, 6, 7, 8, 9, 10, 12].includes(t)) return formError('type', 'BASE_TYPE_CHOICES', 'Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.');
    if (t === 9) { // a modal: Discord's limits on the form and its text inputs (characters)
      const d = body.data || {};
      const len = (x) => (typeof x === 'string' ? [...x].length : -1);
      const okInput = (c) => c && c.type === 4 && len(c.custom_id) >= 1 && len(c.custom_id) <= 100 && [1, 2].includes(c.style) &&
        len(c.label) >= 1 && len(c.label) <= 45 && (c.min_length === undefined || (c.min_length >= 0 && c.min_length <= 4000)) &&
        (c.max_length === undefined || (c.max_length >= 1 && c.max_length <= 4000)) &&
        (c.value === undefined || len(c.value) <= (c.max_length === undefined ? 4000 : c.max_length)) &&
        (c.placeholder === undefined || len(c.placeholder) <= 100);
      const rows = d.components;
      const ok = len(d.title) >= 1 && len(d.title) <= 45 && len(d.custom_id) >= 1 && len(d.custom_id) <= 100 &&
        Array.isArray(rows) && rows.length >= 1 && rows.length <= 5 &&
        rows.every((r) => r && r.type === 1 && Array.isArray(r.components) && r.components.length === 1 && okInput(r.components[0]));
      if (!ok) return formError('data', 'MODAL_INVALID', 'Invalid modal.');
    }
    return q.get('with_response') === 'true' ? [200, {interaction: {id: m[1], type: 2}}] : [204];
  }
  if ((m = path.match(/^\/applications\/(\d+)(\/guilds\/(\d+))?\/commands$/)) && method === 'PUT') {
    if (m[1] !== APP_ID) return discordError(403, 50001, 'Missing Access');
    if (!Array.isArray(body)) return formError('_', 'BASE_TYPE_ARRAY', 'Must be an array.');
    if (!body.every(validCommand)) return formError('0.name', 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    return [200, body.map((c) => Object.assign({id: nextId(), application_id: APP_ID, type: 1, version: nextId()}, m[3] ? {guild_id: m[3]} : {}, c))];
  }
  return discordError(404, 0, '404: Not Found');
}

// multipart/form-data as Discord takes uploads: "payload_json" plus "files[n]" parts. Returns
// {payload, files: [{field, filename, content_type, size, sha1}]}, or null for other bodies.
function parseMultipart(ctype, buf) {
  const mb = /^multipart\/form-data;.*boundary=("?)([^";]+)\1/i.exec(ctype);
  if (!mb) return null;
  const delim = Buffer.from('--' + mb[2]);
  const out = {payload: null, files: []};
  let pos = buf.indexOf(delim);
  while (pos >= 0) {
    let start = pos + delim.length;
    if (buf.slice(start, start + 2).toString() === '--') break;
    start += 2; // CRLF
    const next = buf.indexOf(delim, start);
    if (next < 0) break;
    const part = buf.slice(start, next - 2);
    const split = part.indexOf('\r\n\r\n');
    const head = part.slice(0, split).toString('utf8');
    const data = part.slice(split + 4);
    const name = (/name="([^"]*)"/.exec(head) || [])[1];
    const filename = (/filename="([^"]*)"/.exec(head) || [])[1];
    const type = (/content-type:\s*([^\r\n]+)/i.exec(head) || [])[1] || null;
    if (name === 'payload_json') out.payload = data.toString('utf8');
    else if (filename !== undefined) out.files.push({field: name, filename, content_type: type, size: data.length, sha1: crypto.createHash('sha1').update(data).digest('hex')});
    pos = next;
  }
  return out;
}

// ---- the server ----
function faultFor(route, path) {
  for (const f of FAULTS) {
    if (f.route !== '*' && f.route !== route.tmpl) continue;
    if (f.path && !path.startsWith(f.path)) continue;
    if (f.fired >= f.count) continue;
    f.seen++;
    if (f.seen <= f.skip) continue;
    f.fired++;
    return f;
  }
  return null;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => { size += c.length; if (size <= 26 << 20) chunks.push(c); });
  req.on('end', () => {
    const t = now();
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/_double/ping') return json(res, 200, {ok: true});
    if (url.pathname === '/_double/dump') {
      if (url.searchParams.has('channel')) {
        const ch = channels.get(url.searchParams.get('channel'));
        return json(res, ch ? 200 : 404, ch ? ch.messages : {message: 'Unknown Channel'});
      }
      const out = {};
      for (const ch of channels.values()) out[ch.id] = ch.messages.map((x) => x.id);
      return json(res, 200, out);
    }
    if (url.pathname === '/_double/webhooks') { // every webhook (tokens included), or one channel's
      const c = url.searchParams.get('channel');
      return json(res, 200, [...webhooks.values()].filter((w) => !c || w.channel_id === c).map(webhookObj));
    }
    if (url.pathname === '/_double/webhook_delete' && req.method === 'POST') { // deleted behind mimic's back
      let b;
      try { b = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) { return json(res, 400, {message: 'bad JSON'}); }
      return json(res, webhooks.delete(String(b.id)) ? 200 : 404, {});
    }
    if (url.pathname === '/_double/add' && req.method === 'POST') {
      let b;
      try { b = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) { return json(res, 400, {message: 'bad JSON'}); }
      const ch = channels.get(String(b.channel_id));
      if (!ch) return json(res, 404, {message: 'Unknown Channel'});
      const ids = [];
      for (let i = 0; i < (b.n || 1); i++) ids.push(makeMessage(ch, users[i % users.length], `new message ${i} in ${ch.name}`).id);
      return json(res, 200, {ids});
    }
    let raw = Buffer.concat(chunks).toString('utf8');
    let files = null;
    const form = parseMultipart(req.headers['content-type'] || '', Buffer.concat(chunks));
    if (form) { raw = form.payload || ''; files = form.files; }
    let body = null, bodyOk = true;
    if (raw.length) { try { body = JSON.parse(raw); } catch (e) { bodyOk = false; } }
    if (files && body && typeof body === 'object') body._files = files;
    const entry = {t, method: req.method, path: req.url, body: bodyOk ? body : raw, files,
      ua_ok: /^DiscordBot \([^,()]+, [^()]+\)/.test(req.headers['user-agent'] || ''),
      content_type: req.headers['content-type'] || null};
    if (!url.pathname.startsWith(BASE + '/')) { entry.status = 404; log(entry); return json(res, 404, {message: '404: Not Found', code: 0}); }
    const path = url.pathname.slice(BASE.length);
    const route = routeOf(req.method, path);
    entry.route = route.tmpl;
    entry.major = route.major;
    entry.auth_ok = !cfg.token || req.headers.authorization === `Bot ${cfg.token}`;

    // Global limit (sliding window of arrivals), interactions exempt.
    if (!route.exempt) {
      globalTimes = globalTimes.filter((x) => x > t - GLOBAL.window_ms);
      entry.global_count = globalTimes.length + 1;
      entry.global_exceeded = globalTimes.length >= GLOBAL.limit || t < globalBlockedUntil;
      globalTimes.push(t);
    }
    // The route's bucket: a window opens at the first request after the last one closed.
    const b = bucketFor(route);
    if (!b.st.started || t >= b.st.reset_at) { b.st.started = true; b.st.remaining = b.limit; b.st.reset_at = t + b.window_ms; }
    entry.bucket = b.key;
    entry.remaining_before = b.st.remaining;
    entry.hit_empty = b.st.remaining <= 0;
    const rlHeaders = () => {
      const after = Math.max(0, b.st.reset_at - now()) / 1000;
      return {'X-RateLimit-Limit': String(b.limit), 'X-RateLimit-Remaining': String(Math.max(0, b.st.remaining)),
        'X-RateLimit-Reset': ((Date.now() / 1000) + after).toFixed(3), 'X-RateLimit-Reset-After': after.toFixed(3),
        'X-RateLimit-Bucket': b.id};
    };
    const send429 = (scope, retryAfter) => {
      const h = Object.assign(scope === 'global' ? {} : rlHeaders(), {'Retry-After': String(Math.ceil(retryAfter)), 'X-RateLimit-Scope': scope});
      if (scope === 'global') h['X-RateLimit-Global'] = 'true';
      entry.status = 429;
      log(entry);
      return json(res, 429, {message: 'You are being rate limited.', retry_after: retryAfter, global: scope === 'global', code: 0}, h);
    };
    if (!entry.auth_ok) { entry.status = 401; log(entry); return json(res, 401, {message: '401: Unauthorized', code: 0}); }
    if (entry.global_exceeded) { entry.fault = 'global'; return send429('global', Math.max(0.001, (globalBlockedUntil - t) / 1000) || 0.1); }
    if (entry.hit_empty) { entry.fault = 'empty'; return send429('user', (b.st.reset_at - t) / 1000); }

    const f = faultFor(route, path);
    if (f) entry.fault = f.kind;
    if (f && f.kind === '429') {
      const ra = f.retry_after === undefined ? 0.25 : f.retry_after;
      if (f.scope === 'global') globalBlockedUntil = t + ra * 1000;
      else { b.st.remaining = 0; b.st.reset_at = Math.max(b.st.reset_at, t + ra * 1000); }
      return send429(f.scope || 'user', ra);
    }
    if (f && f.kind === 'hang') { // accept and never answer (the client must time out)
      entry.status = 0;
      log(entry);
      return;
    }
    if (f && f.kind === '5xx') {
      entry.status = f.status || 502;
      log(entry);
      return json(res, entry.status, f.status === 500 ? {message: '500: Internal Server Error', code: 0} : undefined, rlHeaders());
    }
    b.st.remaining--;
    let [status, out] = handle(req.method, path, url.searchParams, body);
    if (!bodyOk) [status, out] = discordError(400, 50109, 'The request body contains invalid JSON.');
    entry.status = status;
    log(entry);
    const h = rlHeaders();
    if (f && f.kind === 'malformed') {
      res.writeHead(200, Object.assign({'Content-Type': 'application/json'}, h));
      return res.end('{"id": "1", "content": "truncated');
    }
    if (f && f.kind === 'big') {
      res.writeHead(200, Object.assign({'Content-Type': 'application/json'}, h));
      return res.end(JSON.stringify({content: 'x'.repeat(f.bytes || (9 << 20))}));
    }
    if (f && f.kind === 'bad_headers') {
      Object.assign(h, {'X-RateLimit-Remaining': 'lots', 'X-RateLimit-Reset-After': '-1', 'X-RateLimit-Bucket': 'bad bucket id'});
    }
    if (status === 204) { res.writeHead(204, h); return res.end(); }
    return json(res, status, out, h);
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({port: server.address().port}) + '\n');
});
process.on('SIGTERM', () => { if (logFd !== null) fs.closeSync(logFd); process.exit(0); });
