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

Endpoint: the path given to Client(), else $KEYCHAIN_AUTH_SOCKET, else the
system socket when system mode is installed (Linux), else the user socket.
When system mode is installed, whichever endpoint was chosen must belong to
root or the service user, or nothing is sent. Client() also sets this
process's core-dump limit to 0 and, with a system daemon, makes the process
non-dumpable. See README.md.
"""

import errno
import json
import os
import socket
import stat
import struct
import sys

__all__ = ["Client", "KeychainAuthError", "DaemonNotRunning", "UntrustedEndpoint", "ForeignDaemon",
           "SystemModeInvalid", "ShieldError", "default_endpoint", "user_endpoint", "system_endpoint",
           "system_installed", "endpoint", "shield"]

PENDING_APPROVAL = "unregistered_binary_pending_approval"
PENDING_QUEUE_FULL = "pending_queue_full"  # unregistered too, only not queued
_MAX_RESPONSE = 64 << 20

# System mode layout (Linux): /etc/keychain-auth marks it installed, the daemon
# listens on /run/keychain-auth/agent.sock as the service user. These are
# fixed in this file on purpose: no argument and no environment variable moves
# them, because whatever could move them would let a program running as the
# user point this client at a layout of its own and turn the system check
# off. The tests rewrite these two lines in a copy of this file.
_SYSTEM_PREFIX = ""
_SERVICE_USER = "keychain-auth"

_PR_GET_DUMPABLE, _PR_SET_DUMPABLE = 3, 4


class KeychainAuthError(Exception):
    """A refusal or failure. status is "denied" or "error" (or "" for local
    failures); reason is the daemon's reason code."""

    def __init__(self, status, reason, message=None):
        super().__init__(message or "keychain-auth %s: %s" % (status, reason))
        self.status = status
        self.reason = reason


class DaemonNotRunning(KeychainAuthError):
    """Nothing listens on the endpoint; start it with `keychain-auth serve`
    (or, in system mode, the system service)."""

    def __init__(self, path, system=False):
        how = "the keychain-auth system service" if system else "keychain-auth serve"
        super().__init__("", "daemon_not_running",
                         "keychain-auth daemon is not running at %s (start it with: %s)" % (path, how))


class UntrustedEndpoint(KeychainAuthError):
    """System mode is installed and the endpoint (the socket file or its
    directory) fails the system check. Nothing was sent."""

    def __init__(self, path, problem):
        super().__init__("", "untrusted_endpoint",
                         "refusing endpoint %s: %s; system mode is installed, so the socket and its "
                         "directory must belong to root or the service user %s (nothing was sent)"
                         % (path, problem, _SERVICE_USER))
        self.path = path
        self.problem = problem


class ForeignDaemon(KeychainAuthError):
    """The process serving the socket runs as a uid we do not trust: not our
    own uid in user mode, not root or the service user in system mode.
    Nothing was sent."""

    def __init__(self, path, uid, expected):
        super().__init__("", "foreign_daemon",
                         "refusing daemon at %s: it runs as uid %s, not %s (nothing was sent)"
                         % (path, uid, expected))
        self.path = path
        self.uid = uid


class SystemModeInvalid(KeychainAuthError):
    """/etc/keychain-auth exists but is not a root-owned directory that only
    root can write. That is not taken for "system mode not installed": the
    client refuses every endpoint until an administrator fixes it."""

    def __init__(self, path, problem):
        super().__init__("", "system_mode_invalid",
                         "system mode directory %s is %s; refusing to talk to any daemon until an "
                         "administrator fixes it (nothing was sent)" % (path, problem))
        self.path = path
        self.problem = problem


class ShieldError(KeychainAuthError):
    """The process could not set its core-dump limit to 0, or could not make
    itself non-dumpable for a system daemon. Nothing was sent."""

    def __init__(self, problem):
        super().__init__("", "shield_failed",
                         "cannot shield this process before asking for secrets: %s (nothing was sent)" % problem)


def _system_dir():
    return _SYSTEM_PREFIX + "/etc/keychain-auth"


def system_endpoint():
    """The system daemon's socket, /run/keychain-auth/agent.sock."""
    return _SYSTEM_PREFIX + "/run/keychain-auth/agent.sock"


def system_installed():
    """True when system mode is installed: /etc/keychain-auth is a real
    directory (not a symlink) owned by root and writable by no one else.
    False when it does not exist (or off Linux). Raises SystemModeInvalid
    when it exists but fails the check."""
    if not sys.platform.startswith("linux"):
        return False
    path = _system_dir()
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as err:
        raise SystemModeInvalid(path, "unreadable (%s)" % err.strerror) from None
    if stat.S_ISLNK(st.st_mode):
        raise SystemModeInvalid(path, "a symlink")
    if not stat.S_ISDIR(st.st_mode):
        raise SystemModeInvalid(path, "not a directory")
    if st.st_uid != 0:
        raise SystemModeInvalid(path, "owned by uid %d, not root" % st.st_uid)
    if st.st_mode & 0o022:
        raise SystemModeInvalid(path, "writable by group or others (mode %04o)" % stat.S_IMODE(st.st_mode))
    return True


def default_endpoint():
    """The endpoint used when none is named: the system socket when system
    mode is installed, else the user socket. Raises SystemModeInvalid."""
    return system_endpoint() if system_installed() else user_endpoint()


def user_endpoint():
    """The platform's default user-mode socket path (product spec, section 2)."""
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
    """path if given, else $KEYCHAIN_AUTH_SOCKET, else default_endpoint().
    Whichever it is, Client() checks it before sending anything."""
    return path or os.environ.get("KEYCHAIN_AUTH_SOCKET") or default_endpoint()


def shield(nondumpable=False):
    """Protect the secrets this process is about to hold. Client() calls it
    before connecting; call it yourself earlier if you like (it is idempotent).

    Always: the core-dump limit becomes 0, soft and hard. A program running as
    the same user can raise a soft limit (prlimit) and then crash this process
    to get a core file with the value in it; it cannot raise a hard limit.

    nondumpable=True (Linux; Client() passes it when it talks to a system
    daemon): prctl(PR_SET_DUMPABLE, 0), so that no process of this user can
    ptrace this one, read its memory through /proc/PID/mem or take its file
    descriptors with pidfd_getfd. A daemon running as the user could then no
    longer identify this process, which is why user mode does not do it.

    Both last until this process execs another program and cannot be undone.
    Raises ShieldError when either cannot be done."""
    if sys.platform != "win32":  # Windows has no core-dump rlimit
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            got = resource.getrlimit(resource.RLIMIT_CORE)
        except (ImportError, OSError, ValueError) as err:
            raise ShieldError("setting the core-dump limit to 0 failed: %s" % err) from None
        if got != (0, 0):
            raise ShieldError("the core-dump limit is %r after setting it to (0, 0)" % (got,))
    if nondumpable:
        if not sys.platform.startswith("linux"):
            raise ShieldError("making the process non-dumpable needs Linux")
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            prctl = libc.prctl
            prctl.restype = ctypes.c_int
            prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        except (ImportError, OSError, AttributeError) as err:
            raise ShieldError("prctl is not reachable through ctypes: %s" % err) from None
        if prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise ShieldError("prctl(PR_SET_DUMPABLE, 0) failed: %s" % os.strerror(ctypes.get_errno()))
        if prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise ShieldError("the process is still dumpable after prctl(PR_SET_DUMPABLE, 0)")


def _peer_uid(sock):
    """The uid the kernel reports for the daemon, or None where we cannot ask."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", raw)[1]
    if sys.platform == "darwin":  # LOCAL_PEERCRED: struct xucred {version, uid, ...}
        raw = sock.getsockopt(0, 0x001, struct.calcsize("IIh16I"))
        return struct.unpack_from("II", raw)[1]
    return None


def _dial(where, shown, timeout, system):
    # Python sockets are non-inheritable (close-on-exec) by default (PEP 446).
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(where)
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        raise DaemonNotRunning(shown, system) from None
    except BaseException:
        sock.close()
        raise
    return sock


def _connect_user(path, timeout):
    """User mode: the daemon must run as our own uid."""
    sock = _dial(path, path, timeout, False)
    uid = _peer_uid(sock)
    if uid is None or uid != os.geteuid():
        sock.close()
        # A socket served by someone else must never see our secrets.
        raise ForeignDaemon(path, uid, "our uid %d" % os.geteuid())
    return sock


def _trusted_uids():
    """{uid: name} of who may serve the system socket: root and the service
    user (when the user database knows it)."""
    trusted = {0: "root"}
    try:
        import pwd
        trusted.setdefault(pwd.getpwnam(_SERVICE_USER).pw_uid, "the service user " + _SERVICE_USER)
    except (ImportError, KeyError):
        pass
    return trusted


def _connect_system(path, timeout):
    """System mode: the socket's directory is opened without following a
    symlink and must belong to root or the service user and be writable by
    no one else; the socket in it must be a socket (not a symlink) owned by
    one of them; we connect through that opened directory, so no path
    component can be swapped between the check and the connect; and the
    process that serves it must run as root or the service user."""
    trusted = _trusted_uids()
    expected = " or ".join("%s (uid %d)" % (name, uid) for uid, name in sorted(trusted.items()))
    directory, name = os.path.split(os.path.abspath(path))
    if not name:
        raise UntrustedEndpoint(path, "it names no file")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        dfd = os.open(directory, flags)
    except FileNotFoundError:
        raise DaemonNotRunning(path, True) from None
    except OSError as err:
        if err.errno == errno.ELOOP or (err.errno == errno.ENOTDIR and os.path.islink(directory)):
            raise UntrustedEndpoint(path, "its directory %s is a symlink" % directory) from None
        if err.errno == errno.ENOTDIR:
            raise UntrustedEndpoint(path, "%s is not a directory" % directory) from None
        raise UntrustedEndpoint(path, "cannot open its directory %s (%s)" % (directory, err.strerror)) from None
    try:
        st = os.fstat(dfd)
        if st.st_uid not in trusted:
            raise UntrustedEndpoint(path, "its directory %s is owned by uid %d, not %s" % (directory, st.st_uid, expected))
        if st.st_mode & 0o022:
            raise UntrustedEndpoint(path, "its directory %s is writable by group or others (mode %04o)"
                                    % (directory, stat.S_IMODE(st.st_mode)))
        try:
            st = os.lstat(name, dir_fd=dfd)
        except FileNotFoundError:
            raise DaemonNotRunning(path, True) from None
        if stat.S_ISLNK(st.st_mode):
            raise UntrustedEndpoint(path, "it is a symlink")
        if not stat.S_ISSOCK(st.st_mode):
            raise UntrustedEndpoint(path, "it is not a socket")
        if st.st_uid not in trusted:
            raise UntrustedEndpoint(path, "it is owned by uid %d, not %s" % (st.st_uid, expected))
        via = "/proc/self/fd/%d" % dfd
        if not os.path.isdir(via):
            raise UntrustedEndpoint(path, "cannot connect through the checked directory (is /proc mounted?)")
        sock = _dial(via + "/" + name, path, timeout, True)
    finally:
        os.close(dfd)
    uid = _peer_uid(sock)
    if uid not in trusted:
        sock.close()
        raise ForeignDaemon(path, uid, expected)
    return sock


class Client:
    """One connection to the daemon. Requests are answered in order."""

    def __init__(self, path=None, timeout=30.0):
        """Connect to path, else $KEYCHAIN_AUTH_SOCKET, else the system socket
        when system mode is installed, else the user socket. Before anything
        is sent: shield() (core-dump limit 0; non-dumpable for a system
        daemon), then the endpoint check (see README.md). Raises
        SystemModeInvalid, UntrustedEndpoint, ForeignDaemon, ShieldError or
        DaemonNotRunning; nothing is sent when any of them is raised."""
        self._sock = None
        self.system = system_installed()
        self.path = path or os.environ.get("KEYCHAIN_AUTH_SOCKET") or (
            system_endpoint() if self.system else user_endpoint())
        shield(nondumpable=self.system)
        if self.system:
            self._sock = _connect_system(self.path, timeout)
        else:
            self._sock = _connect_user(self.path, timeout)
        self._buf = b""

    def close(self):
        if self._sock is not None:
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
