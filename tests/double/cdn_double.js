#!/usr/bin/env node
// A double of Discord's CDN for mimic's vision tests: plain Node `http` on loopback, no npm packages.
// It serves files of one folder as attachments and a few misbehaviours, and logs every request as
// one JSON line ({method, path}) so a test can tell whether mimic fetched something at all.
//
// Usage: node cdn_double.js CONFIG.json     (prints {"port":N} on stdout once listening)
// Config: dir  the folder served; log  path of the JSON-lines request log.
// Routes:
//   GET /attachments/C/A/NAME   the file NAME of dir, typed by its extension (image/png, ...)
//   GET /html/NAME              the same bytes, served as text/html
//   GET /redirect/NAME          302 to https://example.com/NAME (a redirect off the allow-list)
//   GET /big/N                  N bytes (a PNG signature, then zeros), typed image/png
//   GET /stall/NAME             headers and a PNG signature, then nothing more (a stuck transfer)
//   anything else               404
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const cfg = process.argv[2] ? JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) : {};
const DIR = cfg.dir || '.';
const TYPES = {'.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp',
  '.gif': 'image/gif'};

function log(req) {
  if (cfg.log) fs.appendFileSync(cfg.log, JSON.stringify({method: req.method, path: req.url}) + '\n');
}

function file(name) {
  const base = path.basename(decodeURIComponent(name.split('?')[0]));
  try {
    return {bytes: fs.readFileSync(path.join(DIR, base)), type: TYPES[path.extname(base).toLowerCase()] ||
      'application/octet-stream'};
  } catch (e) {
    return null;
  }
}

const server = http.createServer((req, res) => {
  log(req);
  const parts = req.url.split('/').filter((s) => s.length);
  if (req.method !== 'GET' || parts.length < 2) {
    res.writeHead(404, {'Content-Type': 'text/plain'});
    return res.end('not found');
  }
  if (parts[0] === 'attachments' && parts.length === 4) {
    const f = file(parts[3]);
    if (!f) { res.writeHead(404); return res.end(); }
    res.writeHead(200, {'Content-Type': f.type, 'Content-Length': f.bytes.length});
    return res.end(f.bytes);
  }
  if (parts[0] === 'html') {
    const f = file(parts[1]);
    if (!f) { res.writeHead(404); return res.end(); }
    res.writeHead(200, {'Content-Type': 'text/html; charset=utf-8'});
    return res.end(f.bytes);
  }
  if (parts[0] === 'redirect') {
    res.writeHead(302, {'Location': 'https://example.com/' + parts[1]});
    return res.end();
  }
  if (parts[0] === 'big') {
    const n = Math.min(parseInt(parts[1], 10) || 0, 1 << 28);
    const b = Buffer.alloc(n);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
    res.writeHead(200, {'Content-Type': 'image/png'});
    return res.end(b);
  }
  if (parts[0] === 'stall') {
    res.writeHead(200, {'Content-Type': 'image/png', 'Content-Length': 1 << 20});
    res.write(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    return; /* never ended: the client must give up or be cancelled */
  }
  res.writeHead(404);
  res.end();
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({port: server.address().port}) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
