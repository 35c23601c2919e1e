#!/usr/bin/env node
// Minimal client for the keychain-auth daemon (Node 20, no packages).
//
// Copy this one file into your project. It speaks the daemon's
// newline-delimited JSON protocol over its unix socket; the daemon decides
// what this program may do.
//
//   const { Client } = require('./keychain-auth.js');
//   const kc = await Client.connect();
//   const token = await kc.read('my-tool', 'api-token'); // null when not found
//   kc.close();
//
// Command line (exit codes: 0 ok, 1 error, 2 usage, 3 denied, 4 not found,
// 5 pending approval, 6 daemon not running):
//   node keychain-auth.js read SERVICE KEY | write SERVICE KEY (stdin) |
//        delete SERVICE KEY | search SERVICE [PREFIX]
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const PENDING_APPROVAL = 'unregistered_binary_pending_approval';
const PENDING_QUEUE_FULL = 'pending_queue_full'; // unregistered too, only not queued
const MAX_RESPONSE = 64 << 20;

/** A refusal or failure: status is "denied" or "error" ("" when local). */
class KeychainAuthError extends Error {
  constructor(status, reason, message) {
    super(message || `keychain-auth ${status}: ${reason}`);
    this.name = 'KeychainAuthError';
    this.status = status;
    this.reason = reason;
  }
}

/** The platform's default socket path (product spec, section 2). */
function defaultEndpoint() {
  const home = os.homedir();
  if (process.platform === 'darwin') {
    return path.join(home, 'Library', 'Application Support', 'keychain-auth', 'agent.sock');
  }
  if (process.platform === 'win32') return '\\\\.\\pipe\\keychain-auth';
  const runtime = process.env.XDG_RUNTIME_DIR || '';
  if (path.isAbsolute(runtime)) return path.join(runtime, 'keychain-auth', 'agent.sock');
  return path.join(home, '.cache', 'keychain-auth', 'agent.sock');
}

/** p if given, else $KEYCHAIN_AUTH_SOCKET, else the default. */
function endpoint(p) {
  return p || process.env.KEYCHAIN_AUTH_SOCKET || defaultEndpoint();
}

// Node cannot ask the kernel for the peer's uid without a native module, so
// the best standard-library check is that the socket file and its directory
// belong to us: a socket planted by another user then fails here.
function checkOwner(p) {
  if (process.platform === 'win32' || typeof process.geteuid !== 'function') return;
  const me = process.geteuid();
  for (const f of [p, path.dirname(p)]) {
    const st = fs.lstatSync(f);
    if (st.uid !== me) {
      throw new KeychainAuthError('', 'foreign_daemon', `refusing ${f}: owned by uid ${st.uid}, not ${me}`);
    }
  }
}

class Client {
  /** Connect to the daemon; libuv opens the socket close-on-exec. */
  static connect(p) {
    const where = endpoint(p);
    return new Promise((resolve, reject) => {
      try {
        checkOwner(where);
      } catch (err) {
        if (err.code === 'ENOENT') return reject(notRunning(where));
        return reject(err);
      }
      const sock = net.createConnection(where);
      sock.once('connect', () => { sock.removeAllListeners('error'); resolve(new Client(sock)); });
      sock.once('error', (err) => {
        reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? notRunning(where) : err);
      });
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    this.closed = null;
    sock.on('data', (chunk) => this.onData(chunk));
    sock.on('error', (err) => this.fail(err));
    sock.on('close', () => this.fail(new KeychainAuthError('', 'connection_closed', 'the daemon closed the connection')));
  }

  onData(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    let nl;
    while ((nl = this.buf.indexOf(0x0a)) >= 0) {
      const line = this.buf.subarray(0, nl).toString('utf8');
      this.buf = this.buf.subarray(nl + 1);
      const w = this.waiting.shift();
      if (w) w.resolve(line);
    }
    if (this.buf.length > MAX_RESPONSE) this.fail(new KeychainAuthError('', 'response_too_long'));
  }

  fail(err) {
    this.closed = this.closed || err;
    for (const w of this.waiting.splice(0)) w.reject(this.closed);
  }

  close() { this.sock.destroy(); }

  /** Send one request; resolve to the response object or reject with KeychainAuthError. */
  async request(action, service, { targets, match, values, attributes } = {}) {
    const req = { type: 'REQUEST', action, service };
    if (match) req.match = match;
    if (targets !== undefined) req.targets = targets;
    if (values !== undefined) req.values = values;
    if (attributes && Object.keys(attributes).length) req.attributes = attributes;
    if (this.closed) throw this.closed;
    const line = new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.sock.write(JSON.stringify(req) + '\n');
    const resp = JSON.parse(await line);
    if (resp.status !== 'success') throw new KeychainAuthError(resp.status || 'error', resp.reason || '');
    return resp;
  }

  /** The value of key, or null when it does not exist. */
  async read(service, key) {
    const resp = await this.request('read', service, { targets: [key] });
    const hit = (resp.results || []).find((r) => r.target === key && 'value' in r);
    return hit ? hit.value : null;
  }

  /** {key: value} for every key starting with prefix (needs can_search). */
  async readPrefix(service, prefix) {
    const resp = await this.request('read', service, { targets: [prefix], match: 'prefix' });
    return Object.fromEntries((resp.results || []).map((r) => [r.target, r.value]));
  }

  async write(service, key, value, attributes) {
    await this.request('write', service, { targets: [key], values: [value], attributes });
  }

  async delete(service, key) {
    await this.request('delete', service, { targets: [key] });
  }

  /** Key names (never values), optionally under prefix (needs can_search). */
  async search(service, prefix) {
    const opts = prefix ? { targets: [prefix], match: 'prefix' } : {};
    const resp = await this.request('search', service, opts);
    return (resp.results || []).map((r) => r.target);
  }
}

function notRunning(where) {
  return new KeychainAuthError('', 'daemon_not_running',
    `keychain-auth daemon is not running at ${where} (start it with: keychain-auth serve)`);
}

const USAGE = `usage: keychain-auth.js read SERVICE KEY
       keychain-auth.js write SERVICE KEY   (value from stdin)
       keychain-auth.js delete SERVICE KEY
       keychain-auth.js search SERVICE [PREFIX]`;

function exitCode(err) {
  if (!(err instanceof KeychainAuthError)) return 1;
  if (err.reason === 'daemon_not_running') return 6;
  if (err.reason === PENDING_APPROVAL || err.reason === PENDING_QUEUE_FULL) return 5;
  if (err.status === 'denied') return 3;
  return 1;
}

function readStdin() {
  const chunks = [];
  let n;
  const b = Buffer.alloc(65536);
  while ((n = fs.readSync(0, b, 0, b.length, null)) > 0) chunks.push(Buffer.from(b.subarray(0, n)));
  return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
}

async function run(cmd, rest) {
  const arity = { read: [2], write: [2], delete: [2], search: [1, 2] }[cmd];
  if (!arity || !arity.includes(rest.length)) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const value = cmd === 'write' ? readStdin() : undefined;
  const kc = await Client.connect();
  try {
    if (cmd === 'read') {
      const v = await kc.read(rest[0], rest[1]);
      if (v === null) {
        process.stderr.write(`keychain-auth: error: ${rest[1]} not found in ${rest[0]}\n`);
        return 4;
      }
      await new Promise((resolve) => process.stdout.write(v, resolve));
    } else if (cmd === 'write') {
      await kc.write(rest[0], rest[1], value);
    } else if (cmd === 'delete') {
      await kc.delete(rest[0], rest[1]);
    } else {
      for (const k of await kc.search(rest[0], rest[1])) process.stdout.write(k + '\n');
    }
  } finally {
    kc.close();
  }
  return 0;
}

async function main(argv) {
  try {
    return await run(argv[0], argv.slice(1));
  } catch (err) {
    process.stderr.write(`keychain-auth: error: ${err.message}\n`);
    return exitCode(err);
  }
}

module.exports = { Client, KeychainAuthError, defaultEndpoint, endpoint };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
