/*
 * Attacker for auth/attack_exec_test.go: connect to the daemon, fork a child
 * that keeps the connection (a raw fork: the child keeps running this code,
 * which Go cannot do), and exec an approved binary in the parent, so that the
 * connecting pid runs the approved image when the daemon looks.
 *
 *   exec_after_connect MODE SOCK APPROVED
 *
 * MODE
 *   child-writes          socket without SOCK_CLOEXEC (the approved image
 *                         inherits it); the child writes the request once the
 *                         parent runs APPROVED
 *   child-writes-cloexec  the same with SOCK_CLOEXEC (only the child keeps it)
 *   parent-writes         the parent waits for a byte on stdin, writes the
 *                         request itself, waits for another byte and execs;
 *                         the child only keeps the connection to read the
 *                         answer (the bytes let the test order the race)
 *
 * The child prints "answer: <line>" for whatever the daemon sends back.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char request[] = "{\"type\":\"REQUEST\",\"action\":\"read\",\"service\":\"victim\",\"targets\":[\"token\"]}\n";

static void die(const char *what) {
	perror(what);
	exit(3);
}

static int dial(const char *path, int cloexec) {
	int fd = socket(AF_UNIX, SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0), 0);
	if (fd < 0)
		die("socket");
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path)
		die("socket path too long");
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("connect");
	return fd;
}

/* wait_exec polls until pid runs approved (at most 10 s). */
static void wait_exec(pid_t pid, const char *approved) {
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
	for (int i = 0; i < 10000; i++) {
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n > 0) {
			target[n] = 0;
			if (strcmp(target, approved) == 0)
				return;
		}
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	fprintf(stderr, "parent never ran %s\n", approved);
	exit(3);
}

static void wait_go(void) {
	char go;
	if (read(0, &go, 1) != 1)
		die("wait for go");
}

static void child(int fd, pid_t parent, const char *approved, int writes) {
	if (writes) {
		wait_exec(parent, approved);
		if (write(fd, request, sizeof request - 1) < 0)
			die("child write");
	}
	char buf[512];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("answer: %s\n", buf);
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: %s MODE SOCK APPROVED\n", argv[0]);
		return 2;
	}
	const char *mode = argv[1], *approved = argv[3];
	int parent_writes = strcmp(mode, "parent-writes") == 0;
	int fd = dial(argv[2], strcmp(mode, "child-writes-cloexec") == 0);
	if (parent_writes)
		wait_go();
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		child(fd, parent, approved, !parent_writes);
	if (parent_writes) {
		if (write(fd, request, sizeof request - 1) < 0)
			die("parent write");
		wait_go();
	}
	execl(approved, "approved", "30", (char *)NULL);
	die("exec");
}
