/*
 * pacer: getpid() at a steady rate, for the loss benchmark of `python3 -m bench`.
 *
 * Usage: bt2c-pacer RATE MS
 *
 * Makes RATE getpid() calls per second for MS milliseconds, spread evenly over
 * 1 ms slots (each slot makes its share of calls, then sleeps until the next
 * slot starts; a slot that falls behind does not sleep).  RATE 0 means as fast
 * as possible.  Prints "made N ns T": the calls made and the time they took.
 *
 * Why not tests/workload: the loss benchmark needs a rate, not a count, and a
 * process name of its own (the benchmark script filters on comm "bt2c-pacer",
 * so the tests of other users of the machine do not add events).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long start, end, made = 0;
	long rate, ms, slot;

	if (argc != 3) {
		fprintf(stderr, "usage: bt2c-pacer RATE MS\n");
		return 2;
	}
	rate = atol(argv[1]);
	ms = atol(argv[2]);
	start = now_ns();
	end = start + ms * 1000000LL;
	if (rate <= 0) {
		while (now_ns() < end) {
			for (int i = 0; i < 1000; i++)
				syscall(SYS_getpid);
			made += 1000;
		}
	} else {
		long long total = (long long)rate * ms / 1000;

		for (slot = 1; slot <= ms; slot++) {
			long long target = total * slot / ms;
			long long next = start + slot * 1000000LL;
			struct timespec ts = { next / 1000000000LL, next % 1000000000LL };

			for (; made < target; made++)
				syscall(SYS_getpid);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}
	printf("made %lld ns %lld\n", made, now_ns() - start);
	return 0;
}
