/*
 * workload: a tiny, deterministic syscall generator for the bt2c end-to-end tests.
 *
 * Usage: workload SUBCOMMAND ARGS... [SUBCOMMAND ARGS...]...
 *
 *   openat N [PATH]   N x openat(AT_FDCWD, PATH, O_RDONLY); PATH defaults to /dev/null.
 *                     The fds are NOT closed, so they are numbered 3, 4, 5, ...
 *                     A missing PATH gives ret == -2 (ENOENT) every time.
 *   open N [PATH]     the same with the legacy open(PATH, O_RDONLY) syscall, where the
 *                     architecture has one (x86_64 does); elsewhere a usage error.
 *   write N [SIZE]    N x write(fd, buf, SIZE) to /dev/null; SIZE defaults to 10.
 *   read N [SIZE]     N x read(fd, buf, SIZE) from /dev/zero; SIZE defaults to 10.
 *   getpid N          N x syscall(SYS_getpid).
 *   close N           N x close(1000): an unused fd, so every call returns -9 (EBADF).
 *   nanosleep N       N x nanosleep(1 ms).
 *   sleep MS          one nanosleep of MS milliseconds (keeps the process alive).
 *   dup N             N x dup(0 or the /dev/null fd), closed again with close().
 *   record N          N x write(fd, &rec, sizeof(rec)) to /dev/null of a known
 *                     struct workload_record (below), record k (from 1) holding
 *                     id = k, kind = k % 8, level = 31 - k % 32, delta = -1000 * k,
 *                     stamp = 0x1122334455667788 + k, name = "rec<k>", flags = 0xabc,
 *                     prio = k % 16: scripts read it from user memory with a
 *                     struct definition of their own.
 *   spin MS           burn MS milliseconds of this process's CPU time (for profile and
 *                     cpu-clock probes); it reads its CPU clock (a syscall) now and then.
 *   fork N            the rest of the chain runs in N processes at once (N-1 forked
 *                     children plus this one, which waits for them at the end), so
 *                     map updates race on several CPUs.
 *
 * Why: the tests compare the transpiled tool's stdout with bpftrace's byte for
 * byte, so every counted syscall must happen an exact number of times.  All
 * calls go through syscall(2) so libc cannot add, merge or substitute calls.
 * The /dev/null and /dev/zero fds used by write and read are opened lazily,
 * the first time write or read is used, each with one openat(2) of that path;
 * scripts that count openat therefore filter on the file name or run the
 * workload without write/read.  Nothing is printed on stdout (it is the
 * tracer's stdout too); usage errors go to stderr with exit status 2.
 * Static startup (execve, brk, arch_prctl, ...) is outside these subcommands.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536

static char buf[MAX_SIZE];

/* The layout the e2e cases declare in their scripts (x86-64/arm64 SysV): 32 bytes. */
struct workload_record {
	int id;			/* 0 */
	unsigned char kind:3;	/* 4, bits 0-2 */
	unsigned char level:5;	/* 4, bits 3-7 */
	short delta;		/* 6 */
	long stamp;		/* 8 */
	char name[8];		/* 16 */
	unsigned int flags:12;	/* 24, bits 0-11 */
	unsigned int prio:4;	/* 24, bits 12-15 */
};
static long null_fd = -1;
static long zero_fd = -1;

static void usage(const char *msg)
{
	fprintf(stderr, "workload: %s\n", msg);
	fprintf(stderr, "usage: workload {openat N [PATH] | open N [PATH] | write N [SIZE] | read N [SIZE] |"
			" getpid N | close N | nanosleep N | sleep MS | dup N | record N | spin MS}...\n");
	exit(2);
}

static long parse_num(const char *s, const char *what)
{
	char *end;
	long v;

	if (!s)
		usage(what);
	v = strtol(s, &end, 10);
	if (*end || v < 0)
		usage(what);
	return v;
}

static int is_number(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static long open_dev(const char *path, int flags)
{
	long fd = syscall(SYS_openat, AT_FDCWD, path, flags);

	if (fd < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };

	syscall(SYS_nanosleep, &ts, NULL);
}

/* Busy-loop until ms milliseconds of CPU time are used, however busy the machine is. */
static void spin_ms(long ms)
{
	struct timespec ts;
	volatile unsigned long sink = 0;
	long long end, now;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	end = ts.tv_sec * 1000000000LL + ts.tv_nsec + ms * 1000000LL;
	do {
		for (int k = 0; k < 1000000; k++)
			sink += k;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
		now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
	} while (now < end);
}

int main(int argc, char **argv)
{
	int i = 1, children = 0;

	if (argc < 2)
		usage("no subcommand");
	while (i < argc) {
		const char *cmd = argv[i++];
		long n = parse_num(i < argc ? argv[i] : NULL, "missing count");
		long k;

		i++;
		if (!strcmp(cmd, "openat") || !strcmp(cmd, "open")) {
			const char *path = "/dev/null";
			int legacy = cmd[4] == '\0';

			if (i < argc && argv[i][0] == '/')
				path = argv[i++];
#ifndef SYS_open
			if (legacy)
				usage("no open syscall on this architecture");
#endif
			for (k = 0; k < n; k++) {
#ifdef SYS_open
				if (legacy) {
					syscall(SYS_open, path, O_RDONLY);
					continue;
				}
#endif
				syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
			}
		} else if (!strcmp(cmd, "write") || !strcmp(cmd, "read")) {
			long size = 10;
			int is_write = cmd[0] == 'w';

			if (i < argc && is_number(argv[i]))
				size = parse_num(argv[i++], "bad size");
			if (size > MAX_SIZE)
				usage("size too large");
			if (is_write && null_fd < 0)
				null_fd = open_dev("/dev/null", O_WRONLY);
			if (!is_write && zero_fd < 0)
				zero_fd = open_dev("/dev/zero", O_RDONLY);
			for (k = 0; k < n; k++)
				syscall(is_write ? SYS_write : SYS_read,
					is_write ? null_fd : zero_fd, buf, size);
		} else if (!strcmp(cmd, "getpid")) {
			for (k = 0; k < n; k++)
				syscall(SYS_getpid);
		} else if (!strcmp(cmd, "close")) {
			for (k = 0; k < n; k++)
				syscall(SYS_close, 1000);
		} else if (!strcmp(cmd, "nanosleep")) {
			for (k = 0; k < n; k++)
				sleep_ns(1000000L);
		} else if (!strcmp(cmd, "sleep")) {
			sleep_ns(n * 1000000L);
		} else if (!strcmp(cmd, "fork")) {
			for (k = 1; k < n; k++) {
				pid_t pid = fork();

				if (pid == 0) {
					children = 0;
					break;
				}
				if (pid > 0)
					children++;
			}
		} else if (!strcmp(cmd, "record")) {
			struct workload_record rec;

			if (null_fd < 0)
				null_fd = open_dev("/dev/null", O_WRONLY);
			for (k = 1; k <= n; k++) {
				memset(&rec, 0, sizeof(rec));
				rec.id = (int)k;
				rec.kind = k % 8;
				rec.level = 31 - k % 32;
				rec.delta = (short)(-1000 * k);
				rec.stamp = 0x1122334455667788L + k;
				snprintf(rec.name, sizeof(rec.name), "rec%d", (int)(k % 1000));
				rec.flags = 0xabc;
				rec.prio = k % 16;
				syscall(SYS_write, null_fd, &rec, sizeof(rec));
			}
		} else if (!strcmp(cmd, "spin")) {
			spin_ms(n);
		} else if (!strcmp(cmd, "dup")) {
			for (k = 0; k < n; k++) {
				long fd = syscall(SYS_dup, 0);

				if (fd >= 0)
					syscall(SYS_close, fd);
			}
		} else {
			usage("unknown subcommand");
		}
	}
	while (children-- > 0)
		wait(NULL);
	return 0;
}
