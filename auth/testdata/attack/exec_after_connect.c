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
#include "attack.h"

static void wait_go(void) {
	char go;
	if (read(0, &go, 1) != 1)
		die("wait for go");
}

static void child(int fd, pid_t parent, const char *approved, int writes) {
	if (writes) {
		wait_exec(parent, "parent", approved);
		if (write(fd, request, sizeof request - 1) < 0)
			die("child write");
	}
	print_answer_and_exit(fd);
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: %s MODE SOCK APPROVED\n", argv[0]);
		return 2;
	}
	const char *mode = argv[1], *approved = argv[3];
	int parent_writes = strcmp(mode, "parent-writes") == 0;
	int fd = dial(argv[2], strcmp(mode, "child-writes-cloexec") == 0 ? DIAL_CLOEXEC : 0);
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
