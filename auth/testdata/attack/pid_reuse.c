/*
 * Attack world for auth/attack_pidreuse_test.go: PID reuse, made
 * deterministic with ns_last_pid.
 *
 *   pid_reuse MODE SOCK APPROVED DAEMON
 *
 * As an ordinary user it creates a user namespace (where it is root), and a
 * pid and a mount namespace owned by it, with a /proc of its own: the
 * user's session as a sandbox would run it. Daemon and attacker both live
 * there, as the same user, so the daemon's namespace check does not stand
 * in the way; inside, the attacker may write ns_last_pid, which a daemon
 * outside would not notice (its view of the pid is another number; see the
 * test).
 *
 * Pid 1 here starts DAEMON (the test binary in its daemon role, waiting on
 * stdin before accept) and then the attack:
 *   1. a connector connects to SOCK; in MODE connector-writes it writes the
 *      request itself; it forks a holder that keeps the connection, and
 *      exits;
 *   2. pid 1 reaps it, writes its pid - 1 to /proc/sys/kernel/ns_last_pid
 *      and forks: the child gets the connector's pid and execs APPROVED;
 *   3. in MODE holder-writes the holder now writes the request;
 *   4. the daemon is let to accept().
 * A naive daemon asks /proc about the connector's pid and finds APPROVED.
 *
 * Output: "skip: <why>" when the kernel refuses a namespace or ns_last_pid;
 * "reused <pid>" once APPROVED runs with the connector's pid; the daemon
 * prints its own lines to the same stdout.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "attack.h"

static void write_request(int fd) {
	if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1))
		die("write request");
}

/* holder keeps the connection; in holder-writes it writes the request when
 * a byte arrives on go[0] and answers with one on done[1]; it prints the
 * daemon's answer. */
static void holder(int fd, const int go[2], const int done[2], int writes) {
	char c;
	if (writes) {
		if (read(go[0], &c, 1) != 1)
			die("holder: wait for go");
		write_request(fd);
		if (write(done[1], "w", 1) != 1)
			die("holder: done");
	}
	print_answer_and_exit(fd);
}

static pid_t start_daemon(const char *daemon, int *go) {
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork daemon");
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		setenv("AUTH_ATTACK_ROLE", "daemon", 1);
		execl(daemon, daemon, (char *)NULL);
		die("exec daemon");
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

/* reuse makes the next fork get pid and execs approved there. */
static pid_t reuse(pid_t pid, const char *approved) {
	char last[32];
	snprintf(last, sizeof last, "%d", (int)pid - 1);
	write_file("/proc/sys/kernel/ns_last_pid", last);
	pid_t child = fork();
	if (child < 0)
		die("fork reuser");
	if (child == 0) {
		execl(approved, "approved", "30", (char *)NULL);
		die("exec approved");
	}
	if (child != pid) {
		printf("fail: the fork after ns_last_pid=%s got pid %d\n", last, (int)child);
		fflush(stdout);
		exit(3);
	}
	wait_exec(child, NULL, approved);
	return child;
}

static void init(const char *mode, const char *sock, const char *approved, const char *daemon) {
	int holder_writes = strcmp(mode, "holder-writes") == 0;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		skip("make mounts private");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		skip("mount a /proc for the new pid namespace");
	int daemon_go, holder_go[2], holder_done[2];
	pid_t d = start_daemon(daemon, &daemon_go);
	if (pipe(holder_go) < 0 || pipe(holder_done) < 0)
		die("pipe");
	pid_t conn = fork();
	if (conn < 0)
		die("fork connector");
	if (conn == 0) {
		int fd = dial(sock, DIAL_RETRY);
		if (!holder_writes)
			write_request(fd);
		pid_t h = fork();
		if (h < 0)
			die("fork holder");
		if (h == 0)
			holder(fd, holder_go, holder_done, holder_writes);
		_exit(0);
	}
	if (waitpid(conn, NULL, 0) != conn)
		die("reap connector");
	pid_t r = reuse(conn, approved);
	printf("reused %d\n", (int)r);
	fflush(stdout);
	/* The request is queued before the daemon accepts: its worst case. */
	char c;
	if (holder_writes && (write(holder_go[1], "g", 1) != 1 || read(holder_done[0], &c, 1) != 1))
		die("let the holder write");
	if (write(daemon_go, "\n", 1) != 1)
		die("release daemon");
	waitpid(d, NULL, 0);
	/* Reap the holder (it exits when the daemon closes). */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: %s connector-writes|holder-writes SOCK APPROVED DAEMON\n", argv[0]);
		return 2;
	}
	enter_userns(CLONE_NEWPID | CLONE_NEWNS, "unshare(CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNS)");
	pid_t pid = fork();
	if (pid < 0)
		skip("fork into the new pid namespace");
	if (pid == 0) {
		init(argv[1], argv[2], argv[3], argv[4]);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}
