/*
 * spawn: start one tracer for bench/run.py and report what the harness cannot see itself.
 *
 * Usage: spawn RESULT [-r ROOT] [-d DIR] -- PROG [ARGS...]
 *
 * Forks; the child optionally enters a chroot (ROOT, then chdir DIR), reads
 * CLOCK_MONOTONIC and execs PROG.  The parent waits for it with wait4() and
 * appends to RESULT, one "key value" per line:
 *
 *   pid N          the tracer's pid (written right after fork)
 *   exec_ns T      CLOCK_MONOTONIC just before execve(), in the child
 *   exit_ns T      CLOCK_MONOTONIC when wait4() returned
 *   maxrss_kb N    the tracer's ru_maxrss
 *   cpu_us N       its user + system CPU time
 *   status N       its exit code, 128 + signal number if killed
 *
 * Why a separate program: ru_maxrss of a process forked by Python starts at
 * the Python parent's resident size (the forked copy's high-water mark is
 * carried across execve), which would hide a tool of a few MiB entirely.  A
 * tiny exec'ed launcher that forks again gives the tracer a clean count, as
 * /usr/bin/time does.  Taking the timestamp in the child right before
 * execve() also keeps the harness's own fork and this launcher out of the
 * start-up times, and lets bpftrace be exec'ed inside its chroot exactly like
 * bt2c's tools are exec'ed outside it.  Python's time.monotonic_ns() reads
 * the same clock.
 *
 * Exit status: the tracer's (as in "status"); 127 when this launcher fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: spawn RESULT [-r ROOT] [-d DIR] -- PROG [ARGS...]\n");
	exit(127);
}

int main(int argc, char **argv)
{
	const char *result, *root = NULL, *dir = NULL;
	struct rusage ru;
	int fd, i, status;
	pid_t pid;

	if (argc < 4)
		usage();
	result = argv[1];
	for (i = 2; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-r") && i + 1 < argc)
			root = argv[++i];
		else if (!strcmp(argv[i], "-d") && i + 1 < argc)
			dir = argv[++i];
		else
			usage();
	}
	if (i + 1 >= argc)
		usage();
	argv += i + 1;

	/* O_APPEND: the child's and the parent's lines never overwrite each other. */
	fd = open(result, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror("spawn: RESULT");
		return 127;
	}
	pid = fork();
	if (pid < 0) {
		perror("spawn: fork");
		return 127;
	}
	if (pid == 0) {
		if (root && chroot(root)) {
			perror("spawn: chroot");
			_exit(127);
		}
		if (dir && chdir(dir)) {
			perror("spawn: chdir");
			_exit(127);
		}
		dprintf(fd, "exec_ns %lld\n", now_ns());
		execv(argv[0], argv);
		fprintf(stderr, "spawn: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	dprintf(fd, "pid %d\n", (int)pid);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("spawn: wait4");
			return 127;
		}
	}
	dprintf(fd, "exit_ns %lld\n", now_ns());
	dprintf(fd, "maxrss_kb %ld\n", ru.ru_maxrss);
	dprintf(fd, "cpu_us %lld\n",
		(long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
			ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	dprintf(fd, "status %d\n", status);
	return status;
}
