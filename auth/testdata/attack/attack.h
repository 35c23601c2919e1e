/*
 * Helpers shared by the socket attackers in this directory
 * (exec_after_connect.c, forge_cred.c, pid_reuse.c). Each attacker is a
 * single-file program compiled on its own by compileC in
 * auth/attack_test.go, so the helpers are static here; they are static
 * inline so that a program which uses only some of them compiles without
 * -Wall warnings.
 *
 * Exit codes: 3 for a failure of the attack machinery (die), 4 for a
 * kernel refusal the test turns into a skip (skip, which also prints
 * "skip: <why>" on stdout for the test to read).
 */
#ifndef ATTACK_H
#define ATTACK_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The request every attacker tries to get answered: read the victim's
 * token, which only the approved binary's policy allows. */
__attribute__((unused)) static const char request[] =
	"{\"type\":\"REQUEST\",\"action\":\"read\",\"service\":\"victim\",\"targets\":[\"token\"]}\n";

static inline void die(const char *what) {
	perror(what);
	exit(3);
}

static inline void skip(const char *what) {
	printf("skip: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(4);
}

static inline void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* write_file writes text to a /proc file whole, or skips: the files it is
 * for (uid_map, ns_last_pid, ...) are the kernel's to refuse. */
static inline void write_file(const char *path, const char *text) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		skip(path);
	close(fd);
}

/* enter_userns makes the caller root in a new user namespace (mapping its
 * own uid and gid only, as any user may), unsharing the namespaces in
 * flags along with it (CLONE_NEWPID: its children join a new pid namespace
 * owned by it). what names the unshare call in the skip message. */
static inline void enter_userns(int flags, const char *what) {
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];
	if (unshare(CLONE_NEWUSER | flags) < 0)
		skip(what);
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
	write_file("/proc/self/gid_map", map);
}

/* dial flags. */
#define DIAL_CLOEXEC 1 /* SOCK_CLOEXEC: an exec'ed image does not inherit it */
#define DIAL_RETRY 2   /* retry while the daemon starts (ENOENT, ECONNREFUSED; 10 s) */

/* dial connects to the daemon's socket at path, or dies. */
static inline int dial(const char *path, int flags) {
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path)
		die("socket path too long");
	strcpy(a.sun_path, path);
	int type = SOCK_STREAM | ((flags & DIAL_CLOEXEC) ? SOCK_CLOEXEC : 0);
	int tries = (flags & DIAL_RETRY) ? 10000 : 1;
	for (int i = 0; i < tries; i++) {
		int fd = socket(AF_UNIX, type, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
			return fd;
		if (!(flags & DIAL_RETRY) || (errno != ENOENT && errno != ECONNREFUSED))
			die("connect");
		close(fd);
		sleep_ms(1);
	}
	die("daemon never listened");
	return -1;
}

/* exec_done reports whether the exec of the process at procdir has finished
 * building its address space: the kernel switches the exe link early in
 * execve and fills the layout fields of stat (start_code ... env_start) only
 * later, so a request sent in between would race the daemon's exec check.
 * env_start (field 50) is among the last to be set. */
static inline int exec_done(const char *procdir) {
	char path[PATH_MAX], buf[2048];
	snprintf(path, sizeof path, "%s/stat", procdir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	/* Field 3 follows the ')'; walk to field 50. */
	int field = 2;
	unsigned long long v = 0;
	for (char *tok = strtok(p + 1, " \n"); tok != NULL; tok = strtok(NULL, " \n")) {
		if (++field == 50) {
			v = strtoull(tok, NULL, 10);
			break;
		}
	}
	return v != 0;
}

/* wait_exec_at polls until the process at procdir (a /proc/PID directory)
 * runs approved and its exec has finished, or exits 3 after 10 s with
 * "<who> never ran <approved>". */
static inline void wait_exec_at(const char *procdir, const char *who, const char *approved) {
	char link[PATH_MAX], target[PATH_MAX];
	snprintf(link, sizeof link, "%s/exe", procdir);
	for (int i = 0; i < 10000; i++) {
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n > 0) {
			target[n] = 0;
			if (strcmp(target, approved) == 0 && exec_done(procdir))
				return;
		}
		sleep_ms(1);
	}
	fprintf(stderr, "%s never ran %s\n", who, approved);
	exit(3);
}

/* wait_exec is wait_exec_at for pid as this process's /proc sees it; who
 * names it in the failure message (NULL: "pid <pid>"). */
static inline void wait_exec(pid_t pid, const char *who, const char *approved) {
	char procdir[64], name[64];
	snprintf(procdir, sizeof procdir, "/proc/%d", (int)pid);
	if (who == NULL) {
		snprintf(name, sizeof name, "pid %d", (int)pid);
		who = name;
	}
	wait_exec_at(procdir, who, approved);
}

/* print_answer_and_exit prints "answer: <line>" for what the daemon sends back on
 * fd (one read; empty when it closes) and exits the process at once. */
static inline void print_answer_and_exit(int fd) {
	char buf[512];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("answer: %s\n", buf);
	fflush(stdout);
	_exit(0);
}

#endif
