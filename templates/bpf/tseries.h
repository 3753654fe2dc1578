/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tseries.h - the BPF side of tseries(), included into NAME.bpf.c after
 * helpers.h when the script uses it.  templates/runtime/tseries.c reads and
 * prints what it records; the layout (struct bt_tseries_bucket) is in NAME.h.
 */

/*
 * tseries(value, interval_ns, n, mode) at time `now` (TAI, bpftrace's clock): time
 * is cut into intervals of interval_ns since the epoch; interval number `epoch` lives in slot
 * epoch % n of this CPU's array, so the array holds the last n intervals.  A slot
 * still holding an older interval is reset first.  interval_ns, n, mode and
 * is_signed are constants: each call compiles to its own mode's few instructions.
 */
static __always_inline int bt_map_tseries(void *map, const void *key, __s64 value, __u64 now,
					  __u64 interval_ns, __u32 n, int mode, int is_signed)
{
	__u64 epoch = now / interval_ns;
	__u32 slot = epoch % n;
	struct bt_tseries_bucket *b;
	int inserted = 0;

	b = bpf_map_lookup_elem(map, key);
	if (!b) {
		inserted = bpf_map_update_elem(map, key, bt_zero, BPF_NOEXIST) == 0;
		b = bpf_map_lookup_elem(map, key);
		if (!b)
			return inserted;
	}
	asm volatile("" : "+r"(slot));	/* keep the bound check for the verifier */
	if (slot >= n)
		return inserted;
	b += slot;
	if (b->epoch != epoch) {
		b->epoch = epoch;
		b->value = 0;
		b->meta = 0;
	}
	switch (mode) {
	case BT_TSERIES_LAST:
		b->value = value;
		b->meta = now;
		break;
	case BT_TSERIES_AVG:
		b->value += value;
		b->meta++;
		break;
	case BT_TSERIES_SUM:
		b->value += value;
		break;
	default: {
		int above = is_signed ? value > b->value : (__u64)value > (__u64)b->value;
		int below = is_signed ? value < b->value : (__u64)value < (__u64)b->value;

		if (!b->meta || (mode == BT_TSERIES_MAX ? above : below))
			b->value = value;
		b->meta = 1;
		break;
	}
	}
	return inserted;
}
