/*
 * FUSE filesystem for auth/attack_fuse_test.go, speaking the raw /dev/fuse
 * protocol (no libfuse): it mounts at MOUNTPOINT a read-only directory
 * holding one executable, "prog", whose bytes are those of IMAGE.
 *
 *   fuse_image MOUNTPOINT IMAGE [OTHER]
 *
 * With OTHER (a file of IMAGE's size), prog lies: an open for execve gets
 * IMAGE through the page cache, any other open (the daemon's, through
 * /proc/PID/exe) gets OTHER's bytes with direct I/O, bypassing that cache.
 * Each open is reported as "open exec" or "open other".
 *
 * Run as root: it mounts with allow_other and default_permissions, so that
 * another uid may run prog and the kernel checks its mode. It prints
 * "mounted" once the mount is in place (the kernel's FUSE_INIT is then
 * queued, and answered by the loop) and serves until killed or unmounted.
 *
 * Only what lookup, stat, statfs, execve, mmap and reads need is answered;
 * everything else gets ENOSYS. A real attacker's filesystem would serve
 * execve one file and a hashing reader another; serving the same bytes is
 * enough to show which filesystem the daemon refuses to trust.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define ROOT_ID 1
#define PROG_ID 2
#define BUFSIZE (FUSE_MIN_READ_BUFFER + (1 << 20))
/* The kernel's __FMODE_EXEC, which it leaves in the open flags it passes
 * (fuse_open_in.flags) when execve opens the file. */
#define OPEN_FOR_EXEC 0x20

static const char *image, *other;
static size_t image_size;
static int dev;

static void die(const char *what) {
	perror(what);
	exit(3);
}

static void reply(uint64_t unique, int error, const void *data, size_t len) {
	struct fuse_out_header h = {.len = sizeof h + len, .error = -error, .unique = unique};
	struct iovec iov[2] = {{&h, sizeof h}, {(void *)data, len}};
	if (writev(dev, iov, len ? 2 : 1) < 0 && errno != ENOENT)
		die("write /dev/fuse");
}

static void fill_attr(uint64_t id, struct fuse_attr *a) {
	memset(a, 0, sizeof *a);
	a->ino = id;
	a->blksize = 4096;
	if (id == ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
		return;
	}
	a->mode = S_IFREG | 0555;
	a->nlink = 1;
	a->size = image_size;
	a->blocks = (image_size + 511) / 512;
}

static void do_init(uint64_t unique, const struct fuse_init_in *in) {
	struct fuse_init_out out = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = in->max_readahead,
		.max_write = 4096,
		.max_pages = 32,
	};
	if (in->major != FUSE_KERNEL_VERSION) {
		fprintf(stderr, "fuse: kernel protocol %u.%u\n", in->major, in->minor);
		reply(unique, EPROTO, NULL, 0);
		return;
	}
	if (in->minor < out.minor)
		out.minor = in->minor;
	reply(unique, 0, &out, sizeof out);
}

static void do_lookup(uint64_t unique, uint64_t parent, const char *name) {
	if (parent != ROOT_ID || strcmp(name, "prog") != 0) {
		reply(unique, ENOENT, NULL, 0);
		return;
	}
	struct fuse_entry_out out = {.nodeid = PROG_ID, .generation = 1, .entry_valid = 3600, .attr_valid = 3600};
	fill_attr(PROG_ID, &out.attr);
	reply(unique, 0, &out, sizeof out);
}

static void do_getattr(uint64_t unique, uint64_t id) {
	struct fuse_attr_out out = {.attr_valid = 3600};
	fill_attr(id, &out.attr);
	reply(unique, 0, &out, sizeof out);
}

static void do_open(uint64_t unique, uint64_t id, const struct fuse_open_in *in) {
	if (id != PROG_ID) {
		reply(unique, EISDIR, NULL, 0);
		return;
	}
	struct fuse_open_out out = {.fh = 1};
	int exec = (in->flags & OPEN_FOR_EXEC) != 0;
	if (other != NULL && !exec) {
		out.fh = 2;
		out.open_flags = FOPEN_DIRECT_IO;
	}
	printf("open %s\n", exec ? "exec" : "other");
	fflush(stdout);
	reply(unique, 0, &out, sizeof out);
}

static void do_read(uint64_t unique, const struct fuse_read_in *in) {
	const char *bytes = in->fh == 2 ? other : image;
	size_t off = in->offset < image_size ? in->offset : image_size;
	size_t n = image_size - off < in->size ? image_size - off : in->size;
	reply(unique, 0, bytes + off, n);
}

static void do_statfs(uint64_t unique) {
	struct fuse_statfs_out out = {0};
	out.st.blocks = (image_size + 4095) / 4096;
	out.st.files = 2;
	out.st.bsize = 4096;
	out.st.frsize = 4096;
	out.st.namelen = 255;
	reply(unique, 0, &out, sizeof out);
}

static void serve(void) {
	char *buf = malloc(BUFSIZE);
	if (buf == NULL)
		die("malloc");
	for (;;) {
		ssize_t n = read(dev, buf, BUFSIZE);
		if (n < 0 && (errno == EINTR || errno == ENOENT || errno == EAGAIN))
			continue;
		if (n < 0 && errno == ENODEV)
			exit(0); /* unmounted */
		if (n < (ssize_t)sizeof(struct fuse_in_header))
			die("read /dev/fuse");
		struct fuse_in_header *h = (struct fuse_in_header *)buf;
		void *arg = buf + sizeof *h;
		switch (h->opcode) {
		case FUSE_INIT:
			do_init(h->unique, arg);
			break;
		case FUSE_LOOKUP:
			do_lookup(h->unique, h->nodeid, arg);
			break;
		case FUSE_GETATTR:
			do_getattr(h->unique, h->nodeid);
			break;
		case FUSE_OPEN:
			do_open(h->unique, h->nodeid, arg);
			break;
		case FUSE_READ:
			do_read(h->unique, arg);
			break;
		case FUSE_STATFS:
			do_statfs(h->unique);
			break;
		case FUSE_FLUSH:
		case FUSE_RELEASE:
			reply(h->unique, 0, NULL, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break; /* no reply */
		default:
			reply(h->unique, ENOSYS, NULL, 0);
		}
	}
}

/* load maps path; its size must be size unless that is 0. */
static const char *load(const char *path, size_t *size) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	if (*size != 0 && (size_t)st.st_size != *size) {
		fprintf(stderr, "%s: size %lld, want %zu\n", path, (long long)st.st_size, *size);
		exit(3);
	}
	*size = st.st_size;
	const char *b = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (b == MAP_FAILED)
		die(path);
	close(fd);
	return b;
}

int main(int argc, char **argv) {
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: %s MOUNTPOINT IMAGE [OTHER]\n", argv[0]);
		return 2;
	}
	image = load(argv[2], &image_size);
	if (argc == 4)
		other = load(argv[3], &image_size);
	dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		printf("skip: open /dev/fuse: %s\n", strerror(errno));
		return 4;
	}
	char opts[128];
	snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions", dev);
	if (mount("keychain-auth-test", argv[1], "fuse", MS_NOSUID | MS_NODEV | MS_RDONLY, opts) < 0) {
		printf("skip: mount fuse: %s\n", strerror(errno));
		return 4;
	}
	printf("mounted\n");
	fflush(stdout);
	serve();
}
