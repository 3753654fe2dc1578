/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * aggregates.h - BPF-side helpers for bpftrace-style histograms.
 *
 * Included verbatim into every generated NAME.bpf.c, after vmlinux.h and
 * bpf_helpers.h.  The user-space printer (templates/runtime/maps.c) reads
 * the bucket arrays filled with these indexes, so the two must agree.
 *
 * A hist()/lhist() map value is a plain array `__u64 buckets[NBUCKETS]`
 * (one array per CPU for per-CPU maps); the program does
 *
 *     __u32 idx = bt_hist_index(v, BITS);
 *     if (idx < NBUCKETS)              // keeps the verifier happy
 *             __sync_fetch_and_add(&val->buckets[idx], 1);
 *
 * The index is always < NBUCKETS mathematically, but the explicit bounds
 * check lets the verifier prove the array access.
 *
 * ---------------------------------------------------------------------------
 * hist(v, bits)   bits = 0..5 (bpftrace's default is 0),  N = 1 << bits
 * ---------------------------------------------------------------------------
 *   NBUCKETS = ((64 - bits) << bits) + 1          (65 for bits = 0)
 *
 *   index 0                     v < 0
 *   index v + 1                 0 <= v < 2N        (one value per bucket)
 *   index (p - bits + 1) * N + x + 1
 *                               v >= N, where p = floor(log2(v)) and x are
 *                               the `bits` bits right below the leading 1
 *                               ((v >> (p - bits)) & (N - 1)); for
 *                               N <= v < 2N this equals v + 1 as well.
 *
 *   Each power of two [2^p, 2^(p+1)) with p > bits is thus split into N
 *   buckets of width 2^(p - bits).  The value is a signed 64-bit number, so
 *   the largest index is (64 - bits) << bits (for v = 2^63 - 1); unsigned
 *   values >= 2^63 land in bucket 0 like negative ones, as in bpftrace.
 *
 * ---------------------------------------------------------------------------
 * lhist(v, min, max, step)     (bpftrace requires 0 <= min < max, step > 0)
 * ---------------------------------------------------------------------------
 *   NBUCKETS = (max - min) / step + 2             (integer division)
 *
 *   index 0                     v < min
 *   index (v - min) / step + 1  min <= v <= max
 *   index (max - min) / step + 1   v > max
 *
 *   So bucket i (1 <= i) covers [min + (i-1)*step, min + i*step); the last
 *   bucket additionally collects everything above max.  bpftrace rejects
 *   scripts where (max - min) / step > 1000.
 */
#ifndef BT2C_AGGREGATES_H
#define BT2C_AGGREGATES_H

/* Length of the buckets array of a hist(v, bits) value. */
#define BT_HIST_NBUCKETS(bits) ((((64 - (bits))) << (bits)) + 1)

/* Length of the buckets array of an lhist(v, min, max, step) value. */
#define BT_LHIST_NBUCKETS(min, max, step) ((((max) - (min)) / (step)) + 2)

/*
 * Bucket index of v in a hist(v, bits) value, see the table above.
 * Straight-line code (a 6-step binary search for the leading one bit), so
 * there is no loop for the verifier to bound.
 */
static __always_inline __u32 bt_hist_index(__s64 v, int bits)
{
	__u64 mask = (1ULL << bits) - 1;
	__u64 n, x;
	__u32 p = 0;

	if (v < 0)
		return 0;
	n = (__u64)v;
	if (n <= mask)
		return (__u32)n + 1;

	/* p = floor(log2(n)) */
	if (n >= (1ULL << 32)) {
		n >>= 32;
		p += 32;
	}
	if (n >= (1ULL << 16)) {
		n >>= 16;
		p += 16;
	}
	if (n >= (1ULL << 8)) {
		n >>= 8;
		p += 8;
	}
	if (n >= (1ULL << 4)) {
		n >>= 4;
		p += 4;
	}
	if (n >= (1ULL << 2)) {
		n >>= 2;
		p += 2;
	}
	if (n >= (1ULL << 1))
		p += 1;

	/* n > mask means p >= bits: take the `bits` bits after the leading 1 */
	p -= (__u32)bits;
	x = ((__u64)v >> p) & mask;
	return ((p + 1) << bits) + (__u32)x + 1;
}

/*
 * Bucket index of v in an lhist(v, min, max, step) value, see the table
 * above.  Uses unsigned 64-bit division like bpftrace (and because signed
 * division needs a newer BPF ISA).
 */
static __always_inline __u32 bt_lhist_index(__s64 v, __s64 min, __s64 max,
					    __s64 step)
{
	if (v < min)
		return 0;
	if (v > max)
		return (__u32)((__u64)(max - min) / (__u64)step) + 1;
	return (__u32)((__u64)(v - min) / (__u64)step) + 1;
}

#endif /* BT2C_AGGREGATES_H */
