#!/usr/bin/env python3
"""Minimal client for the keychain-auth daemon (Python 3 standard library only).

Copy this one file into your project. It speaks the daemon's newline-delimited
JSON protocol over its unix socket. The daemon decides what this program may
do; this file only asks.

    from keychain_auth import Client, KeychainAuthError
    with Client() as kc:
        token = kc.read("my-tool", "api-token")      # None when not found

Command line (exit codes: 0 ok, 1 error, 3 denied, 4 not found,
5 pending approval, 6 daemon not running):

    python3 keychain_auth.py read SERVICE KEY          # value on stdout
    python3 keychain_auth.py write SERVICE KEY < file  # value from stdin
    python3 keychain_auth.py delete SERVICE KEY
    python3 keychain_auth.py search SERVICE [PREFIX]   # one key per line
"""

import json
import os
import socket
import struct
import sys

__all__ = ["Client", "KeychainAuthError", "DaemonNotRunning", "default_endpoint", "endpoint"]

PENDING_APPROVAL = "unregistered_binary_pending_approval"
PENDING_QUEUE_FULL = "pending_queue_full"  # unregistered too, only not queued
_MAX_RESPONSE = 64 << 20


class KeychainAuthError(Exception):
    """A refusal or failure. status is "denied" or "error" (or "" for local
    failures); reason is the daemon's reason code."""

    def __init__(self, status, reason, message=None):
        super().__init__(message or "keychain-auth %s: %s" % (status, reason))
        self.status = status
        self.reason = reason


class DaemonNotRunning(KeychainAuthError):
    """Nothing listens on the endpoint; start it with `keychain-auth serve`."""

    def __init__(self, path):
        super().__init__("", "daemon_not_running",
                         "keychain-auth daemon is not running at %s (start it with: keychain-auth serve)" % path)


def default_endpoint():
    """The platform's default socket path (see the product spec, section 2)."""
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "keychain-auth", "agent.sock")
    if sys.platform == "win32":
        return r"\\.\pipe\keychain-auth"
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime):
        return os.path.join(runtime, "keychain-auth", "agent.sock")
    return os.path.join(home, ".cache", "keychain-auth", "agent.sock")


def endpoint(path=None):
    """path if given, else $KEYCHAIN_AUTH_SOCKET, else the default."""
    return path or os.environ.get("KEYCHAIN_AUTH_SOCKET") or default_endpoint()


def _peer_uid(sock):
    """The uid the kernel reports for the daemon, or None where we cannot ask."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", raw)[1]
    if sys.platform == "darwin":  # LOCAL_PEERCRED: struct xucred {version, uid, ...}
        raw = sock.getsockopt(0, 0x001, struct.calcsize("IIh16I"))
        return struct.unpack_from("II", raw)[1]
    return None


class Client:
    """One connection to the daemon. Requests are answered in order."""

    def __init__(self, path=None, timeout=30.0):
        self.path = endpoint(path)
        # Python sockets are non-inheritable (close-on-exec) by default (PEP 446).
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(self.path)
        except (FileNotFoundError, ConnectionRefusedError):
            self._sock.close()
            raise DaemonNotRunning(self.path) from None
        except OSError:
            self._sock.close()
            raise
        uid = _peer_uid(self._sock)
        if uid is None or uid != os.geteuid():
            self._sock.close()
            # A socket served by someone else must never see our secrets.
            raise KeychainAuthError("", "foreign_daemon",
                                    "refusing daemon at %s: it does not run as our uid" % self.path)
        self._buf = b""

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, action, service, targets=None, match=None, values=None, attributes=None):
        """Send one request; return the response dict or raise KeychainAuthError."""
        req = {"type": "REQUEST", "action": action, "service": service}
        if match:
            req["match"] = match
        if targets is not None:
            req["targets"] = list(targets)
        if values is not None:
            req["values"] = list(values)
        if attributes:
            req["attributes"] = dict(attributes)
        line = json.dumps(req, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        self._sock.sendall(line)
        resp = json.loads(self._read_line())
        if resp.get("status") != "success":
            raise KeychainAuthError(resp.get("status", "error"), resp.get("reason", ""))
        return resp

    def _read_line(self):
        while b"\n" not in self._buf:
            if len(self._buf) > _MAX_RESPONSE:
                raise KeychainAuthError("", "response_too_long")
            chunk = self._sock.recv(65536)
            if not chunk:
                raise KeychainAuthError("", "connection_closed", "the daemon closed the connection")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8")

    def read(self, service, key):
        """The value of key, or None when it does not exist."""
        for r in self.request("read", service, [key]).get("results", []):
            if r.get("target") == key and "value" in r:
                return r["value"]
        return None

    def read_prefix(self, service, prefix):
        """{key: value} for every key that starts with prefix (needs can_search)."""
        res = self.request("read", service, [prefix], match="prefix").get("results", [])
        return {r["target"]: r.get("value") for r in res}

    def write(self, service, key, value, attributes=None):
        self.request("write", service, [key], values=[value], attributes=attributes)

    def delete(self, service, key):
        self.request("delete", service, [key])

    def search(self, service, prefix=None):
        """Sorted key names (never values), optionally under prefix (needs can_search)."""
        targets = [prefix] if prefix else None
        res = self.request("search", service, targets, match="prefix" if prefix else None).get("results", [])
        return [r["target"] for r in res]


EXIT_ERROR, EXIT_USAGE, EXIT_DENIED, EXIT_NOT_FOUND, EXIT_PENDING, EXIT_NOT_RUNNING = 1, 2, 3, 4, 5, 6

_USAGE = """usage: keychain_auth.py read SERVICE KEY
       keychain_auth.py write SERVICE KEY   (value from stdin)
       keychain_auth.py delete SERVICE KEY
       keychain_auth.py search SERVICE [PREFIX]"""


def _exit_code(err):
    if isinstance(err, DaemonNotRunning):
        return EXIT_NOT_RUNNING
    if err.reason in (PENDING_APPROVAL, PENDING_QUEUE_FULL):
        return EXIT_PENDING
    if err.status == "denied":
        return EXIT_DENIED
    return EXIT_ERROR


def _run(args):
    cmd, rest = args[0], args[1:]
    with Client() as kc:
        if cmd == "read" and len(rest) == 2:
            value = kc.read(*rest)
            if value is None:
                sys.stderr.write("keychain-auth: error: %s not found in %s\n" % (rest[1], rest[0]))
                return EXIT_NOT_FOUND
            sys.stdout.buffer.write(value.encode("utf-8"))
        elif cmd == "write" and len(rest) == 2:
            kc.write(rest[0], rest[1], sys.stdin.buffer.read().decode("utf-8"))
        elif cmd == "delete" and len(rest) == 2:
            kc.delete(*rest)
        elif cmd == "search" and len(rest) in (1, 2):
            for key in kc.search(*rest):
                sys.stdout.write(key + "\n")
        else:
            sys.stderr.write(_USAGE + "\n")
            return EXIT_USAGE
    return 0


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("read", "write", "delete", "search"):
        sys.stderr.write(_USAGE + "\n")
        return EXIT_USAGE
    try:
        return _run(args)
    except KeychainAuthError as err:
        sys.stderr.write("keychain-auth: error: %s\n" % err)
        return _exit_code(err)
    except (OSError, ValueError) as err:
        sys.stderr.write("keychain-auth: error: %s\n" % err)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
