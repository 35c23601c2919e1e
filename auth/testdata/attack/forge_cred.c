/*
 * Attacker for auth/attack_userns_test.go: forged SCM_CREDENTIALS from inside
 * an unprivileged user+pid namespace.
 *
 *   forge_cred MODE SOCK APPROVED
 *
 * As an ordinary user it creates a user namespace (where it is root) and a
 * pid namespace owned by it. The first process there (pid 1, "the
 * connector") connects to the daemon at SOCK, forks a holder that keeps the
 * connection, and execs APPROVED. Once the connector runs APPROVED, the
 * holder writes the request:
 *
 * MODE
 *   forge   with SCM_CREDENTIALS naming pid 1 (the connector), which the
 *           kernel allows to a process with CAP_SYS_ADMIN over its pid
 *           namespace; the daemon receives the connector's pid
 *   honest  without credentials of its own (the kernel attaches the
 *           holder's: the exec-after-connect attack, for comparison)
 *
 * Output: "skip: <why>" when the kernel refuses the namespaces; "connected"
 * once connected; "sent" once the request is written; "answer: <line>" for
 * the daemon's reply.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "attack.h"

static void send_request(int fd, pid_t as, int forge) {
	struct iovec iov = {.iov_base = (void *)request, .iov_len = sizeof request - 1};
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} u;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (forge) {
		memset(&u, 0, sizeof u);
		m.msg_control = u.buf;
		m.msg_controllen = sizeof u.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
		struct ucred cred = {.pid = as, .uid = 0, .gid = 0};
		memcpy(CMSG_DATA(c), &cred, sizeof cred);
	}
	if (sendmsg(fd, &m, 0) < 0)
		die("sendmsg");
	printf("sent\n");
	fflush(stdout);
}

static void holder(int fd, const char *procdir, const char *approved, int forge) {
	wait_exec_at(procdir, procdir, approved);
	send_request(fd, 1, forge);
	print_answer_and_exit(fd);
}

/* connector runs as pid 1 of the new pid namespace. */
static void connector(const char *sock, const char *approved, int forge) {
	/* /proc is still the outer one: /proc/self names this process by its
	 * pid there, which the holder needs to watch it. */
	char self[32], procdir[64];
	ssize_t n = readlink("/proc/self", self, sizeof self - 1);
	if (n <= 0)
		die("readlink /proc/self");
	self[n] = 0;
	snprintf(procdir, sizeof procdir, "/proc/%s", self);
	int fd = dial(sock, 0);
	printf("connected\n");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		holder(fd, procdir, approved, forge);
	execl(approved, "approved", "30", (char *)NULL);
	die("exec");
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: %s forge|honest SOCK APPROVED\n", argv[0]);
		return 2;
	}
	int forge = strcmp(argv[1], "forge") == 0;
	enter_userns(CLONE_NEWPID, "unshare(CLONE_NEWUSER|CLONE_NEWPID)");
	pid_t pid = fork();
	if (pid < 0)
		skip("fork into the new pid namespace");
	if (pid == 0)
		connector(argv[2], argv[3], forge);
	int status;
	waitpid(pid, &status, 0);
	return 0;
}
