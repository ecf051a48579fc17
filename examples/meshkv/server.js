'use strict';
// meshkv: a small replicated key-value store, the example service a team brings to meshcheck
// (docs/tutorial-own-service.md). Node.js 20, standard library only.
//
// Design (safe before fast):
// - The first node of --peers is the primary, for good: no elections.
// - Every node serves the `jsonl` client protocol on its client port: one JSON object per line,
//   {"id", "f": "read"|"write"|"cas", "key", "value"} in, {"id", "type": "ok"|"fail"|"info", ...}
//   out. A follower forwards every request to the primary and relays the answer.
// - The primary appends each write and each cas that applies to its log file, one JSON line per
//   record with a checksum chained over the records before it; it fsyncs the file (and the
//   directory when it creates the file), sends the records to the followers, which append, fsync
//   and acknowledge; once a majority (itself included) holds a record durably it is committed:
//   applied to the map and the client answered. Reads are answered by the primary from the map,
//   which it checkpoints to a file of its own (with a checksum) after each commit.
// - On start the primary recovers the longest valid log among a majority (itself and the
//   followers it reaches; it waits a few seconds more for the rest), so a node whose tail was
//   torn, truncated or flipped (the checksum finds where) does not lose acknowledged writes.
//   Followers check their own log the same way and catch up from the primary.
// - Every node writes an NDJSON log of its steps, named as in MeshKV.tla, for
//   `meshcheck validate --spec examples/meshkv/MeshKV.tla LOGS` (the model: MeshKV.cfg).
//
// Planted bugs, one at a time (MESHKV_BUG=name or --bug name), for meshcheck to find:
//   no-fsync        records are acknowledged before they are fsynced (a flush follows, a second later)
//   lww-clock       a write's version is the wall clock of the node the client reached, the
//                   highest version wins
//   follower-reads  followers answer reads from their own copy
//   no-checksum     records and the checkpoint are read back without checking their checksums

const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const BUGS = ['no-fsync', 'lww-clock', 'follower-reads', 'no-checksum'];
const MAX_BATCH = 32; // records per append and per replication message (MeshKV.cfg's MaxBatch)
const RECOVERY_GRACE_MS = 5000; // how long the primary waits past a majority for the other logs
const RETRY_MS = 200; // reconnect interval

// ---------------------------------------------------------------- configuration

function parseArgs(argv) {
  const opts = { bug: process.env.MESHKV_BUG || '' };
  for (let k = 0; k < argv.length; k += 2) {
    const name = argv[k].replace(/^--/, '');
    if (argv[k + 1] === undefined) fail(`--${name} needs a value`);
    opts[name] = argv[k + 1];
  }
  for (const need of ['id', 'peers', 'data']) if (!opts[need]) fail(`--${need} is required`);
  if (opts.bug && !BUGS.includes(opts.bug)) fail(`--bug ${opts.bug}: not one of ${BUGS.join(', ')}`);
  // --peers "n1=host:clientport:peerport,n2=...": every node, the primary first
  opts.nodes = opts.peers.split(',').map((entry) => {
    const [name, addr] = entry.split('=');
    const [host, client, peer] = (addr || '').split(':');
    if (!name || !host || !(Number(client) > 0) || !(Number(peer) > 0)) {
      fail(`--peers: ${entry} is not NAME=HOST:CLIENTPORT:PEERPORT`);
    }
    return { name, host, client: Number(client), peer: Number(peer) };
  });
  opts.me = opts.nodes.find((n) => n.name === opts.id);
  if (!opts.me) fail(`--id ${opts.id} is not in --peers`);
  opts.steps = opts.steps || path.join(opts.data, 'steps.ndjson');
  opts.run = opts.run || 'meshkv';
  return opts;
}

function fail(message) {
  process.stderr.write(`meshkv: ${message}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
fs.mkdirSync(opts.data, { recursive: true });
fs.mkdirSync(path.dirname(opts.steps), { recursive: true });
const BUG = opts.bug;
const PRIMARY = opts.nodes[0];
const IS_PRIMARY = opts.me === PRIMARY;
const MAJORITY = Math.floor(opts.nodes.length / 2) + 1;
const LOG_FILE = path.join(opts.data, 'log.ndjson');
const STATE_FILE = path.join(opts.data, 'state.json'); // the primary's checkpoint of the map

// ---------------------------------------------------------------- the step log (MeshKV.tla)

// A Lamport clock: each step ticks it, each message carries it, a receive takes the larger. It
// survives restarts through the step log's last line, so it only grows on each node.
let clock = lastClock(opts.steps);
const stepsFd = fs.openSync(opts.steps, 'a');

function lastClock(file) {
  try {
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    for (let k = lines.length - 1; k >= 0; k--) {
      try { return JSON.parse(lines[k]).clock; } catch { /* a torn last line */ }
    }
  } catch { /* no log yet */ }
  return 0;
}

function seen(their) { if (Number.isInteger(their) && their > clock) clock = their; }

// One step: the action, its parameters and this node's variables after it.
// A step that changes the disk is logged before it is done (a crash between the two leaves a
// log that says more than the disk holds, which a restart's step explains, never the reverse); a
// sync after it is done.
function step(action, params, state) {
  clock += 1;
  const record = { run: opts.run, node: opts.id, clock, action, params: { i: opts.id, ...params }, state };
  fs.writeSync(stepsFd, JSON.stringify(record) + '\n');
}

// ---------------------------------------------------------------- the log file

// A record is {"i": index (1-based), "f": "write", "key", "value", "ver", "h"}: ver orders the
// writes of a key, the record's index as 16 digits (compared as strings), or with lww-clock the
// primary's wall clock; h is the first 16
// hex digits of sha256(previous record's h + the record's content), so it checks the record and
// the order of every record before it (two logs with the same h at index n agree up to n).
function content(r) { return JSON.stringify([r.i, r.f, r.key, r.value, r.ver]); }
function chain(prev, r) { return crypto.createHash('sha256').update(prev + content(r)).digest('hex').slice(0, 16); }
function lastHash(log) { return log.length ? log[log.length - 1].h : ''; }

// The longest valid prefix of the file's records (the first bad one ends it: a torn write, a
// truncation inside a line, a flipped bit).
function readLog() {
  let text = '';
  try { text = fs.readFileSync(LOG_FILE, 'utf8'); } catch { return []; }
  const log = [];
  let good = 0; // bytes of whole, valid records
  for (const line of text.split('\n')) {
    let r;
    try { r = JSON.parse(line); } catch { if (BUG === 'no-checksum') continue; break; }
    if (BUG !== 'no-checksum' && (r.i !== log.length + 1 || r.h !== chain(lastHash(log), r))) break;
    log.push(r);
    good += Buffer.byteLength(line) + 1;
  }
  // cut the damaged tail off, so that the next record is not appended to half a line
  if (BUG !== 'no-checksum' && good < Buffer.byteLength(text)) {
    fs.truncateSync(LOG_FILE, good);
    const fd = fs.openSync(LOG_FILE, 'r+');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
  return log;
}

// A record's own checks, for records from the network or another node's log.
function validLog(recs, from = 0, prev = '') {
  if (BUG === 'no-checksum') return Array.isArray(recs);
  for (let k = 0; k < recs.length; k++) {
    const r = recs[k];
    if (!r || r.i !== from + k + 1 || r.h !== chain(prev, r)) return false;
    prev = r.h;
  }
  return true;
}

let logFd = -1;

function fsyncDir(dir) {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

function openLog() {
  const created = !fs.existsSync(LOG_FILE);
  logFd = fs.openSync(LOG_FILE, 'a');
  if (created) fsyncDir(opts.data); // the new file's name must survive a power failure too
}

const FLUSH_MS = 1000; // once a second, as Redis's `appendfsync everysec`
let flushTimer = null;

function durable(fd) {
  if (BUG !== 'no-fsync') return fs.fsyncSync(fd);
  // The bug: the caller goes on (and acknowledges) at once; a flush makes the records durable a
  // little later, as a database's "fsync every so often" setting does. A kill -9 loses nothing
  // (the kernel has the writes); a power failure loses what the flush had not reached.
  if (!flushTimer) flushTimer = setTimeout(() => { flushTimer = null; try { fs.fsyncSync(logFd); } catch { /* closed */ } }, FLUSH_MS);
}

function appendRecords(recs) {
  if (recs.length) fs.writeSync(logFd, recs.map((r) => JSON.stringify(r) + '\n').join(''));
  durable(logFd);
}

// Replace the whole file (a follower whose log diverged, a primary that adopted a longer log):
// written aside, fsynced, renamed over, directory fsynced, so a crash leaves one or the other.
function replaceLog(recs) {
  if (logFd >= 0) fs.closeSync(logFd);
  fs.rmSync(STATE_FILE, { force: true }); // the checkpoint was of the old log
  const tmp = LOG_FILE + '.new';
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, recs.map((r) => JSON.stringify(r) + '\n').join(''));
  durable(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, LOG_FILE);
  fsyncDir(opts.data);
  logFd = fs.openSync(LOG_FILE, 'a');
}

// ---------------------------------------------------------------- state

let log = readLog(); // this node's records (durable, as far as it knows)
let commit = 0; // records known committed (a majority holds them durably)
const kv = new Map(); // key -> {value, ver}: the records up to commit, applied
let applied = 0;

function applyUpTo(n) {
  for (; applied < n && applied < log.length; applied++) {
    const r = log[applied];
    const cur = kv.get(r.key);
    // last writer wins by version: the log's order normally (ver = index), the clock's with lww-clock
    if (!cur || newer(r.ver, cur.ver)) kv.set(r.key, { value: r.value, ver: r.ver });
  }
}

// A version: the record's index, or with lww-clock the primary's wall clock in ms then the index,
// each as 16 digits (so that versions compare as strings).
function version(i, stamp) { return (BUG === 'lww-clock' ? pad(stamp || Date.now()) : '') + pad(i); }
function pad(n) { return String(n).padStart(16, '0'); }
function newer(a, b) { return String(a) > String(b); }

function resetState() { kv.clear(); applied = 0; commit = 0; }

// The primary's checkpoint: the map as applied up to a record, so that a restart need not replay
// the whole log. One line per entry, each a JSON array: [applied] first, then [key, value, ver]
// for each key, then a last line with the checksum of every line before it; written aside and
// renamed over (not fsynced: the log is what is durable; a checkpoint lost or stale is rebuilt or
// caught up from the log; it is removed when the log file is replaced). One that fails its
// checksum, or is of more records than the log holds, is not used.
function digest(text) { return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16); }

function saveCheckpoint() {
  const entries = [[applied], ...[...kv].map(([k, e]) => [k, e.value, e.ver])];
  const body = entries.map((e) => JSON.stringify(e) + '\n').join('');
  fs.writeFileSync(STATE_FILE + '.new', `${body}${digest(body)}\n`);
  fs.renameSync(STATE_FILE + '.new', STATE_FILE);
}

function loadCheckpoint() {
  let text = '';
  try { text = fs.readFileSync(STATE_FILE, 'utf8'); } catch { return; }
  const lines = text.split('\n');
  const sum = lines.length >= 2 ? lines[lines.length - 2] : '';
  const body = lines.slice(0, -2).map((l) => l + '\n').join('');
  if (BUG !== 'no-checksum' && sum !== digest(body)) return;
  // each line on its own: with no-checksum, what parses is taken (a damaged line is skipped)
  const entries = [];
  for (const line of BUG === 'no-checksum' ? lines : lines.slice(0, -2)) {
    try { entries.push(JSON.parse(line)); } catch { /* a damaged line, read without its checksum */ }
  }
  const head = entries.shift();
  const at = Array.isArray(head) && head.length === 1 ? head[0] : null;
  if (!Number.isInteger(at) || at > log.length) return;
  for (const e of entries) if (Array.isArray(e) && e.length === 3 && typeof e[0] === 'string') kv.set(e[0], { value: e[1], ver: e[2] });
  applied = at;
}

// ---------------------------------------------------------------- wire helpers

// Calls onLine(object) for each JSON line of the socket; a line that is no JSON is answered by
// onBad(line) (clients) or ends the connection (peers).
function lines(sock, onLine, onBad) {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let obj;
      try { obj = JSON.parse(line); } catch { if (onBad) onBad(line); else sock.destroy(); continue; }
      onLine(obj);
    }
  });
}

function send(sock, obj) { if (sock && !sock.destroyed) sock.write(JSON.stringify({ ...obj, clock }) + '\n'); }

// Every answer names the node that served it and the primary (the jsonl client's `served` and
// `leader`): this node, unless `rest` says otherwise (a follower relays the primary's, and names
// none where nobody knows who did it).
function answer(sock, id, type, rest) {
  if (!sock.destroyed) sock.write(JSON.stringify({ id, type, served: opts.me.name, leader: PRIMARY.name, ...rest }) + '\n');
}

// ---------------------------------------------------------------- the primary

const followers = new Map(); // name -> {sock, match, sent, fetched}
let ready = false; // recovered and caught up: serving
let pending = []; // client requests waiting for a batch: {sock, req}
let inflight = null; // the batch being replicated: {end, replies}

function startPrimary() {
  openLog();
  const own = log;
  for (const f of opts.nodes.slice(1)) dialFollower(f);
  // Recovery: the longest valid log among a majority; past a majority, wait a while for the rest.
  const started = performance.now(); // the monotonic clock: a clock fault does not shorten the wait
  const timer = setInterval(() => {
    const fetched = [...followers.values()].filter((f) => f.fetched);
    const heard = 1 + fetched.length;
    const all = heard === opts.nodes.length;
    if (heard < MAJORITY || (!all && performance.now() - started < RECOVERY_GRACE_MS)) return;
    clearInterval(timer);
    let best = own;
    for (const f of fetched) if (f.fetched.length > best.length) best = f.fetched;
    if (best !== own) replaceLog(best);
    log = best;
    resetState();
    loadCheckpoint();
    step('Recover', {}, { len: log.length, commit });
    step('Sync', {}, { durable: log.length });
    recovering = false;
    for (const f of followers.values()) f.fetched = null;
    for (const name of followers.keys()) resync(name);
    advanceCommit();
  }, 50);
}

let recovering = true;

function dialFollower(node) {
  const sock = net.connect(node.peer, node.host);
  const f = { sock, match: 0, sent: 0, fetched: null };
  sock.on('connect', () => { followers.set(node.name, f); });
  sock.on('error', () => {});
  sock.on('close', () => {
    if (followers.get(node.name) === f) followers.delete(node.name);
    setTimeout(() => dialFollower(node), RETRY_MS);
  });
  lines(sock, (m) => {
    seen(m.clock);
    if (m.t === 'hello') {
      // the follower's length and last hash: during recovery, ask for its whole log; later,
      // send what it lacks, or the whole log when its records are not a prefix of ours
      f.hello = m;
      if (recovering) send(sock, { t: 'fetch' }); else resync(node.name);
    } else if (m.t === 'log' && recovering) {
      f.fetched = validLog(m.recs) ? m.recs : m.recs.slice(0, 0);
    } else if (m.t === 'ack') {
      f.match = m.len;
      advanceCommit();
      push(node.name);
    }
  });
}

function resync(name) {
  const f = followers.get(name);
  if (!f || !f.hello) return;
  const { len, h } = f.hello;
  f.hello = null;
  f.synced = true;
  if (len <= log.length && (len === 0 || log[len - 1].h === h)) {
    f.match = len;
    f.sent = len;
  } else {
    // its records are not a prefix of ours (a suffix no majority had, from before a recovery)
    send(f.sock, { t: 'reset', recs: log });
    f.match = 0;
    f.sent = log.length;
  }
  push(name);
  advanceCommit();
}

// Send a follower the records it has not been sent, MAX_BATCH at a time.
function push(name) {
  const f = followers.get(name);
  if (!f || !f.synced || recovering) return;
  while (f.sent < log.length && f.sent - f.match < 4 * MAX_BATCH) {
    const recs = log.slice(f.sent, f.sent + MAX_BATCH);
    send(f.sock, { t: 'append', from: f.sent, recs, commit });
    f.sent += recs.length;
  }
  if (f.sent === log.length) send(f.sock, { t: 'commit', commit });
}

// The largest length a majority (the primary included) holds durably.
function advanceCommit() {
  if (recovering) return;
  const lengths = [log.length, ...[...followers.values()].map((f) => f.match)];
  while (lengths.length < opts.nodes.length) lengths.push(0);
  lengths.sort((a, b) => b - a);
  const n = lengths[MAJORITY - 1];
  if (n > commit) {
    commit = n;
    applyUpTo(commit);
    saveCheckpoint();
    step('Commit', {}, { commit });
    for (const f of followers.values()) if (f.synced && f.sent === log.length) send(f.sock, { t: 'commit', commit });
  }
  if (!ready && commit >= log.length) ready = true;
  if (inflight && commit >= inflight.end) {
    for (const [sock, id, type, rest] of inflight.replies) answer(sock, id, type, rest);
    inflight = null;
  }
  nextBatch();
}

// One batch at a time: the pending writes and cas's in order, evaluated against the committed
// map and the batch's own earlier records, appended and fsynced once, replicated, answered when
// committed (a cas that does not apply is answered fail then too: its reading of the batch's
// earlier writes is only true if they commit).
function nextBatch() {
  if (!ready || inflight || pending.length === 0) return;
  const batch = pending.splice(0, MAX_BATCH);
  const view = new Map();
  const value = (key) => (view.has(key) ? view.get(key) : kv.has(key) ? kv.get(key).value : null);
  const recs = [];
  const replies = [];
  for (const { sock, req } of batch) {
    let newValue = req.value;
    if (req.f === 'cas') {
      const [old, next] = req.value;
      if (!sameValue(value(req.key), old)) { replies.push([sock, req.id, 'fail', { error: 'cas: value differs' }]); continue; }
      newValue = next;
    }
    const i = log.length + recs.length + 1;
    const r = { i, f: req.f, key: req.key, value: newValue, ver: version(i, req.stamp) };
    r.h = chain(recs.length ? recs[recs.length - 1].h : lastHash(log), r);
    recs.push(r);
    view.set(req.key, newValue);
    replies.push([sock, req.id, 'ok', {}]);
  }
  if (recs.length === 0) {
    for (const [sock, id, type, rest] of replies) answer(sock, id, type, rest);
    nextBatch();
    return;
  }
  step('Append', { k: recs.length }, { len: log.length + recs.length });
  appendRecords(recs);
  log = log.concat(recs);
  step('Sync', {}, { durable: log.length });
  inflight = { end: log.length, replies };
  for (const name of followers.keys()) push(name);
  advanceCommit(); // a one-node cluster commits at once
}

function sameValue(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

function primaryRequest(sock, req) {
  if (req.f === 'read') {
    if (!ready) return answer(sock, req.id, 'fail', { error: 'recovering' });
    const cur = kv.get(req.key);
    step('Read', {}, { commit });
    return answer(sock, req.id, 'ok', { value: cur ? cur.value : null });
  }
  if (!ready) return answer(sock, req.id, 'fail', { error: 'recovering' });
  pending.push({ sock, req });
  nextBatch();
}

// ---------------------------------------------------------------- a follower

let primarySock = null; // the primary's replication connection

function startFollower() {
  openLog();
  step('Restart', {}, { len: log.length });
  const server = net.createServer((sock) => {
    if (primarySock) primarySock.destroy(); // a newer connection from the primary replaces the old
    primarySock = sock;
    sock.on('error', () => {});
    send(sock, { t: 'hello', len: log.length, h: lastHash(log) });
    lines(sock, (m) => followerMessage(sock, m));
  });
  server.listen(opts.me.peer, opts.me.host);
}

function followerMessage(sock, m) {
  seen(m.clock);
  if (m.t === 'fetch') {
    send(sock, { t: 'log', recs: log });
  } else if (m.t === 'reset') {
    if (!validLog(m.recs)) return sock.destroy();
    step('Reset', {}, { len: m.recs.length });
    replaceLog(m.recs);
    log = m.recs;
    resetState();
    step('Sync', {}, { durable: log.length });
    send(sock, { t: 'ack', len: log.length });
  } else if (m.t === 'append') {
    if (m.from !== log.length || !validLog(m.recs, m.from, lastHash(log))) {
      // not the next records of ours: say where we are, the primary starts again from there
      send(sock, { t: 'hello', len: log.length, h: lastHash(log) });
      return;
    }
    step('Replicate', { k: m.recs.length }, { len: log.length + m.recs.length });
    appendRecords(m.recs);
    log = log.concat(m.recs);
    step('Sync', {}, { durable: log.length });
    send(sock, { t: 'ack', len: log.length });
    learnCommit(m.commit);
  } else if (m.t === 'commit') {
    learnCommit(m.commit);
  }
}

function learnCommit(c) {
  if (Number.isInteger(c) && c > commit) { commit = Math.min(c, log.length); applyUpTo(commit); }
}

// A client's requests on a follower: forwarded to the primary on a connection of their own, the
// answers relayed. A request the primary never got is certainly not done (fail); one sent on a
// connection that then broke may have been (info); a read is never done, so fail.
function followerClient(client) {
  let upstream = null;
  const waiting = new Map(); // id -> f
  const open = () => {
    upstream = net.connect(PRIMARY.client, PRIMARY.host);
    upstream.ready = false;
    upstream.on('connect', () => { upstream.ready = true; });
    upstream.on('error', () => {});
    upstream.on('close', () => {
      for (const [id, f] of waiting) answer(client, id, f === 'read' ? 'fail' : 'info', { error: 'lost the primary', served: undefined });
      waiting.clear();
      upstream = null;
    });
    lines(upstream, (m) => {
      waiting.delete(m.id);
      const said = { served: m.served, leader: m.leader }; // the primary's: it served the request
      answer(client, m.id, m.type, m.type === 'ok' ? { value: m.value, ...said } : { error: m.error, ...said });
    });
  };
  return (req) => {
    if (BUG === 'follower-reads' && req.f === 'read') {
      const cur = kv.get(req.key);
      step('Read', {}, { commit });
      return answer(client, req.id, 'ok', { value: cur ? cur.value : null });
    }
    if (!upstream) open();
    // lww-clock: the node a client reaches stamps the write with its own clock
    if (BUG === 'lww-clock' && req.f !== 'read') req.stamp = Date.now();
    const forward = () => {
      if (!upstream || !upstream.ready) return answer(client, req.id, 'fail', { error: 'primary unreachable' });
      waiting.set(req.id, req.f);
      upstream.write(JSON.stringify(req) + '\n');
    };
    if (upstream.ready) return forward();
    let done = false; // connected, or failed to: forward (or refuse) once
    const once = () => { if (!done) { done = true; forward(); } };
    upstream.once('connect', once).once('close', once);
  };
}

// ---------------------------------------------------------------- the client port

function validRequest(req) {
  if (!req || typeof req !== 'object' || !('id' in req)) return 'no id';
  if (!['read', 'write', 'cas'].includes(req.f)) return `unknown f ${JSON.stringify(req.f)}`;
  if (typeof req.key !== 'string') return 'key must be a string';
  if (req.f === 'cas' && !(Array.isArray(req.value) && req.value.length === 2)) return 'cas value must be [old, new]';
  return null;
}

net.createServer((sock) => {
  sock.on('error', () => {});
  const viaFollower = IS_PRIMARY ? null : followerClient(sock);
  lines(sock, (req) => {
    const bad = validRequest(req);
    if (bad) return answer(sock, req && req.id, 'fail', { error: bad });
    if (IS_PRIMARY) primaryRequest(sock, req); else viaFollower(req);
  }, () => answer(sock, null, 'fail', { error: 'not a JSON line' }));
}).listen(opts.me.client, opts.me.host);

if (IS_PRIMARY) startPrimary(); else startFollower();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
