/* min()/max() read in an expression: the smallest/largest of the CPUs' copies that
 * hold a value, 0 when none does (Linux 5.19+). */
static __always_inline __s64 bt_map_read_minmax(void *map, const void *key, int is_max)
{
	__s64 result = 0;
	int found = 0;

	for (__u32 cpu = 0; cpu < bt_ncpus && cpu < 1024; cpu++) {
		struct bt_minmax *v = bpf_map_lookup_percpu_elem(map, key, cpu);

		if (v && v->set &&
		    (!found || (is_max ? v->value > result : v->value < result))) {
			result = v->value;
			found = 1;
		}
	}
	return result;
}

/* avg() read in an expression: all CPUs' totals over all their counts, 0 when empty
 * (Linux 5.19+); signed or unsigned division as the averaged values. */
static __always_inline __s64 bt_map_read_avg(void *map, const void *key, int is_signed)
{
	__s64 total = 0;
	__u64 count = 0;

	for (__u32 cpu = 0; cpu < bt_ncpus && cpu < 1024; cpu++) {
		struct bt_avg *v = bpf_map_lookup_percpu_elem(map, key, cpu);

		if (v) {
			total += v->total;
			count += v->count;
		}
	}
	return is_signed ? bt_sdiv(total, count) : (__s64)bt_udiv(total, count);
}
