/*
 * Client for TestPinZombieLeader (auth/pin_test.go): a process whose
 * address space outlives it. It connects to $AUTH_TEST_SOCK and makes two
 * requests, "one" and "two", waiting for a byte after each (the daemon
 * keeps its identity and pins its address space). Then it starts a sharer:
 * a process made with clone(CLONE_VM) without CLONE_THREAD, so the address
 * space stays in use after this process exits. It writes "three" and exits
 * at once; nobody reaps it, so it stays a zombie while the sharer runs.
 * The sharer holds its copy of the connection and exits when the daemon
 * closes it.
 */
#define _GNU_SOURCE
#include "attack.h"
#include <signal.h>
#include <sys/syscall.h>

static int conn;

/* sharer runs in the same address space as main: raw system calls only. */
static int sharer(void *arg) {
	(void)arg;
	char b;
	while (syscall(SYS_read, conn, &b, 1) > 0)
		;
	syscall(SYS_exit, 0);
	return 0;
}

static void ask(const char *line) {
	char b;
	if (write(conn, line, strlen(line)) != (ssize_t)strlen(line))
		die("write");
	if (read(conn, &b, 1) != 1)
		die("read answer");
}

int main(void) {
	const char *sock = getenv("AUTH_TEST_SOCK");
	if (sock == NULL)
		die("AUTH_TEST_SOCK");
	conn = dial(sock, 0);
	ask("one\n");
	ask("two\n");
	size_t size = 256 << 10;
	char *stack = malloc(size);
	if (stack == NULL)
		die("malloc");
	if (clone(sharer, stack + size, CLONE_VM | SIGCHLD, NULL) < 0)
		die("clone");
	if (write(conn, "three\n", 6) != 6)
		die("write three");
	_exit(0);
}
