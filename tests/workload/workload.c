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
 *   connect N         N x (socket(AF_INET, SOCK_STREAM), connect() to 127.0.0.1 port 1,
 *                     close()), then the same N times for [::1] port 1; nothing listens
 *                     there, so each connect() fails with ECONNREFUSED (for ntop() of
 *                     sys_enter_connect's sockaddr and sock:inet_sock_set_state).
 *   spin MS           burn MS milliseconds of this process's CPU time (for profile and
 *                     cpu-clock probes); it reads its CPU clock (a syscall) now and then.
 *   spin2 MS          spin in two threads at once until the process has used MS ms of CPU
 *                     (both CPUs of a two-CPU machine busy for about MS/2 ms of wall time).
 *   exec ARGS...      (first only) execv() this program again as "workload ARGS..."
 *                     (a known argv for join(); the new image runs ARGS as its chain).
 *   landlock N        N x landlock_add_rule(-1, k % 3, NULL, 0) for k = 0..N-1: rule types
 *                     0 (no enumerator), LANDLOCK_RULE_PATH_BENEATH, LANDLOCK_RULE_NET_PORT,
 *                     each failing with EBADF (for enum-typed tracepoint args).
 *   sigusr1 N         N x kill(getppid(), SIGUSR1), each followed by a 300 ms sleep: the
 *                     tracer that ran this workload under -c gets N separate signals
 *                     (one kind of signal pending at once coalesces) for self:signal probes.
 *   fork N            the rest of the chain runs in N processes at once (N-1 forked
 *                     children plus this one, which waits for them at the end), so
 *                     map updates race on several CPUs.
 *   thread N          N x syscall(SYS_getpid) from a second thread of this process,
 *                     which is then joined (tid != pid there; the leader is main's).
 *
 * User-space probe targets (uprobe/uretprobe/usdt tests): functions that are
 * never inlined and always kept, called an exact number of times.
 *   add N             N x wl_add(k, 10) for k = 0..N-1; returns k + 10.
 *   line N            N x wl_readline(k): returns a pointer to "line K" (like
 *                     readline(3), for str(retval)).
 *   greet N NAME      N x wl_greet(NAME, k); returns strlen(NAME) + k.
 *   many N            N x wl_many(1, 2, 3, 4, 5, 6, 7, 8): on x86_64 the last two
 *                     arguments are on the stack (sarg0, sarg1).
 *   work N [MS]       N x wl_work(MS): one nanosleep of MS ms (default 5) inside.
 *   usdt N            N x the USDT probes workload:tick(k, "tick K") and
 *                     workload:tock(k * 2), and once workload_aux:done(N).
 *                     The probes come from <sys/sdt.h> (Debian: systemtap-sdt-dev);
 *                     without that header they are absent.
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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#endif
#endif
#ifndef DTRACE_PROBE2
#define DTRACE_PROBE1(p, n, a)
#define DTRACE_PROBE2(p, n, a, b)
#endif

#define MAX_SIZE 65536
#define WL_FN __attribute__((noinline, used))

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
			" getpid N | close N | nanosleep N | sleep MS | dup N | fork N | thread N | record N |"
			" add N |"
			" line N | greet N NAME | many N | work N [MS] | usdt N | connect N | spin MS | spin2 MS | sigusr1 N | landlock N}...\n");
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

/* A compiler barrier on the arguments: keeps each call and its values real. */
#define WL_KEEP(x) __asm__ volatile("" : : "r"(x) : "memory")

WL_FN long wl_add(long a, long b)
{
	WL_KEEP(a);
	return a + b;
}

static char wl_line_buf[32];

WL_FN char *wl_readline(long k)
{
	snprintf(wl_line_buf, sizeof(wl_line_buf), "line %ld", k);
	WL_KEEP(wl_line_buf);
	return wl_line_buf;
}

WL_FN int wl_greet(const char *name, int k)
{
	WL_KEEP(name);
	return (int)strlen(name) + k;
}

WL_FN long wl_many(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8)
{
	WL_KEEP(a1);
	return a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8;
}

WL_FN void wl_work(long ms)
{
	sleep_ns(ms * 1000000L);
}

/* thread N: the second thread's work, N getpid calls. */
static void *thread_spin(void *arg)
{
	spin_ms((long)arg);
	return NULL;
}

static void *thread_getpid(void *arg)
{
	for (long k = 0; k < (long)arg; k++)
		syscall(SYS_getpid);
	return NULL;
}

/*
 * "workload exec ARGS...": run again as "workload ARGS...".  Done before main(),
 * in a constructor (glibc passes it the arguments), so that main's code, and so
 * what the user-stack tests unwind through, stays as it was.
 */
__attribute__((constructor)) static void exec_first(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc > 1 && !strcmp(argv[1], "exec")) {
		argv[1] = "workload";
		execv("/proc/self/exe", &argv[1]);
		perror("execv");
		_exit(1);
	}
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
		} else if (!strcmp(cmd, "connect")) {
			struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(1) };
			struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(1) };

			sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			sin6.sin6_addr = in6addr_loopback;
			for (k = 0; k < 2 * n; k++) {
				int v6 = k >= n;
				long fd = syscall(SYS_socket, v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);

				if (fd < 0)
					continue;
				if (v6)
					syscall(SYS_connect, fd, &sin6, sizeof(sin6));
				else
					syscall(SYS_connect, fd, &sin, sizeof(sin));
				syscall(SYS_close, fd);
			}
		} else if (!strcmp(cmd, "spin")) {
			spin_ms(n);
		} else if (!strcmp(cmd, "spin2")) {
			pthread_t t;

			if (pthread_create(&t, NULL, thread_spin, (void *)n) != 0)
				usage("cannot create a thread");
			spin_ms(n);
			pthread_join(t, NULL);
		} else if (!strcmp(cmd, "add")) {
			for (k = 0; k < n; k++)
				wl_add(k, 10);
		} else if (!strcmp(cmd, "line")) {
			for (k = 0; k < n; k++)
				wl_readline(k);
		} else if (!strcmp(cmd, "greet")) {
			const char *name = i < argc ? argv[i++] : NULL;

			if (!name)
				usage("greet needs a NAME");
			for (k = 0; k < n; k++)
				wl_greet(name, (int)k);
		} else if (!strcmp(cmd, "many")) {
			for (k = 0; k < n; k++)
				wl_many(1, 2, 3, 4, 5, 6, 7, 8);
		} else if (!strcmp(cmd, "work")) {
			long ms = 5;

			if (i < argc && is_number(argv[i]))
				ms = parse_num(argv[i++], "bad duration");
			for (k = 0; k < n; k++)
				wl_work(ms);
		} else if (!strcmp(cmd, "usdt")) {
			char label[32];

			for (k = 0; k < n; k++) {
				snprintf(label, sizeof(label), "tick %ld", k);
				DTRACE_PROBE2(workload, tick, k, label);
				DTRACE_PROBE1(workload, tock, k * 2);
			}
			DTRACE_PROBE1(workload_aux, done, n);
		} else if (!strcmp(cmd, "landlock")) {
			for (k = 0; k < n; k++)
				syscall(SYS_landlock_add_rule, -1, k % 3, NULL, 0);
		} else if (!strcmp(cmd, "sigusr1")) {
			for (k = 0; k < n; k++) {
				syscall(SYS_kill, getppid(), SIGUSR1);
				sleep_ns(300000000L);
			}
		} else if (!strcmp(cmd, "thread")) {
			pthread_t t;

			if (pthread_create(&t, NULL, thread_getpid, (void *)n) != 0)
				usage("cannot create a thread");
			pthread_join(t, NULL);
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
