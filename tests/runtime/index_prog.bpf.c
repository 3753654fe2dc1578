// SPDX-License-Identifier: GPL-2.0
/*
 * index_prog.bpf.c - aggregates.h built for BPF, for tests/test_runtime.py.
 *
 * The driver ("kidx") loads it, which runs the verifier over the helpers
 * (including the documented bounds-checked bucket update), and calls it with
 * BPF_PROG_TEST_RUN: the syscall program writes the bucket indexes of a->v
 * back into its context, to be compared with the user-space build.
 * Generated code includes vmlinux.h first; linux/types.h stands in here.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "aggregates.h"

char LICENSE[] SEC("license") = "GPL";

struct args {
	__s64 v, min, max, step;
	__u32 hist[6];
	__u32 lhist;
	__u32 pad;
};

#define NB5 BT_HIST_NBUCKETS(5)
struct hval { __u64 buckets[NB5]; };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hval);
} hmap SEC(".maps");

SEC("syscall")
int run(struct args *a)
{
	__u32 zero = 0, idx;
	struct hval *val;
	__s64 v = a->v;

	a->hist[0] = bt_hist_index(v, 0);
	a->hist[1] = bt_hist_index(v, 1);
	a->hist[2] = bt_hist_index(v, 2);
	a->hist[3] = bt_hist_index(v, 3);
	a->hist[4] = bt_hist_index(v, 4);
	a->hist[5] = bt_hist_index(v, 5);
	a->lhist = bt_lhist_index(v, a->min, a->max, a->step);
	val = bpf_map_lookup_elem(&hmap, &zero);
	if (!val)
		return 0;
	idx = bt_hist_index(v, 5);
	if (idx < NB5)
		__sync_fetch_and_add(&val->buckets[idx], 1);
	return 0;
}
