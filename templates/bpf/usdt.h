/*
 * USDT arguments through libbpf's usdt.bpf.h: the loader's
 * bpf_program__attach_usdt() records where each probe site keeps each argument
 * (register, memory or constant) and bpf_usdt_arg() fetches it.
 */
#include <bpf/usdt.bpf.h>

/* argN of a usdt probe; 0 when the site has fewer arguments, as in bpftrace. */
static __always_inline __u64 bt_usdt_arg(void *ctx, int n)
{
	long v = 0;

	if (bpf_usdt_arg(ctx, n, &v) < 0)
		return 0;
	return v;
}
