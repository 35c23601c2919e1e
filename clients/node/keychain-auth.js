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
//
// Endpoint: the path given to connect(), else $KEYCHAIN_AUTH_SOCKET, else the
// system socket when system mode is installed (Linux), else the user socket.
// When system mode is installed, whichever endpoint was chosen must belong to
// root or the service user, or nothing is sent. connect() also makes sure the
// process's hard core-dump limit is 0 first. See README.md for both, and for
// what Node cannot check.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const PENDING_APPROVAL = 'unregistered_binary_pending_approval';
const PENDING_QUEUE_FULL = 'pending_queue_full'; // unregistered too, only not queued
const MAX_RESPONSE = 64 << 20;

// System mode layout (Linux): /etc/keychain-auth marks it installed, the
// daemon listens on /run/keychain-auth/agent.sock as the service user. Fixed
// in this file on purpose: no argument and no environment variable moves
// them, because whatever could move them would let a program running as the
// user point this client at a layout of its own and turn the system check
// off. The tests rewrite these two lines in a copy of this file.
const SYSTEM_PREFIX = '';
const SERVICE_USER = 'keychain-auth';

/** A refusal or failure: status is "denied" or "error" ("" when local). */
class KeychainAuthError extends Error {
  constructor(status, reason, message) {
    super(message || `keychain-auth ${status}: ${reason}`);
    this.name = 'KeychainAuthError';
    this.status = status;
    this.reason = reason;
    // ERR_KEYCHAIN_AUTH_UNTRUSTED_ENDPOINT, ..._FOREIGN_DAEMON, ..._DENIED ...
    this.code = 'ERR_KEYCHAIN_AUTH_' + (reason || status || 'error').toUpperCase();
  }
}

const systemDir = () => SYSTEM_PREFIX + '/etc/keychain-auth';

/** The system daemon's socket, /run/keychain-auth/agent.sock. */
function systemEndpoint() {
  return SYSTEM_PREFIX + '/run/keychain-auth/agent.sock';
}

function systemModeInvalid(p, problem) {
  return new KeychainAuthError('', 'system_mode_invalid',
    `system mode directory ${p} is ${problem}; refusing to talk to any daemon until an administrator fixes it (nothing was sent)`);
}

function untrusted(p, problem) {
  const err = new KeychainAuthError('', 'untrusted_endpoint',
    `refusing endpoint ${p}: ${problem}; system mode is installed, so the socket and its directory must belong to root or the service user ${SERVICE_USER} (nothing was sent)`);
  err.path = p;
  return err;
}

/**
 * True when system mode is installed: /etc/keychain-auth is a real directory
 * (not a symlink) owned by root and writable by no one else. False when it
 * does not exist (or off Linux). Throws system_mode_invalid when it exists
 * but fails the check: that is never taken for "not installed".
 */
function systemInstalled() {
  if (process.platform !== 'linux') return false;
  const p = systemDir();
  let st;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    if (err.code === 'ENOENT') return false;
    throw systemModeInvalid(p, `unreadable (${err.code})`);
  }
  if (st.isSymbolicLink()) throw systemModeInvalid(p, 'a symlink');
  if (!st.isDirectory()) throw systemModeInvalid(p, 'not a directory');
  if (st.uid !== 0) throw systemModeInvalid(p, `owned by uid ${st.uid}, not root`);
  if (st.mode & 0o022) throw systemModeInvalid(p, `writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
  return true;
}

/** The endpoint used when none is named: the system socket when system mode is installed, else the user socket. */
function defaultEndpoint() {
  return systemInstalled() ? systemEndpoint() : userEndpoint();
}

/** The platform's default user-mode socket path (product spec, section 2). */
function userEndpoint() {
  const home = os.homedir();
  if (process.platform === 'darwin') {
    return path.join(home, 'Library', 'Application Support', 'keychain-auth', 'agent.sock');
  }
  if (process.platform === 'win32') return '\\\\.\\pipe\\keychain-auth';
  const runtime = process.env.XDG_RUNTIME_DIR || '';
  if (path.isAbsolute(runtime)) return path.join(runtime, 'keychain-auth', 'agent.sock');
  return path.join(home, '.cache', 'keychain-auth', 'agent.sock');
}

/** p if given, else $KEYCHAIN_AUTH_SOCKET, else defaultEndpoint(); connect() checks it. */
function endpoint(p) {
  return p || process.env.KEYCHAIN_AUTH_SOCKET || defaultEndpoint();
}

// Node cannot ask the kernel for the peer's uid without a native module, so
// the best standard-library check is that the socket file and its directory
// belong to us: a socket planted by another user then fails here.
function checkUserEndpoint(p) {
  if (process.platform === 'win32' || typeof process.geteuid !== 'function') return;
  const me = process.geteuid();
  for (const f of [p, path.dirname(p)]) {
    let st;
    try {
      st = fs.lstatSync(f);
    } catch (err) {
      if (err.code === 'ENOENT') throw notRunning(p, false);
      throw err;
    }
    if (st.uid !== me) {
      throw new KeychainAuthError('', 'foreign_daemon', `refusing ${f}: owned by uid ${st.uid}, not ${me} (nothing was sent)`);
    }
  }
}

// The service user's uid from the user database: /etc/passwd, else getent
// (users from other NSS sources); null when it has none.
function serviceUid() {
  const parse = (text) => {
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f.length >= 4 && f[0] === SERVICE_USER && /^[0-9]+$/.test(f[2])) return Number(f[2]);
    }
    return null;
  };
  try {
    const uid = parse(fs.readFileSync('/etc/passwd', 'utf8'));
    if (uid !== null) return uid;
  } catch { /* fall through to getent */ }
  for (const getent of ['/usr/bin/getent', '/bin/getent']) {
    if (!rootOwnedFile(getent)) continue;
    try {
      return parse(execFileSync(getent, ['passwd', SERVICE_USER],
        { encoding: 'utf8', env: {}, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }));
    } catch {
      return null; // exit 2: no such user
    }
  }
  return null;
}

// rootOwnedFile: a regular file owned by root that no one else can write.
function rootOwnedFile(f) {
  try {
    const st = fs.lstatSync(f);
    return st.isFile() && st.uid === 0 && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

// openSystemEndpoint checks the endpoint of a system daemon: its directory,
// opened without following a symlink, must belong to root or the service
// user and be writable by no one else; the socket in it must be a socket
// (not a symlink) owned by one of them. It returns the open directory and a
// path through it (/proc/self/fd/N/NAME), so that no path component can be
// swapped between the check and the connect; the caller closes fd. Node
// cannot ask who serves the socket (no SO_PEERCRED): see README.md.
function openSystemEndpoint(p) {
  const trusted = new Map([[0, 'root']]);
  const svc = serviceUid();
  if (svc !== null && !trusted.has(svc)) trusted.set(svc, `the service user ${SERVICE_USER}`);
  const expected = [...trusted].map(([uid, name]) => `${name} (uid ${uid})`).join(' or ');
  const abs = path.resolve(p);
  const dir = path.dirname(abs);
  const name = path.basename(abs);
  const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
  let fd;
  try {
    fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW); // libuv adds O_CLOEXEC
  } catch (err) {
    if (err.code === 'ENOENT') throw notRunning(p, true);
    let link = err.code === 'ELOOP';
    if (err.code === 'ENOTDIR') {
      try { link = fs.lstatSync(dir).isSymbolicLink(); } catch { /* reported as not a directory */ }
    }
    if (link) throw untrusted(p, `its directory ${dir} is a symlink`);
    if (err.code === 'ENOTDIR') throw untrusted(p, `${dir} is not a directory`);
    throw untrusted(p, `cannot open its directory ${dir} (${err.code})`);
  }
  try {
    const d = fs.fstatSync(fd);
    if (!trusted.has(d.uid)) throw untrusted(p, `its directory ${dir} is owned by uid ${d.uid}, not ${expected}`);
    if (d.mode & 0o022) {
      throw untrusted(p, `its directory ${dir} is writable by group or others (mode ${(d.mode & 0o7777).toString(8).padStart(4, '0')})`);
    }
    const via = `/proc/self/fd/${fd}`;
    let isDir = false;
    try { isDir = fs.statSync(via).isDirectory(); } catch { /* no /proc */ }
    if (!isDir) throw untrusted(p, 'cannot connect through the checked directory (is /proc mounted?)');
    let st;
    try {
      st = fs.lstatSync(`${via}/${name}`);
    } catch (err) {
      if (err.code === 'ENOENT') throw notRunning(p, true);
      throw untrusted(p, `cannot inspect it (${err.code})`);
    }
    if (st.isSymbolicLink()) throw untrusted(p, 'it is a symlink');
    if (!st.isSocket()) throw untrusted(p, 'it is not a socket');
    if (!trusted.has(st.uid)) throw untrusted(p, `it is owned by uid ${st.uid}, not ${expected}`);
    return { fd, via: `${via}/${name}` };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/**
 * {soft, hard}: this process's core-dump limit in bytes (Infinity when
 * unlimited), read from /proc/self/limits; null where that cannot be read
 * (off Linux).
 */
function coreDumpLimit() {
  let text;
  try {
    text = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n').find((l) => l.startsWith('Max core file size'));
  if (!line) return null;
  const [soft, hard] = line.slice('Max core file size'.length).trim().split(/\s+/);
  const num = (v) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: num(soft), hard: num(hard) };
}

/**
 * Sets this process's core-dump limit to 0, soft and hard, so that a program
 * running as the same user cannot raise it (prlimit) and crash this process
 * to get a core file holding a value. Node has no setrlimit, so on Linux this
 * runs util-linux prlimit(1) (/usr/bin/prlimit, root-owned, empty
 * environment) on our own pid, once per process; then it reads the limit
 * back. connect() calls it and refuses (core_limit_not_zero) when the hard
 * limit is still not 0 on Linux: launch the program with `ulimit -c 0`,
 * `prlimit --core=0:0`, or systemd LimitCORE=0 where prlimit(1) is missing.
 * Returns coreDumpLimit(). Node cannot make itself non-dumpable: README.md.
 */
function shield() {
  let lim = coreDumpLimit();
  if (!lim || (lim.soft === 0 && lim.hard === 0)) return lim;
  for (const bin of ['/usr/bin/prlimit', '/bin/prlimit']) {
    if (!rootOwnedFile(bin)) continue;
    try {
      execFileSync(bin, [`--pid=${process.pid}`, '--core=0:0'], { env: {}, stdio: 'ignore', timeout: 5000 });
    } catch { /* reported below by the limit read back */ }
    break;
  }
  lim = coreDumpLimit();
  return lim;
}

function requireShield() {
  const lim = shield();
  if (process.platform === 'linux' && (!lim || lim.hard !== 0 || lim.soft !== 0)) {
    const shown = lim ? `soft ${lim.soft}, hard ${lim.hard}` : 'unknown';
    throw new KeychainAuthError('', 'core_limit_not_zero',
      `cannot set this process's core-dump limit to 0 (it is ${shown}; Node needs /usr/bin/prlimit for that): ` +
      'start it with `ulimit -c 0`, `prlimit --core=0:0` or systemd LimitCORE=0 (nothing was sent)');
  }
}

class Client {
  /**
   * Connect to p, else $KEYCHAIN_AUTH_SOCKET, else the system socket when
   * system mode is installed, else the user socket. Before connecting:
   * shield() (hard core-dump limit 0, or core_limit_not_zero), then the
   * endpoint check (untrusted_endpoint, foreign_daemon, system_mode_invalid).
   * libuv opens the socket close-on-exec.
   */
  static connect(p) {
    return new Promise((resolve, reject) => {
      let system;
      let where;
      let target;
      try {
        system = systemInstalled();
        where = p || process.env.KEYCHAIN_AUTH_SOCKET || (system ? systemEndpoint() : userEndpoint());
        requireShield();
        if (system) {
          target = openSystemEndpoint(where);
        } else {
          checkUserEndpoint(where);
          target = { via: where };
        }
      } catch (err) {
        return reject(err);
      }
      const release = () => { if (target.fd !== undefined) fs.closeSync(target.fd); target.fd = undefined; };
      const sock = net.createConnection(target.via);
      sock.once('connect', () => {
        release();
        sock.removeAllListeners('error');
        resolve(new Client(sock, where, system));
      });
      sock.once('error', (err) => {
        release();
        reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? notRunning(where, system) : err);
      });
    });
  }

  constructor(sock, where, system) {
    this.sock = sock;
    this.path = where;
    this.system = Boolean(system);
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

function notRunning(where, system) {
  const how = system ? 'the keychain-auth system service' : 'keychain-auth serve';
  return new KeychainAuthError('', 'daemon_not_running',
    `keychain-auth daemon is not running at ${where} (start it with: ${how})`);
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

module.exports = {
  Client, KeychainAuthError, defaultEndpoint, userEndpoint, systemEndpoint, systemInstalled, endpoint,
  shield, coreDumpLimit,
};

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
