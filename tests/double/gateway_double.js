#!/usr/bin/env node
// A scripted Discord gateway double for mimic's tests, on Debian's `ws` package (an independent
// WebSocket implementation, so mimic's framing is checked by code we did not write).
//
// usage: node gateway_double.js SCENARIO.json LOG.jsonl [--tls KEY.pem CERT.pem]
// Listens on 127.0.0.1:0 and prints {"port": N} on stdout. Connection i (0-based) runs the steps
// of scenario.connections[min(i, last)]. Every payload received and every notable thing done is
// appended to LOG.jsonl as one JSON object per line, with `ms` since start and `conn`.
//
// Steps (one key each, plus options):
//   {"hello": 200}                         op 10 with heartbeat_interval 200
//   {"expect": "identify"|"resume"|"heartbeat"|"presence", "timeout": 5000}
//                                          wait for that op from the client (counted per connection)
//   {"ready": {"session_id": "s1", "resume_path": "/resume"}}
//                                          READY; the resume URL points back at this double
//   {"dispatch": "MESSAGE_CREATE", "d": {...}, "count": 3, "lost": false}
//                                          dispatches with the session's next seq numbers; "{i}" in
//                                          string values becomes the seq; lost: recorded, not sent
//   {"resumed": true}                      replays what the client missed (seq > its resume seq),
//                                          then RESUMED
//   {"pack": 3, "dispatch": ...}           the count dispatches go out in ONE WebSocket message
//   {"split": 3, "dispatch": ...}          each payload's bytes go out as 3 WebSocket messages
//   {"fragment": 3, "dispatch": ...}       each payload goes out as one message in 3 fragments
//   {"drop": true}                         TCP drop, no close frame
//   {"reconnect": true}                    op 7
//   {"invalid_session": false}             op 9 with d
//   {"heartbeat_request": true}            op 1 from the server
//   {"close": 4004, "reason": "..."}       close frame with that code
//   {"stop_acking": true}                  stop answering heartbeats on this connection
//   {"raw": "text"}                        that text as one text frame (malformed JSON)
//   {"raw_hex": "7b ff", "binary": false}  those bytes as one frame (invalid UTF-8)
//   {"raw_compressed_hex": "7b ff"}        those bytes through the connection's deflate context
//   {"oversized": 100000}                  a text frame of that many bytes
//   {"wait": 100}                          pause
//   {"wait_heartbeats": 3}                 until that many heartbeats arrived on this connection
//   {"wait_close": true, "timeout": 5000}  until the client closes
// zlib-stream: when the client asks for compress=zlib-stream, every payload goes through one
// deflate context per connection with Z_SYNC_FLUSH per payload, as Discord does.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const zlib = require('zlib');
const { WebSocketServer } = require('ws');

const [scenarioPath, logPath] = process.argv.slice(2);
if (!scenarioPath || !logPath) {
  process.stderr.write('usage: gateway_double.js SCENARIO.json LOG.jsonl [--tls KEY CERT]\n');
  process.exit(2);
}
const tlsIdx = process.argv.indexOf('--tls');
const scenario = JSON.parse(fs.readFileSync(scenarioPath, 'utf8'));
const t0 = Date.now();
fs.writeFileSync(logPath, '');
function log(obj) {
  fs.appendFileSync(logPath, JSON.stringify(Object.assign({ ms: Date.now() - t0 }, obj)) + '\n');
}

const sessions = new Map(); // session_id -> { seq, events: [{ s, payload }] }
let connCount = 0;
let port = 0;
const server = tlsIdx > 0
  ? https.createServer({ key: fs.readFileSync(process.argv[tlsIdx + 1]), cert: fs.readFileSync(process.argv[tlsIdx + 2]) })
  : http.createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const OPS = { heartbeat: 1, identify: 2, presence: 3, resume: 6 };

function fill(v, seq) {
  if (typeof v === 'string') return v.split('{i}').join(String(seq));
  if (Array.isArray(v)) return v.map((x) => fill(x, seq));
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = fill(v[k], seq);
    return o;
  }
  return v;
}

wss.on('connection', (ws, req) => {
  const id = connCount++;
  const list = scenario.connections || [[]];
  const steps = list[Math.min(id, list.length - 1)];
  const compress = /[?&]compress=zlib-stream/.test(req.url);
  const conn = {
    id, ws, compress, acking: true, closed: false, session: null, resumeSeq: null,
    got: { 1: 0, 2: 0, 3: 0, 6: 0 }, used: { 1: 0, 2: 0, 3: 0, 6: 0 }, waiters: [],
    deflate: compress ? zlib.createDeflate() : null,
  };
  log({ conn: id, ev: 'connect', path: req.url });

  function wake() {
    const w = conn.waiters;
    conn.waiters = [];
    for (const f of w) f();
  }
  function waitFor(pred, timeout) {
    return new Promise((resolve) => {
      const deadline = Date.now() + (timeout || 5000);
      const check = () => {
        if (pred()) return resolve(true);
        if (conn.closed || Date.now() >= deadline) return resolve(false);
        conn.waiters.push(check);
        setTimeout(() => { const i = conn.waiters.indexOf(check); if (i >= 0) { conn.waiters.splice(i, 1); check(); } }, Math.max(1, deadline - Date.now()));
      };
      check();
    });
  }
  // Sends go through one promise chain so they leave in order even though deflate is async.
  conn.chain = Promise.resolve();
  conn.chunks = [];
  if (conn.deflate) conn.deflate.on('data', (c) => conn.chunks.push(c));
  function enqueue(fn) {
    conn.chain = conn.chain.then(fn).catch((e) => log({ conn: id, ev: 'send_error', message: String(e && e.stack || e) }));
    return conn.chain;
  }
  function encode(text) {
    const raw = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
    if (!conn.compress) return Promise.resolve(raw);
    // One deflate context per connection, Z_SYNC_FLUSH per payload: the output ends in 00 00 ff ff.
    return new Promise((resolve) => {
      conn.deflate.write(raw);
      conn.deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => setImmediate(() => {
        const out = Buffer.concat(conn.chunks);
        conn.chunks = [];
        resolve(out);
      }));
    });
  }
  function sendBytes(buf, opts) {
    if (conn.closed) return;
    opts = opts || {};
    const binary = conn.compress;
    if (opts.split > 1) {
      const n = opts.split, size = Math.ceil(buf.length / n);
      for (let i = 0; i < buf.length; i += size) ws.send(buf.subarray(i, i + size), { binary: true });
    } else if (opts.fragment > 1) {
      const n = opts.fragment, size = Math.ceil(buf.length / n);
      for (let i = 0; i < n; i++)
        ws.send(buf.subarray(i * size, Math.min(buf.length, (i + 1) * size)), { binary, fin: i === n - 1 });
    } else {
      ws.send(buf, { binary });
    }
  }
  function sendPayload(p, opts) {
    return enqueue(async () => {
      const b = await encode(JSON.stringify(p));
      sendBytes(b, opts);
      log({ conn: id, ev: 'sent', op: p.op, s: p.s, t: p.t });
    });
  }
  function nextDispatch(t, d) {
    const sess = conn.session;
    const s = ++sess.seq;
    const payload = { op: 0, s, t, d: fill(d || {}, s) };
    sess.events.push({ s, payload });
    return payload;
  }

  ws.on('message', (data, isBinary) => {
    let p;
    try { p = JSON.parse(data.toString('utf8')); } catch (e) {
      log({ conn: id, ev: 'bad_json', binary: isBinary, len: data.length });
      return;
    }
    log({ conn: id, ev: 'recv', op: p.op, d: p.d, len: data.length });
    if (p.op === 1 && conn.acking) sendPayload({ op: 11 });
    if (p.op === 6) { conn.resumeSeq = p.d && p.d.seq; conn.lastResume = p.d; }
    if (conn.got[p.op] !== undefined) conn.got[p.op]++;
    wake();
  });
  ws.on('close', (code, reason) => {
    conn.closed = true;
    log({ conn: id, ev: 'close', code, reason: reason.toString() });
    wake();
  });
  ws.on('error', (e) => log({ conn: id, ev: 'error', message: String(e.message || e) }));

  (async () => {
    for (const st of steps) {
      if (conn.closed) break;
      if (st.hello !== undefined) {
        await sendPayload({ op: 10, d: { heartbeat_interval: st.hello } });
      } else if (st.expect) {
        const op = OPS[st.expect];
        const ok = await waitFor(() => conn.got[op] > conn.used[op], st.timeout);
        if (!ok) { log({ conn: id, ev: 'expect_timeout', expect: st.expect }); break; }
        conn.used[op]++;
      } else if (st.ready) {
        const sid = st.ready.session_id || 's' + id;
        conn.session = { seq: 0, events: [] };
        sessions.set(sid, conn.session);
        const rp = st.ready.resume_path || '/';
        const d = { v: 10, session_id: sid, resume_gateway_url: 'ws://127.0.0.1:' + port + rp,
          user: { id: '1000', username: 'mimic', bot: true }, guilds: [{ id: '300', unavailable: true }],
          application: { id: '1000' } };
        await sendPayload(nextDispatch('READY', d));
      } else if (st.resumed) {
        // Find the session the client named in its resume.
        const last = conn.lastResume;
        const sid = last && last.session_id;
        const sess = sid && sessions.get(sid);
        if (!sess) { await sendPayload({ op: 9, d: false }); continue; }
        conn.session = sess;
        const from = conn.resumeSeq || 0;
        for (const e of sess.events) if (e.s > from) await sendPayload(e.payload);
        await sendPayload(nextDispatch('RESUMED', {}));
      } else if (st.dispatch) {
        const n = st.count || 1;
        if (st.pack > 1 || st.pack === true) {
          const ps = [];
          for (let i = 0; i < n; i++) ps.push(nextDispatch(st.dispatch, st.d));
          await enqueue(async () => {
            const bufs = [];
            for (const p of ps) bufs.push(await encode(JSON.stringify(p)));
            sendBytes(Buffer.concat(bufs), {});
            for (const p of ps) log({ conn: id, ev: 'sent', op: 0, s: p.s, t: p.t, packed: true });
          });
        } else {
          for (let i = 0; i < n; i++) {
            const p = nextDispatch(st.dispatch, st.d);
            if (st.lost) { log({ conn: id, ev: 'lost', s: p.s, t: p.t }); continue; }
            await sendPayload(p, { split: st.split, fragment: st.fragment });
          }
        }
      } else if (st.drop) {
        await conn.chain;
        log({ conn: id, ev: 'drop' });
        ws.terminate();
        conn.closed = true;
      } else if (st.reconnect) {
        await sendPayload({ op: 7, d: null });
      } else if (st.invalid_session !== undefined) {
        await sendPayload({ op: 9, d: !!st.invalid_session });
      } else if (st.heartbeat_request) {
        await sendPayload({ op: 1, d: null });
      } else if (st.close) {
        await conn.chain;
        log({ conn: id, ev: 'server_close', code: st.close });
        ws.close(st.close, st.reason || '');
      } else if (st.stop_acking) {
        conn.acking = false;
        log({ conn: id, ev: 'stop_acking' });
      } else if (st.raw !== undefined) {
        await conn.chain;
        ws.send(Buffer.from(st.raw, 'utf8'), { binary: false });
        log({ conn: id, ev: 'sent_raw', len: st.raw.length });
      } else if (st.raw_hex !== undefined) {
        await conn.chain;
        ws.send(Buffer.from(st.raw_hex.replace(/\s+/g, ''), 'hex'), { binary: !!st.binary });
        log({ conn: id, ev: 'sent_raw' });
      } else if (st.raw_compressed_hex !== undefined) {
        // Arbitrary bytes through this connection's deflate context (e.g. invalid UTF-8 in JSON).
        await enqueue(async () => {
          sendBytes(await encode(Buffer.from(st.raw_compressed_hex.replace(/\s+/g, ''), 'hex')), {});
          log({ conn: id, ev: 'sent_raw' });
        });
      } else if (st.oversized) {
        await conn.chain;
        const body = '{"op":0,"s":null,"t":"X","d":"' + 'x'.repeat(Math.max(0, st.oversized - 32)) + '"}';
        ws.send(Buffer.from(body, 'utf8'), { binary: false });
        log({ conn: id, ev: 'sent_oversized', len: body.length });
      } else if (st.wait) {
        await sleep(st.wait);
      } else if (st.wait_heartbeats) {
        await waitFor(() => conn.got[1] >= st.wait_heartbeats, st.timeout || 10000);
      } else if (st.wait_close) {
        await waitFor(() => conn.closed, st.timeout || 10000);
      }
    }
    log({ conn: id, ev: 'script_done' });
  })().catch((e) => log({ conn: id, ev: 'script_error', message: String(e && e.stack || e) }));

});

server.listen(0, '127.0.0.1', () => {
  port = server.address().port;
  process.stdout.write(JSON.stringify({ port }) + '\n');
});
process.on('SIGTERM', () => { log({ ev: 'exit' }); process.exit(0); });
