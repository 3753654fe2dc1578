/*
 * bt2c BPF-side helpers: the operations bpftrace's language performs on maps,
 * strings and events, as small always-inline functions.
 */

/*
 * Wake the reader only once a batch is waiting: waking it for every record costs
 * more than the probe itself.  Only the record that takes the unread data across
 * a multiple of BT_WAKEUP_BYTES wakes it, not every record while that much is
 * waiting: a wake-up is an irq_work (a self-IPI, dear in a VM), and re-arming it
 * for each record while the reader drains a batch cost 200+ ns per event at
 * 400 000 events/s (bench: docs/benchmarks.md).  Every multiple counts, so a
 * crossing missed to a race with another CPU is caught at the next one, and the
 * loader also drains the ring after every poll timeout.
 */
#define BT_WAKEUP_BYTES (256 * 1024)	/* a quarter of the ring */

static __always_inline __u64 bt_wakeup_flags(__u64 size)
{
	__u64 avail = bpf_ringbuf_query(&bt_events, BPF_RB_AVAIL_DATA);
	__u64 rec = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;	/* as reserved */

	return avail / BT_WAKEUP_BYTES != (avail - rec) / BT_WAKEUP_BYTES ?
		       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/*
 * A record the full ring buffer had no room for.  Counted as bpftrace counts
 * failed reservations, on the failure path only (an atomic add to .bss that
 * the loader reads through the skeleton), so that losses are reported rather
 * than silent.
 */
static __always_inline void bt_lost_event(void)
{
	__sync_fetch_and_add(&bt_lost, 1);
}

/*
 * Ends every loop body.  Verifiers before Linux 6.4 accept a loop only when the
 * edge that closes it is a jump; clang may lay a loop out so that the body falls
 * through into its header (often right after a helper call), and this no-op
 * jump then becomes that edge.
 */
#define bt_loop_latch() asm volatile("goto +0")

/* Send a fixed-size control event (exit, print/clear/zero of a map); these
 * wake the reader at once. */
static __always_inline void bt_send(__u32 id, __s64 arg0, __s64 arg1, __s64 arg2)
{
	struct event_simple *e = bpf_ringbuf_reserve(&bt_events, sizeof(*e), 0);

	if (!e) {
		bt_lost_event();
		return;
	}
	e->hdr.id = id;
	e->arg[0] = arg0;
	e->arg[1] = arg1;
	e->arg[2] = arg2;
	bpf_ringbuf_submit(e, 0);
}

/* len()'s last-resort counter: one per counted map, in bt_len_counts (only
 * when a script uses len()); inert unless the loader selected that path. */
static __always_inline void bt_len_add(int len_idx, __s64 delta)
{
#ifdef BT_USES_LEN
	if (len_idx >= 0 && bt_len_use_counter) {
		__u32 idx = len_idx;
		__s64 *count = bpf_map_lookup_elem(&bt_len_counts, &idx);

		if (count)
			__sync_fetch_and_add(count, delta);
	}
#endif
}

static __always_inline void bt_len_inc(int len_idx)
{
	bt_len_add(len_idx, 1);
}

static __always_inline void bt_len_dec(int len_idx)
{
	bt_len_add(len_idx, -1);
}

static __always_inline __s64 bt_len_counter(int len_idx)
{
#ifdef BT_USES_LEN
	__u32 idx = len_idx;
	__s64 *count = bpf_map_lookup_elem(&bt_len_counts, &idx);

	return count ? *count : 0;
#else
	return 0;
#endif
}

/* Plain assignment; for a map counted by len() a new key bumps its counter. */
static __always_inline void bt_map_set(void *map, const void *key, const void *value, int len_idx)
{
#ifdef BT_USES_LEN
	if (len_idx >= 0 && bt_len_use_counter) {
		if (bpf_map_update_elem(map, key, value, BPF_NOEXIST) == 0) {
			bt_len_inc(len_idx);
			return;
		}
	}
#endif
	bpf_map_update_elem(map, key, value, BPF_ANY);
}

/* bt_map_incr() lost an insert race: add to the element another CPU created. */
static __always_inline void bt_map_incr_retry(void *map, const void *key, __s64 delta)
{
	__s64 *v = bpf_map_lookup_elem(map, key);

	if (v)
		*v += delta;
}

/* Value of a plain integer map element, 0 when absent. */
static __always_inline __s64 bt_map_read(void *map, const void *key)
{
	__s64 *v = bpf_map_lookup_elem(map, key);

	return v ? *v : 0;
}

/* Add delta to a plain integer map element and return the new value.
 * len_idx >= 0: the map is counted for len() (bt_len_inc on a new key). */
static __always_inline __s64 bt_map_incr(void *map, const void *key, __s64 delta, int len_idx)
{
	__s64 *v = bpf_map_lookup_elem(map, key);

	if (v) {
		*v += delta;
		return *v;
	}
	if (bpf_map_update_elem(map, key, &delta, BPF_NOEXIST) == 0)
		bt_len_inc(len_idx);
	else
		bt_map_incr_retry(map, key, delta);
	return delta;
}

/* count() and sum(): add to this CPU's copy of a per-CPU counter.
 * Returns 1 when the key was new (for len()'s counter). */
static __always_inline int bt_map_add(void *map, const void *key, __s64 delta)
{
	__s64 *v = bpf_map_lookup_elem(map, key);

	if (v) {
		*v += delta;
		return 0;
	}
	if (bpf_map_update_elem(map, key, &delta, BPF_NOEXIST) == 0)
		return 1;
	v = bpf_map_lookup_elem(map, key);	/* another CPU inserted it first */
	if (v)
		*v += delta;
	return 0;
}

/* Sum of all CPUs' copies of a count()/sum() element (Linux 5.19+). */
static __always_inline __s64 bt_map_read_percpu(void *map, const void *key)
{
	__s64 total = 0;

	for (__u32 cpu = 0; cpu < bt_ncpus && cpu < 1024; cpu++) {
		__s64 *v = bpf_map_lookup_percpu_elem(map, key, cpu);

		if (v)
			total += *v;
	}
	return total;
}

/* min() and max() on this CPU's copy; user space merges the CPUs. */
static __always_inline int bt_map_minmax(void *map, const void *key, __s64 value, int is_max)
{
	struct bt_minmax *v = bpf_map_lookup_elem(map, key);

	if (v) {
		if (!v->set || (is_max ? value > v->value : value < v->value)) {
			v->value = value;
			v->set = 1;
		}
		return 0;
	}
	struct bt_minmax init = { .value = value, .set = 1 };

	return bpf_map_update_elem(map, key, &init, BPF_NOEXIST) == 0;
}

static __always_inline int bt_map_min(void *map, const void *key, __s64 value)
{
	return bt_map_minmax(map, key, value, 0);
}

static __always_inline int bt_map_max(void *map, const void *key, __s64 value)
{
	return bt_map_minmax(map, key, value, 1);
}

/* avg() and stats(): running total and count on this CPU. */
static __always_inline int bt_map_avg(void *map, const void *key, __s64 value)
{
	struct bt_avg *v = bpf_map_lookup_elem(map, key);

	if (v) {
		v->total += value;
		v->count++;
		return 0;
	}
	struct bt_avg init = { .total = value, .count = 1 };

	return bpf_map_update_elem(map, key, &init, BPF_NOEXIST) == 0;
}

#ifdef BT_HAVE_HIST
/* hist() and lhist(): bump one bucket of this CPU's bucket array. */
static __always_inline int bt_map_bucket(void *map, const void *key, __u32 index, __u32 size)
{
	__u64 *buckets = bpf_map_lookup_elem(map, key);
	int inserted = 0;

	if (!buckets) {
		inserted = bpf_map_update_elem(map, key, bt_zero, BPF_NOEXIST) == 0;
		buckets = bpf_map_lookup_elem(map, key);
		if (!buckets)
			return inserted;
	}
	/* Hide index from the optimizer: clang may prove the bound and drop the
	 * check, but the verifier (which cannot follow the division) needs it. */
	asm volatile("" : "+r"(index));
	if (index < size / sizeof(__u64))
		buckets[index]++;
	return inserted;
}
#endif

/* Compare two strings up to n bytes or the first NUL: 1 when equal. */
static __always_inline int bt_streq(const char *a, const char *b, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		if (a[i] != b[i])
			return 0;
		if (a[i] == 0)
			return 1;
	}
	return 1;
}

/* strncmp(): 0 when the first n bytes (or up to a NUL) are equal. */
static __always_inline int bt_strncmp(const char *a, const char *b, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
		if (a[i] == 0)
			return 0;
	}
	return 0;
}

/*
 * strcontains(haystack, needle): 1 if needle occurs in haystack (an empty needle
 * always does). Both are NUL-terminated within their buffers of hn and nn bytes, or
 * fill them. Each position is compared without a branch (xor/or), and the search
 * stops only between blocks of 8 positions: the verifier keeps a pending branch for
 * each conditional jump it passes, and one per byte of a 1024-byte string is too many.
 */
static __always_inline int bt_strcontains(const char *h, __u32 hn, const char *n, __u32 nn)
{
	__u64 found = 0, ended = 0;
	__u32 len = 0;

	while (len < nn && n[len])
		len++;
	if (len == 0)
		return 1;
	for (__u32 i = 0; i + len <= hn; i += 8) {
#pragma unroll
		for (__u32 k = 0; k < 8; k++) {
			__u64 diff = 0;

			for (__u32 j = 0; j < len && i + k + j < hn; j++)
				diff |= (__u8)(h[i + k + j] ^ n[j]);
			if (i + k + len > hn)
				diff = 1;
			/* (x - 1) >> 63 is 1 when x is 0: no jump */
			ended |= ((__u64)(__u8)h[i + k < hn ? i + k : hn - 1] - 1) >> 63;
			found |= ((diff - 1) >> 63) & (ended ^ 1);
		}
		if (found | ended)
			break;
	}
	return found;
}

/*
 * strcontains(haystack, needle) with a needle known only at run time: the
 * unrolled search above would make the verifier walk haystack x needle positions
 * (a million for two 1 KiB strings), so each haystack position is a bpf_loop()
 * iteration (Linux 5.17) and the verifier checks one position's compare.  The
 * callback is made per pair of buffer sizes (BT_STRSTR_DEFINE), so that its reads
 * are bounded by constants the verifier knows.
 */
struct bt_strstr_ctx {
	const char *h;
	const char *n;
	int found;
};

/* The needle is compared up to its NUL in the callback: a length measured by the
 * caller would be a different known value on each path, and the verifier would check
 * the callback once for every one of them. */
#define BT_STRSTR_DEFINE(HN, NN)						\
static long bt_strstr_at_##HN##_##NN(__u32 i, void *data)			\
{										\
	struct bt_strstr_ctx *c = data;						\
	const char *h = c->h, *n = c->n;					\
										\
	if (i >= (HN) || h[i] == 0)						\
		return 1;	/* past the haystack's end: stop */		\
	for (__u32 j = 0; j < (NN); j++) {					\
		if (n[j] == 0)							\
			break;		/* the whole needle matched */		\
		if (i + j >= (HN) || h[i + j] != n[j])				\
			return 0;	/* no match here: next position */	\
	}									\
	c->found = 1;								\
	return 1;								\
}

static __always_inline int bt_strcontains_loop(const char *h, __u32 hn, const char *n,
					       void *at)
{
	struct bt_strstr_ctx c = { .h = h, .n = n };

	if (n[0] == 0)
		return 1;	/* an empty needle is always there */
	bpf_loop(hn, at, &c, 0);
	return c.found;
}

/*
 * Clear n bytes of scratch memory (8-byte aligned). clang expands only small memsets
 * inline; n is a constant, so these loops unroll into plain stores (volatile: else
 * clang turns them back into a memset call, which BPF has not).
 */
static __always_inline void bt_clear(void *p, __u32 n)
{
	volatile __u64 *w = p;
	volatile char *c = p;

#pragma unroll
	for (__u32 i = 0; i < n / 8; i++)
		w[i] = 0;
#pragma unroll
	for (__u32 i = n / 8 * 8; i < n; i++)
		c[i] = 0;
}

/*
 * str(ptr): up to size bytes, as bpftrace keeps max_strlen characters. A string that
 * fills the buffer gets its last character in place of the NUL; the printer shows
 * such a string with bpftrace's ".." trailer.
 */
static __always_inline long bt_str(char *dst, __u32 size, const void *src, int user)
{
	long n = user ? bpf_probe_read_user_str(dst, size, src)
		      : bpf_probe_read_kernel_str(dst, size, src);

	if (n == size) {
		if (user)
			bpf_probe_read_user(dst + size - 1, 1, src + size - 1);
		else
			bpf_probe_read_kernel(dst + size - 1, 1, src + size - 1);
	}
	return n;
}

/* str(ptr, n): read at most limit-1 bytes plus NUL from kernel or user memory. */
static __always_inline long bt_read_str(char *dst, __u32 limit, const void *src, int user)
{
	if (user)
		return bpf_probe_read_user_str(dst, limit, src);
	return bpf_probe_read_kernel_str(dst, limit, src);
}

/* buf(ptr, n): a __u32 count, then at most cap bytes of user or kernel memory
 * (maps.c's BT_KIND_BUF layout).  The bound on len is what the verifier checks. */
static __always_inline void bt_read_buf(__u8 *dst, __u32 cap, __u64 n, const void *src, int user)
{
	__u32 len = n < cap ? n : cap;

	*(__u32 *)dst = len;
	if (user)
		bpf_probe_read_user(dst + 8, len, src);
	else
		bpf_probe_read_kernel(dst + 8, len, src);
}

/* str(s, n) on a string value: its first n bytes. */
static __always_inline void bt_str_prefix(char *dst, const char *src, __s64 n, __u32 size)
{
	for (__u32 i = 0; i + 1 < size; i++) {
		if (i >= n || src[i] == 0)
			break;
		dst[i] = src[i];
	}
}

/* str($N + offset, n): copy a positional parameter out of read-only data (a row of
 * cap bytes, a power of two, for the mask the verifier bounds the read by).  The
 * reads are volatile so the compiler cannot fold in the pre-load (empty) value. */
static __always_inline void bt_param_copy(char *dst, const volatile char *src, __s64 offset,
					  __s64 n, __u32 size, __u32 cap)
{
	for (__u32 i = 0; i + 1 < size; i++) {
		if (i >= n || offset + i >= cap || offset < 0)
			break;
		dst[i] = src[(offset + i) & (cap - 1)];
		if (!dst[i])
			break;
	}
}

/* Integer division and modulo with C's rounding, and 0 for a zero divisor.
 * Signed division is done on magnitudes: BPF has no signed divide before ISA v4. */
static __always_inline __u64 bt_udiv(__u64 a, __u64 b)
{
	return b ? a / b : 0;
}

static __always_inline __u64 bt_umod(__u64 a, __u64 b)
{
	return b ? a % b : 0;
}

static __always_inline __s64 bt_sdiv(__s64 a, __s64 b)
{
	__u64 q = bt_udiv(a < 0 ? -(__u64)a : a, b < 0 ? -(__u64)b : b);

	return (a < 0) != (b < 0) ? -(__s64)q : (__s64)q;
}

static __always_inline __s64 bt_smod(__s64 a, __s64 b)
{
	__u64 r = bt_umod(a < 0 ? -(__u64)a : a, b < 0 ? -(__u64)b : b);

	return a < 0 ? -(__s64)r : (__s64)r;
}
