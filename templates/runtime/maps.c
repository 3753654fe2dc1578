/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * maps.c - print, clear and zero BPF maps exactly like bpftrace v0.27.1.
 *
 * Included verbatim into every generated NAME.c.  The code generator emits
 * one `struct bt_map` descriptor per bpftrace map (@name) and calls
 *
 *   bt_print_map(out, &map, top, div)     for print(@x) / print(@x, top, div)
 *   bt_print_maps_at_exit(out, maps, n)   when the tool exits
 *   bt_clear_map(&map) / bt_zero_map(&map) for clear(@x) / zero(@x)
 *
 * Both print functions write text or, once the loader sets bt_format to
 * BT_FORMAT_JSON (bpftrace's -f json), one JSON record per map; the JSON
 * section below (bt_json_*) also serves the loader's printf and print()
 * records.  The entry order, top and div are the same in both formats.
 *
 * What bpftrace does (all found by experiment with bpftrace v0.27.1):
 *
 * Entry order (print() and the exit dump alike):
 *  - count/sum/avg/stats/min/max and plain integer values are sorted
 *    ascending by value: count unsigned, sum and avg/stats (by average)
 *    signed, plain integers by their signedness.  min/max are sorted by
 *    the extreme taken with *unsigned* comparisons (over the per-CPU
 *    copies, too), so negative values come after positive ones.
 *    bpftrace leaves equal values in the kernel's hash order, which is
 *    random per run, and does not sort integer values narrower than 64
 *    bits at all (also hash order); we sort those by value and order all
 *    ties by key (see below), which is one of bpftrace's possible outputs.
 *  - strings, tuples and other plain values are sorted by key: integer
 *    keys compare as *signed* numbers of their own size (a u8 key 200 sorts
 *    before 1), string keys compare byte-wise over the whole char[N],
 *    multi-keys compare field by field.
 *  - hist/lhist maps are sorted by the total count of all buckets; equal
 *    totals keep the order of libstdc++'s std::sort run on the keys in
 *    memcmp() order, which bt__introsort() reproduces (deterministic).
 *  - print(@x, top) keeps the last `top` entries of that order; div divides
 *    every printed integer (tuple members too; stats: only .average;
 *    hist: the bucket counts; lhist: nothing).
 *
 * Formats:
 *   @x: 5                  scalar
 *   @x[1, abc]: (2, def)   keys (tuple parens dropped), tuple values
 *   @x: { .count = 2, .average = 3, .total = 7 }   stats
 *   @h:                    hist/lhist, then one line per bucket and "\n"
 *   [4, 8)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
 *   (bucket label left-aligned in 16 columns, count in 8, bar of 52 '@'
 *   scaled to the largest count; empty buckets at both ends are left out)
 * A string that fills its whole char[N] (no NUL) gets the ".." trailer.
 *
 * JSON (-f json), one line per map, no blank lines before the exit dump:
 *   {"type": "map", "data": {"@x": 5}}
 *   {"type": "map", "data": {"@x": {"1,abc": [2,"def"]}}}   keys: the text
 *       key without spaces; tuples as unspaced arrays
 *   {"type": "stats", "data": {"@x": {"count": 2, "average": 3, "total": 7}}}
 *       (avg maps are "stats" records too, with a plain number)
 *   {"type": "hist", "data": {"@h": [{"min": 4, "max": 7, "count": 3},...]}}
 * (details and bpftrace's quirks at bt__print_json and bt_json_string).
 *
 * Per-CPU values are merged like bpftrace: counts, sums, buckets and plain
 * integers are added, min/max take the extreme of the CPUs whose `set` flag
 * is nonzero, avg/stats add totals and counts.
 *
 * Scalar maps (@x = ...) should be BPF hash maps keyed by __u32 0 so that
 * clear() can delete the element: bpftrace prints "@x: 0" for print() of an
 * empty scalar but leaves it out of the exit dump.  For array maps (which
 * cannot delete) clear() falls back to zeroing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The public functions may go unused in a given tool: no warning then. */
#define BT_UNUSED __attribute__((unused))

/* ---- descriptors emitted by the code generator ------------------------ */

/*
 * Field kinds.  BT_KIND_TUPLE (an extension) describes a nested tuple in
 * prefix form: its `size` is the number of members, which follow it in the
 * fields array (each member may itself be a tuple); `offset` is unused, the
 * members carry their own offsets from the start of the key/value.  The
 * layout's nfields counts every entry, tuple headers included.  E.g. the
 * key of @x[1, (2, "a")] is
 *   { INT, 8, 0 }, { TUPLE, 2, 8 }, { INT, 8, 8 }, { STR, 8, 16 }
 */
enum bt_kind {
	BT_KIND_INT = 1,
	BT_KIND_UINT = 2,
	BT_KIND_STR = 3,
	BT_KIND_TUPLE = 4,
	/* stacks and symbols, printed by symbols.c; a stack's `size` is
	 * BT_STACK_FIELD(mode, limit): the stack itself is 8 bytes */
	BT_KIND_KSTACK = 5,
	BT_KIND_USTACK = 6,
	BT_KIND_KSYM = 7,
	BT_KIND_USYM = 8,
	BT_KIND_BOOL = 9,	/* an unsigned integer printed as true/false */
	/* buf(): a __u32 length, 4 bytes of padding, then `size` - 8 bytes */
	BT_KIND_BUF = 10,
	BT_KIND_INET = 11,	/* ntop(): __u64 address family, 16 address bytes */
	BT_KIND_MAC = 12,	/* macaddr(): 6 bytes */
	/* C structs and arrays, in prefix form like tuples: `size` is the number
	 * of members (each struct member carries its `name`) or elements */
	BT_KIND_STRUCT = 13,
	BT_KIND_ARRAY = 14,
	/* integers the loader prints as text (stdlib.c): strftime()'s nanoseconds
	 * since boot or TAI nanoseconds, in the field's `fmt`, and username's uid */
	BT_KIND_TIMESTAMP = 15,
	BT_KIND_TAI_TIMESTAMP = 16,
	BT_KIND_USERNAME = 17,
	BT_KIND_PTR = 18,	/* a pointer: printed 0x..., a number in JSON */
	/* cgroup_path(): a cgroup id, printed as its paths (cgroup_path.c); `fmt`
	 * is the call's filter of hierarchy names */
	BT_KIND_CGROUP_PATH = 19,
	BT_KIND_ENUM = 20	/* an enum value: its enumerator's name (`enm`), a number in JSON */
};

/* A C enum's enumerators, to print its values by name (one table per enum type
 * the script prints, generated in the loader). */
struct bt_enum {
	unsigned int n;
	const unsigned long long *values;
	const char *const *names;
};

/* The enumerator of value v, or v as a number when none has it (flags, unknown
 * values), as bpftrace prints them.  A number's text lives for the next 7 calls. */
static BT_UNUSED const char *bt_enum_text(const struct bt_enum *e, unsigned long long v)
{
	static char num[8][24];	/* a few at once: printf("%s %s", a, b) */
	static unsigned int next;
	char *out;

	for (unsigned int i = 0; i < e->n; i++)
		if (e->values[i] == v)
			return e->names[i];
	out = num[next++ % 8];
	snprintf(out, sizeof(num[0]), "%llu", v);
	return out;
}

struct bt_field {
	unsigned char kind;	/* enum bt_kind */
	unsigned short size;	/* 1, 2, 4, 8 for ints; N for char[N] */
	unsigned short offset;	/* byte offset inside the key/value struct */
	unsigned char bits;	/* a bitfield: its width (0: a whole integer) ... */
	unsigned char shift;	/* ... and its lowest bit in the `size` bytes */
	const char *name;	/* a struct member's name */
	const char *fmt;	/* BT_KIND_TIMESTAMP: the strftime() format; CGROUP_PATH: filter */
	const struct bt_enum *enm;	/* BT_KIND_ENUM: the enum's enumerators */
};

#define BT__IS_GROUP(k) ((k) == BT_KIND_TUPLE || (k) == BT_KIND_STRUCT || (k) == BT_KIND_ARRAY)
#define BT__IS_SYMBOLIC(k) ((k) >= BT_KIND_KSTACK && (k) <= BT_KIND_USYM)

/* The `size` of a stack field: its print mode and frame limit. */
#define BT_STACK_FIELD(mode, limit) ((mode) << 8 | (limit))
#define BT__IS_STACK(f) ((f)->kind == BT_KIND_KSTACK || (f)->kind == BT_KIND_USTACK)

#ifdef BT_SYMBOLS
/* The text of a stack or symbol field (symbols.c, included after this file). */
static const char *bt_sym_format(const void *p, int kind, int mode, unsigned int limit);
#endif

#ifdef BT_FORMATTED
/* The text of a strftime() or username value (stdlib.c, included after this file). */
static const char *bt_fmt_timestamp(const char *fmt, unsigned long long ns, clockid_t clock);
static const char *bt_fmt_username(unsigned long long uid);
#endif
#ifdef BT_CGROUP_PATH
/* The text of a cgroup_path() value (cgroup_path.c, included after this file). */
static const char *bt_fmt_cgroup_path(const char *filter, unsigned long long id);
#endif

struct bt_layout {
	unsigned int size;	/* sizeof the whole key/value struct, bytes */
	unsigned int nfields;
	int tuple;		/* nonzero: a tuple value, printed "(a, b)" */
	const struct bt_field *fields;
};

enum bt_agg {
	BT_AGG_NONE = 0,
	BT_AGG_COUNT,
	BT_AGG_SUM,
	BT_AGG_MIN,
	BT_AGG_MAX,
	BT_AGG_AVG,
	BT_AGG_STATS,
	BT_AGG_HIST,
	BT_AGG_LHIST,
	BT_AGG_TSERIES
};

struct bt_map {
	const char *name;	/* as printed: "@" or "@x" */
	int fd;			/* map fd, set after load */
	int scalar;		/* no key: BPF key is a __u32 0 */
	struct bt_layout key;	/* when !scalar */
	int agg;		/* enum bt_agg */
	int percpu;		/* values stored per CPU: merge the copies */
	struct bt_layout value;	/* BT_AGG_NONE only: the plain value */
	int hist_bits;		/* BT_AGG_HIST */
	long long lhist_min, lhist_max, lhist_step; /* BT_AGG_LHIST */
	unsigned int nbuckets;	/* HIST/LHIST: buckets; TSERIES: intervals */
	unsigned long long ts_interval;	/* TSERIES: interval length, ns */
	int ts_mode;		/* TSERIES: enum bt_tseries_mode */
	int ts_signed;		/* TSERIES: the values are signed */
};

/* Output format (bpftrace's -f): the loader sets it from its options. */
enum bt_format_kind {
	BT_FORMAT_TEXT = 0,
	BT_FORMAT_JSON = 1
};

static int bt_format = BT_FORMAT_TEXT;

/* ---- private helpers --------------------------------------------------- */

#define BT__BAR_WIDTH 52

/* One map element: its key bytes and its value merged across CPUs. */
struct bt__ent {
	unsigned char *key;
	unsigned char *val;	/* layout of a single (non per-CPU) value */
	int64_t sort_s;		/* value used for sorting, signed ... */
	uint64_t sort_u;	/* ... or unsigned */
};

/* All elements of one map, as read from the kernel. */
struct bt__snap {
	struct bt__ent *ents;
	size_t n;
	unsigned int key_size;
	unsigned int val_size;	/* one merged value */
	unsigned char *mem;	/* backing store of keys and values */
};

/* Sort modes for bt__less(). */
enum bt__order {
	BT__BY_KEY,		/* bpftrace's typed key order */
	BT__BY_KEY_BYTES,	/* memcmp of the key bytes */
	BT__BY_SIGNED,		/* sort_s ascending */
	BT__BY_UNSIGNED,	/* sort_u ascending */
};

struct bt__sorter {
	const struct bt_map *m;
	unsigned int key_size;
	int order;		/* enum bt__order */
};

/* strnlen() without relying on POSIX feature macros. */
static size_t bt__strnlen(const unsigned char *p, size_t max)
{
	size_t n = 0;

	while (n < max && p[n])
		n++;
	return n;
}

static int64_t bt__get_int(const unsigned char *p, unsigned int size)
{
	int8_t i8;
	int16_t i16;
	int32_t i32;
	int64_t i64 = 0;

	switch (size) {
	case 1:
		memcpy(&i8, p, 1);
		return i8;
	case 2:
		memcpy(&i16, p, 2);
		return i16;
	case 4:
		memcpy(&i32, p, 4);
		return i32;
	default:
		memcpy(&i64, p, size < 8 ? size : 8);
		return i64;
	}
}

static uint64_t bt__get_uint(const unsigned char *p, unsigned int size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64 = 0;

	switch (size) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	default:
		memcpy(&u64, p, size < 8 ? size : 8);
		return u64;
	}
}

static void bt__put_int(unsigned char *p, unsigned int size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case 1:
		memcpy(p, &u8, 1);
		break;
	case 2:
		memcpy(p, &u16, 2);
		break;
	case 4:
		memcpy(p, &u32, 4);
		break;
	default:
		memcpy(p, &v, size < 8 ? size : 8);
		break;
	}
}

static int bt__is_int_value(const struct bt_map *m)
{
	return m->agg == BT_AGG_NONE && !m->value.tuple &&
	       m->value.nfields == 1 &&
	       (m->value.fields[0].kind == BT_KIND_INT ||
		m->value.fields[0].kind == BT_KIND_UINT ||
		m->value.fields[0].kind == BT_KIND_ENUM);
}

static int bt__is_hist(const struct bt_map *m)
{
	return m->agg == BT_AGG_HIST || m->agg == BT_AGG_LHIST;
}

/* Size of one CPU's copy of the value, as the BPF program lays it out. */
static unsigned int bt__value_size(const struct bt_map *m)
{
	switch (m->agg) {
	case BT_AGG_COUNT:
	case BT_AGG_SUM:
		return 8;
	case BT_AGG_MIN:
	case BT_AGG_MAX:
	case BT_AGG_AVG:
	case BT_AGG_STATS:
		return 16;
	case BT_AGG_HIST:
	case BT_AGG_LHIST:
		return 8 * m->nbuckets;
	case BT_AGG_TSERIES:
		return 24 * m->nbuckets;
	default:
		return m->value.size;
	}
}

#ifdef BT_TSERIES
/* tseries() maps: tseries.c, included after this file. */
struct bt__ent;
struct bt__snap;
static void bt__tseries_merge(const struct bt_map *m, struct bt__ent *e,
			      const unsigned char *raw, int ncpu, size_t stride);
static int bt__tseries_print(FILE *out, const struct bt_map *m, const struct bt__snap *s);
static int bt__tseries_json(FILE *out, const struct bt_map *m, const struct bt__snap *s);
#endif

static int bt__ncpus(void)
{
	static int ncpus;

	if (!ncpus) {
		ncpus = libbpf_num_possible_cpus();
		if (ncpus < 1)
			ncpus = 1;
	}
	return ncpus;
}

/* Kernel's view of the map; type 0 (unspec) when unknown. */
static void bt__map_info(const struct bt_map *m, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(m->fd, info, &len))
		memset(info, 0, sizeof(*info));
}

static int bt__is_percpu(const struct bt_map *m,
			 const struct bpf_map_info *info)
{
	switch (info->type) {
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return 1;
	case BPF_MAP_TYPE_UNSPEC:
		return m->percpu;
	default:
		return 0;
	}
}

/*
 * Merge the per-CPU copies `raw` (ncpu copies, `stride` bytes apart) into
 * `out` (one value) and fill in the entry's sort keys.
 */
static void bt__merge(const struct bt_map *m, struct bt__ent *e,
		      const unsigned char *raw, int ncpu, size_t stride,
		      unsigned int vsize)
{
	unsigned char *out = e->val;
	int cpu;

	e->sort_s = 0;
	e->sort_u = 0;
	switch (m->agg) {
	case BT_AGG_COUNT:
	case BT_AGG_SUM: {
		uint64_t sum = 0;

		for (cpu = 0; cpu < ncpu; cpu++)
			sum += bt__get_uint(raw + cpu * stride, 8);
		memcpy(out, &sum, 8);
		e->sort_u = sum;
		e->sort_s = (int64_t)sum;
		break;
	}
	case BT_AGG_MIN:
	case BT_AGG_MAX: {
		int is_max = m->agg == BT_AGG_MAX;
		int64_t best = 0;	/* signed merge: what is printed */
		uint64_t best_u = 0;	/* unsigned merge: what bpftrace sorts */
		uint64_t set = 0;

		for (cpu = 0; cpu < ncpu; cpu++) {
			const unsigned char *p = raw + cpu * stride;
			int64_t v = bt__get_int(p, 8);

			if (!bt__get_uint(p + 8, 8))
				continue;
			if (!set) {
				best = v;
				best_u = (uint64_t)v;
				set = 1;
				continue;
			}
			if (is_max ? v > best : v < best)
				best = v;
			if (is_max ? (uint64_t)v > best_u : (uint64_t)v < best_u)
				best_u = (uint64_t)v;
		}
		memcpy(out, &best, 8);
		memcpy(out + 8, &set, 8);
		e->sort_u = best_u;
		break;
	}
	case BT_AGG_AVG:
	case BT_AGG_STATS: {
		uint64_t total = 0, count = 0;

		for (cpu = 0; cpu < ncpu; cpu++) {
			total += bt__get_uint(raw + cpu * stride, 8);
			count += bt__get_uint(raw + cpu * stride + 8, 8);
		}
		memcpy(out, &total, 8);
		memcpy(out + 8, &count, 8);
		e->sort_s = count ? (int64_t)total / (int64_t)count : 0;
		break;
	}
	case BT_AGG_HIST:
	case BT_AGG_LHIST: {
		unsigned int i, nb = vsize / 8;

		for (i = 0; i < nb; i++) {
			uint64_t sum = 0;

			for (cpu = 0; cpu < ncpu; cpu++)
				sum += bt__get_uint(raw + cpu * stride + 8 * i, 8);
			memcpy(out + 8 * i, &sum, 8);
			e->sort_u += sum;
		}
		break;
	}
#ifdef BT_TSERIES
	case BT_AGG_TSERIES:
		bt__tseries_merge(m, e, raw, ncpu, stride);
		break;
#endif
	default:
		memcpy(out, raw, vsize);
		if (bt__is_int_value(m)) {
			const struct bt_field *f = &m->value.fields[0];
			uint64_t sum = 0;

			for (cpu = 0; cpu < ncpu; cpu++)
				sum += bt__get_uint(raw + cpu * stride + f->offset,
						    f->size);
			bt__put_int(out + f->offset, f->size, sum);
			e->sort_u = bt__get_uint(out + f->offset, f->size);
			e->sort_s = bt__get_int(out + f->offset, f->size);
		}
		break;
	}
}

static void bt__snap_free(struct bt__snap *s)
{
	free(s->ents);
	free(s->mem);
	memset(s, 0, sizeof(*s));
}

/* Read every element of the map into `s`.  Returns 0 or -1. */
static int bt__snap_read(const struct bt_map *m, struct bt__snap *s)
{
	struct bpf_map_info info;
	unsigned int ksize, vsize;
	unsigned char *keys = NULL, *raw = NULL, *prev = NULL, *next;
	size_t cap = 0, n = 0, i, stride, slot;
	int ncpu, err = 0;

	memset(s, 0, sizeof(*s));
	bt__map_info(m, &info);
	ksize = info.key_size ? info.key_size : (m->scalar ? 4 : m->key.size);
	vsize = info.value_size ? info.value_size : bt__value_size(m);
	if (ksize == 0 || vsize == 0)
		return -1;
	ncpu = bt__is_percpu(m, &info) ? bt__ncpus() : 1;
	stride = ncpu > 1 ? (vsize + 7) / 8 * 8 : vsize;
	slot = (ksize + 7) / 8 * 8 + (vsize + 7) / 8 * 8;

	raw = malloc(stride * ncpu);
	next = malloc(ksize);
	if (!raw || !next) {
		err = -1;
		goto out;
	}

	/* Collect the keys first, then look every one of them up. */
	while (bpf_map_get_next_key(m->fd, prev, next) == 0) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			unsigned char *nk = realloc(keys, ncap * ksize);

			if (!nk) {
				err = -1;
				goto out;
			}
			keys = nk;
			cap = ncap;
		}
		memcpy(keys + n * ksize, next, ksize);
		prev = keys + n * ksize;
		n++;
	}

	s->key_size = ksize;
	s->val_size = vsize;
	s->ents = calloc(n ? n : 1, sizeof(*s->ents));
	s->mem = calloc(n ? n : 1, slot);
	if (!s->ents || !s->mem) {
		err = -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct bt__ent *e = &s->ents[s->n];

		/* An element deleted meanwhile is simply skipped. */
		if (bpf_map_lookup_elem(m->fd, keys + i * ksize, raw))
			continue;
		e->key = s->mem + s->n * slot;
		e->val = e->key + (ksize + 7) / 8 * 8;
		memcpy(e->key, keys + i * ksize, ksize);
		bt__merge(m, e, raw, ncpu, stride, vsize);
		s->n++;
	}
out:
	free(keys);
	free(raw);
	free(next);
	if (err)
		bt__snap_free(s);
	return err;
}

/* Index of the entry after f[i] (after all its members for a tuple). */
static unsigned int bt__skip(const struct bt_field *f, unsigned int i,
			     unsigned int n)
{
	unsigned int k, members;

	if (i >= n)
		return n;
	members = BT__IS_GROUP(f[i].kind) ? f[i].size : 0;
	i++;
	for (k = 0; k < members && i < n; k++)
		i = bt__skip(f, i, n);
	return i;
}

/* Number of top-level entries (fields or nested tuples) of a layout. */
static unsigned int bt__ntop(const struct bt_layout *l)
{
	unsigned int i = 0, count = 0;

	while (i < l->nfields) {
		i = bt__skip(l->fields, i, l->nfields);
		count++;
	}
	return count;
}

/*
 * bpftrace's key order: field by field over the key's (or, for a key that
 * is a single tuple, the tuple's) top-level integer and string fields;
 * nested tuples do not take part.
 */
static int bt__cmp_key(const struct bt_map *m, const unsigned char *a,
		       const unsigned char *b, unsigned int key_size)
{
	const struct bt_field *fields = m->key.fields;
	unsigned int i = 0, n = m->key.nfields;

	if (m->scalar || n == 0)
		return memcmp(a, b, key_size);
	if (BT__IS_GROUP(fields[0].kind) && bt__skip(fields, 0, n) == n)
		i = 1;	/* @x[(a, b)], @x[(a=1, b=2)]: compare the members */
	while (i < n) {
		const struct bt_field *f = &fields[i];
		int c = 0;

		if (BT__IS_GROUP(f->kind)) {
			i = bt__skip(fields, i, n);
			continue;
		}
		if (f->kind == BT_KIND_STR ||
		    (f->kind >= BT_KIND_KSTACK && f->kind < BT_KIND_STRUCT)) {
			c = memcmp(a + f->offset, b + f->offset, BT__IS_STACK(f) ? 8 : f->size);
		} else {
			/* signed even for unsigned fields, like bpftrace */
			int64_t x = bt__get_int(a + f->offset, f->size);
			int64_t y = bt__get_int(b + f->offset, f->size);

			c = x < y ? -1 : x > y;
		}
		if (c)
			return c;
		i++;
	}
	return 0;
}

/* "Less than" for the sort algorithms below. */
static int bt__less(const struct bt__sorter *srt, const struct bt__ent *a,
		    const struct bt__ent *b)
{
	switch (srt->order) {
	case BT__BY_KEY:
		return bt__cmp_key(srt->m, a->key, b->key, srt->key_size) < 0;
	case BT__BY_KEY_BYTES:
		return memcmp(a->key, b->key, srt->key_size) < 0;
	case BT__BY_SIGNED:
		return a->sort_s < b->sort_s;
	default:
		return a->sort_u < b->sort_u;
	}
}

/* Stable insertion sort of e[0..n). */
static void bt__insertion_sort(const struct bt__sorter *srt,
			       struct bt__ent *e, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		struct bt__ent v = e[i];

		for (j = i; j > 0 && bt__less(srt, &v, &e[j - 1]); j--)
			e[j] = e[j - 1];
		e[j] = v;
	}
}

/* Stable merge sort of e[0..n) using tmp[0..n) as scratch space. */
static void bt__merge_sort(const struct bt__sorter *srt, struct bt__ent *e,
			   struct bt__ent *tmp, size_t n)
{
	size_t mid = n / 2, i = 0, j = mid, k = 0;

	if (n <= 16) {
		bt__insertion_sort(srt, e, n);
		return;
	}
	bt__merge_sort(srt, e, tmp, mid);
	bt__merge_sort(srt, e + mid, tmp, n - mid);
	while (i < mid && j < n) {
		/* take from the right half only if strictly smaller */
		if (bt__less(srt, &e[j], &e[i]))
			tmp[k++] = e[j++];
		else
			tmp[k++] = e[i++];
	}
	while (i < mid)
		tmp[k++] = e[i++];
	while (j < n)
		tmp[k++] = e[j++];
	memcpy(e, tmp, n * sizeof(*e));
}

static int bt__stable_sort(const struct bt__sorter *srt, struct bt__ent *e,
			   size_t n)
{
	struct bt__ent *tmp;

	if (n < 2)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -1;
	bt__merge_sort(srt, e, tmp, n);
	free(tmp);
	return 0;
}

/*
 * An unstable sort that moves elements exactly like libstdc++'s std::sort
 * (introsort: median-of-three quicksort down to runs of 16, heapsort when
 * too deep, then one insertion sort pass).  bpftrace sorts hist maps with
 * it, and with equal totals only the same algorithm yields the same order.
 */
static void bt__swap(struct bt__ent *a, struct bt__ent *b)
{
	struct bt__ent t = *a;

	*a = *b;
	*b = t;
}

static void bt__heap_adjust(const struct bt__sorter *srt, struct bt__ent *e,
			    long hole, long len, struct bt__ent v)
{
	long top = hole, child = hole, parent;

	while (child < (len - 1) / 2) {
		child = 2 * (child + 1);
		if (bt__less(srt, &e[child], &e[child - 1]))
			child--;
		e[hole] = e[child];
		hole = child;
	}
	if ((len & 1) == 0 && child == (len - 2) / 2) {
		child = 2 * (child + 1);
		e[hole] = e[child - 1];
		hole = child - 1;
	}
	/* push v back up towards top */
	parent = (hole - 1) / 2;
	while (hole > top && bt__less(srt, &e[parent], &v)) {
		e[hole] = e[parent];
		hole = parent;
		parent = (hole - 1) / 2;
	}
	e[hole] = v;
}

static void bt__heap_sort(const struct bt__sorter *srt, struct bt__ent *e,
			  long len)
{
	long parent, last;

	if (len < 2)
		return;
	for (parent = (len - 2) / 2;; parent--) {
		bt__heap_adjust(srt, e, parent, len, e[parent]);
		if (parent == 0)
			break;
	}
	for (last = len - 1; last > 0; last--) {
		struct bt__ent v = e[last];

		e[last] = e[0];
		bt__heap_adjust(srt, e, 0, last, v);
	}
}

static void bt__median_to_first(const struct bt__sorter *srt,
				struct bt__ent *res, struct bt__ent *a,
				struct bt__ent *b, struct bt__ent *c)
{
	if (bt__less(srt, a, b)) {
		if (bt__less(srt, b, c))
			bt__swap(res, b);
		else if (bt__less(srt, a, c))
			bt__swap(res, c);
		else
			bt__swap(res, a);
	} else if (bt__less(srt, a, c)) {
		bt__swap(res, a);
	} else if (bt__less(srt, b, c)) {
		bt__swap(res, c);
	} else {
		bt__swap(res, b);
	}
}

static void bt__introsort_loop(const struct bt__sorter *srt,
			       struct bt__ent *first, struct bt__ent *last,
			       int depth)
{
	while (last - first > 16) {
		struct bt__ent *lo, *hi;

		if (depth == 0) {
			bt__heap_sort(srt, first, last - first);
			return;
		}
		depth--;
		bt__median_to_first(srt, first, first + 1,
				    first + (last - first) / 2, last - 1);
		/* partition around the pivot now at *first */
		lo = first + 1;
		hi = last;
		for (;;) {
			while (bt__less(srt, lo, first))
				lo++;
			hi--;
			while (bt__less(srt, first, hi))
				hi--;
			if (!(lo < hi))
				break;
			bt__swap(lo, hi);
			lo++;
		}
		bt__introsort_loop(srt, lo, last, depth);
		last = lo;
	}
}

static void bt__introsort(const struct bt__sorter *srt, struct bt__ent *e,
			  size_t n)
{
	size_t i, j;
	int lg = 0;

	if (n < 2)
		return;
	while ((n >> (lg + 1)) != 0)
		lg++;
	bt__introsort_loop(srt, e, e + n, 2 * lg);
	/* final insertion sort; equivalent to libstdc++'s guarded/unguarded
	 * split because it moves an element only past strictly greater ones */
	for (i = 1; i < n; i++) {
		struct bt__ent v = e[i];

		for (j = i; j > 0 && bt__less(srt, &v, &e[j - 1]); j--)
			e[j] = e[j - 1];
		e[j] = v;
	}
}

/* Put the snapshot into bpftrace's print order (see top of file). */
static int bt__order(const struct bt_map *m, struct bt__snap *s)
{
	struct bt__sorter srt = { .m = m, .key_size = s->key_size };

	if (m->agg == BT_AGG_TSERIES) {
		/* bpftrace prints them in memcmp() order of the keys */
		srt.order = BT__BY_KEY_BYTES;
		return bt__stable_sort(&srt, s->ents, s->n);
	}
	if (bt__is_hist(m)) {
		srt.order = BT__BY_KEY_BYTES;
		if (bt__stable_sort(&srt, s->ents, s->n))
			return -1;
		srt.order = BT__BY_UNSIGNED;
		bt__introsort(&srt, s->ents, s->n);
		return 0;
	}

	srt.order = BT__BY_KEY;
	if (bt__stable_sort(&srt, s->ents, s->n))
		return -1;
	switch (m->agg) {
	case BT_AGG_COUNT:
	case BT_AGG_MIN:
	case BT_AGG_MAX:
		srt.order = BT__BY_UNSIGNED;
		break;
	case BT_AGG_SUM:
	case BT_AGG_AVG:
	case BT_AGG_STATS:
		srt.order = BT__BY_SIGNED;
		break;
	default:
		if (!bt__is_int_value(m))
			return 0;	/* strings, tuples: by key */
		srt.order = m->value.fields[0].kind == BT_KIND_INT ?
				    BT__BY_SIGNED : BT__BY_UNSIGNED;
		break;
	}
	return bt__stable_sort(&srt, s->ents, s->n);
}

/*
 * A growable byte string.  Keys and plain values are rendered into one, so
 * that text and JSON output share one rendering of a key.
 */
struct bt__sb {
	char *buf;
	size_t len, cap;
};

static void bt__sb_write(struct bt__sb *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *nb;

		while (cap < b->len + n + 1)
			cap *= 2;
		nb = realloc(b->buf, cap);
		if (!nb)
			return;	/* out of memory: the text comes out short */
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void bt__sb_puts(struct bt__sb *b, const char *s)
{
	bt__sb_write(b, s, strlen(s));
}

static void bt__sb_putc(struct bt__sb *b, char c)
{
	bt__sb_write(b, &c, 1);
}

/* Write the string to `out` and free it. */
static void bt__sb_flush(struct bt__sb *b, FILE *out)
{
	if (b->len)
		fwrite(b->buf, 1, b->len, out);
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* How bt__bytes_text() writes a buf(): printf's %r, %rx, %rh and %s. */
enum bt_buf_mode {
	BT_BUF_ESCAPED = 0,	/* printable ASCII as is, other bytes as \xNN */
	BT_BUF_HEX = 1,		/* every byte as \xNN */
	BT_BUF_HEXSP = 2,	/* every byte as NN, space-separated */
	BT_BUF_RAW = 3		/* the bytes up to the first NUL */
};

/*
 * The text of a buf(), ntop() or macaddr() value held at p, in one of a few
 * rotating static buffers (so that one printf may format several).
 */
static BT_UNUSED const char *bt__bytes_text(int kind, const unsigned char *p, int mode)
{
	static char texts[16][4 * 1024 + 8];
	static unsigned int next;
	char *out = texts[next++ % 16];
	size_t o = 0, i;

	if (kind == BT_KIND_MAC) {
		snprintf(out, 32, "%02X:%02X:%02X:%02X:%02X:%02X", p[0], p[1], p[2], p[3], p[4],
			 p[5]);
	} else if (kind == BT_KIND_INET) {
		uint64_t af;

		memcpy(&af, p, sizeof(af));
		out[0] = 0;
		if (af == AF_INET || af == AF_INET6)
			inet_ntop((int)af, p + 8, out, 64);
	} else {
		uint32_t len;

		memcpy(&len, p, sizeof(len));
		if (len > 1024)
			len = 1024;
		for (i = 0; i < len; i++) {
			unsigned char c = p[8 + i];

			if (mode == BT_BUF_RAW) {
				if (!c)
					break;
				out[o++] = (char)c;
			} else if (mode == BT_BUF_HEXSP) {
				o += (size_t)sprintf(out + o, i ? " %02x" : "%02x", c);
			} else if (mode == BT_BUF_ESCAPED && c >= 0x20 && c < 0x7f) {
				out[o++] = (char)c;
			} else {
				o += (size_t)sprintf(out + o, "\\x%02x", c);
			}
		}
		out[o] = 0;
	}
	return out;
}

/* printf/print text of a buf(), ntop() or macaddr() value (BT_KIND_*). */
static BT_UNUSED const char *bt_bytes_text(int kind, const void *p, int mode)
{
	return bt__bytes_text(kind, (const unsigned char *)p, mode);
}

/* Render one integer or string field; div (>= 1) divides integers. */
static void bt__fmt_field(struct bt__sb *b, const struct bt_field *f,
			  const unsigned char *base, uint64_t div)
{
	const unsigned char *p = base + f->offset;
	char num[32];

#ifdef BT_SYMBOLS
	if (BT__IS_SYMBOLIC(f->kind)) {
		bt__sb_puts(b, bt_sym_format(p, f->kind, f->size >> 8, f->size & 0xff));
		return;
	}
#endif
	if (f->kind == BT_KIND_BUF || f->kind == BT_KIND_INET || f->kind == BT_KIND_MAC) {
		bt__sb_puts(b, bt__bytes_text(f->kind, p, BT_BUF_ESCAPED));
		return;
	}
#ifdef BT_FORMATTED
	if (f->kind == BT_KIND_TIMESTAMP || f->kind == BT_KIND_TAI_TIMESTAMP) {
		clockid_t clock = f->kind == BT_KIND_TAI_TIMESTAMP ? CLOCK_TAI : CLOCK_BOOTTIME;

		bt__sb_puts(b, bt_fmt_timestamp(f->fmt, bt__get_uint(p, f->size), clock));
		return;
	}
	if (f->kind == BT_KIND_USERNAME) {
		bt__sb_puts(b, bt_fmt_username(bt__get_uint(p, f->size)));
		return;
	}
#endif
#ifdef BT_CGROUP_PATH
	if (f->kind == BT_KIND_CGROUP_PATH) {
		bt__sb_puts(b, bt_fmt_cgroup_path(f->fmt, bt__get_uint(p, f->size)));
		return;
	}
#endif
	if (f->bits) {
		uint64_t v = bt__get_uint(p, f->size) >> f->shift;

		v &= f->bits < 64 ? (1ULL << f->bits) - 1 : ~0ULL;
		if (f->kind == BT_KIND_INT && f->bits < 64 && (v >> (f->bits - 1)) & 1)
			v |= ~0ULL << f->bits;	/* sign-extend */
		snprintf(num, sizeof(num), f->kind == BT_KIND_INT ? "%lld" : "%llu",
			 (long long)v);
		bt__sb_puts(b, num);
		return;
	}
	if (f->kind == BT_KIND_STR) {
		size_t len = bt__strnlen(p, f->size);

		bt__sb_write(b, p, len);
		if (len == f->size)
			bt__sb_puts(b, "..");	/* no NUL: truncated */
		return;
	}
	if (f->kind == BT_KIND_BOOL) {
		bt__sb_puts(b, bt__get_uint(p, f->size) ? "true" : "false");
		return;
	}
	if (f->kind == BT_KIND_PTR) {
		snprintf(num, sizeof(num), "0x%llx", (unsigned long long)bt__get_uint(p, f->size));
		bt__sb_puts(b, num);
		return;
	}
	if (f->kind == BT_KIND_ENUM) {
		bt__sb_puts(b, bt_enum_text(f->enm, bt__get_uint(p, f->size)));
		return;
	}
	if (f->kind == BT_KIND_INT)
		snprintf(num, sizeof(num), "%lld",
			 (long long)(bt__get_int(p, f->size) / (int64_t)div));
	else
		snprintf(num, sizeof(num), "%llu",
			 (unsigned long long)(bt__get_uint(p, f->size) / div));
	bt__sb_puts(b, num);
}

/* Render entry f[i], a field or a nested tuple; return the next index. */
static unsigned int bt__fmt_item(struct bt__sb *b, const struct bt_field *f,
				 unsigned int i, unsigned int n,
				 const unsigned char *base, uint64_t div);

/* Render the entries f[i..n) separated by ", ". */
static void bt__fmt_items(struct bt__sb *b, const struct bt_field *f,
			  unsigned int i, unsigned int n,
			  const unsigned char *base, uint64_t div)
{
	unsigned int first = i;

	while (i < n) {
		if (i != first)
			bt__sb_puts(b, ", ");
		i = bt__fmt_item(b, f, i, n, base, div);
	}
}

static unsigned int bt__fmt_item(struct bt__sb *b, const struct bt_field *f,
				 unsigned int i, unsigned int n,
				 const unsigned char *base, uint64_t div)
{
	unsigned int end, j;

	if (!BT__IS_GROUP(f[i].kind)) {
		bt__fmt_field(b, &f[i], base, div);
		return i + 1;
	}
	end = bt__skip(f, i, n);
	if (f[i].kind == BT_KIND_STRUCT) {	/* { .a = 1, .b = 2 } */
		bt__sb_puts(b, "{ ");
		for (j = i + 1; j < end;) {
			if (j != i + 1)
				bt__sb_puts(b, ", ");
			bt__sb_putc(b, '.');
			bt__sb_puts(b, f[j].name ? f[j].name : "");
			bt__sb_puts(b, " = ");
			j = bt__fmt_item(b, f, j, end, base, 1);
		}
		bt__sb_puts(b, " }");
		return end;
	}
	if (f[i].kind == BT_KIND_ARRAY) {	/* [1,2,3] */
		bt__sb_putc(b, '[');
		for (j = i + 1; j < end;) {
			if (j != i + 1)
				bt__sb_putc(b, ',');
			j = bt__fmt_item(b, f, j, end, base, 1);
		}
		bt__sb_putc(b, ']');
		return end;
	}
	bt__sb_putc(b, '(');
	bt__fmt_items(b, f, i + 1, end, base, div);
	bt__sb_putc(b, ')');
	return end;
}

/* Render a key or plain value: a single field, or "(a, b, ...)". */
static void bt__fmt_layout(struct bt__sb *b, const struct bt_layout *l,
			   const unsigned char *base, uint64_t div)
{
	int parens = l->tuple || bt__ntop(l) > 1;

	if (parens)
		bt__sb_putc(b, '(');
	bt__fmt_items(b, l->fields, 0, l->nfields, base, div);
	if (parens)
		bt__sb_putc(b, ')');
}

/*
 * Render a key as it goes between "@x[" and "]".  bpftrace formats the key
 * like a value and then drops one pair of enclosing parentheses: a
 * multi-key "(a, b)" becomes "a, b", and a string key "(hi)" becomes "hi"
 * as well.
 */
static void bt__fmt_key(struct bt__sb *b, const struct bt_map *m,
			const unsigned char *key)
{
	const struct bt_layout *l = &m->key;
	unsigned int ntop = bt__ntop(l);

	if (l->tuple || ntop > 1) {
		bt__fmt_items(b, l->fields, 0, l->nfields, key, 1);
	} else if (ntop == 1 && l->fields[0].kind == BT_KIND_TUPLE) {
		bt__fmt_items(b, l->fields, 1, l->nfields, key, 1);
	} else if (ntop == 1 && l->fields[0].kind == BT_KIND_STR) {
		const struct bt_field *f = &l->fields[0];
		const unsigned char *p = key + f->offset;
		size_t len = bt__strnlen(p, f->size);

		/* a truncated string ends in "..", never in ')' */
		if (len < f->size && len >= 2 && p[0] == '(' &&
		    p[len - 1] == ')')
			bt__sb_write(b, p + 1, len - 2);
		else
			bt__fmt_field(b, f, key, 1);
	} else {
		bt__fmt_layout(b, l, key, 1);
	}
}

/* Print a key or plain value: a single field, or "(a, b, ...)". */
static void bt__print_layout(FILE *out, const struct bt_layout *l,
			     const unsigned char *base, uint64_t div)
{
	struct bt__sb b = { 0 };

	bt__fmt_layout(&b, l, base, div);
	bt__sb_flush(&b, out);
}

/* Print "@x[key]" (just "@x" for a scalar). */
static void bt__print_name_key(FILE *out, const struct bt_map *m,
			       const unsigned char *key)
{
	struct bt__sb b = { 0 };

	fputs(m->name, out);
	if (m->scalar)
		return;
	fputc('[', out);
	bt__fmt_key(&b, m, key);
	bt__sb_flush(&b, out);
	fputc(']', out);
}

/* Print a non-histogram value (the part after "@x: "). */
static void bt__print_value(FILE *out, const struct bt_map *m,
			    const unsigned char *v, uint64_t div)
{
	int64_t total, count, avg;

	switch (m->agg) {
	case BT_AGG_COUNT:
		fprintf(out, "%llu",
			(unsigned long long)(bt__get_uint(v, 8) / div));
		break;
	case BT_AGG_SUM:
	case BT_AGG_MIN:
	case BT_AGG_MAX:
		fprintf(out, "%lld",
			(long long)(bt__get_int(v, 8) / (int64_t)div));
		break;
	case BT_AGG_AVG:
	case BT_AGG_STATS:
		total = bt__get_int(v, 8);
		count = bt__get_int(v + 8, 8);
		avg = count ? total / count : 0;
		if (m->agg == BT_AGG_AVG)
			fprintf(out, "%lld", (long long)(avg / (int64_t)div));
		else
			fprintf(out,
				"{ .count = %lld, .average = %lld, .total = %lld }",
				(long long)count, (long long)(avg / (int64_t)div),
				(long long)total);
		break;
	default:
		bt__print_layout(out, &m->value, v, div);
		break;
	}
}

/* A histogram bucket boundary: a plain number or a text like "4K". */
struct bt__label {
	int exists;		/* lhist: boundaries above max do not */
	int is_num;		/* plain numbers may collapse to "[n]" */
	long long num;
	char text[32];
};

/* Lower bound of hist bucket j + 1 (= upper bound of bucket j). */
static void bt__hist_label(struct bt__label *l, unsigned int j, int bits)
{
	unsigned int n = 1u << bits, power, decade;

	l->exists = 1;
	if (j <= 2 * n) {
		/* buckets 1..2N hold the single values 0..2N-1 */
		l->is_num = 1;
		l->num = j;
		snprintf(l->text, sizeof(l->text), "%u", j);
		return;
	}
	/* 2^power * (N + sub-interval), with a K/M/G/T/P/E suffix */
	power = (j >> bits) - 1;
	decade = power / 10;
	l->is_num = 0;
	l->num = 0;
	snprintf(l->text, sizeof(l->text), "%llu",
		 (1ULL << (power - 10 * decade)) * (n + (j & (n - 1))));
	if (decade)
		strncat(l->text, &"\0KMGTPE"[decade], 1);
}

/* Lower bound of lhist bucket i + 1: min + i * step, if <= max. */
static void bt__lhist_label(struct bt__label *l, const struct bt_map *m,
			    long long i)
{
	long long v = m->lhist_min + i * m->lhist_step;
	const long long kilo = 1024, mega = 1024 * 1024;

	l->exists = v <= m->lhist_max;
	l->num = v;
	if (m->lhist_step % kilo != 0) {
		l->is_num = 1;
		snprintf(l->text, sizeof(l->text), "%lld", v);
		return;
	}
	l->is_num = 0;
	if (v != 0 && v % mega == 0)
		snprintf(l->text, sizeof(l->text), "%lldM", v / mega);
	else if (v != 0 && v % kilo == 0)
		snprintf(l->text, sizeof(l->text), "%lldK", v / kilo);
	else
		snprintf(l->text, sizeof(l->text), "%lld", v);
}

static void bt__bucket_label(struct bt__label *l, const struct bt_map *m,
			     long long i)
{
	if (m->agg == BT_AGG_HIST)
		bt__hist_label(l, (unsigned int)i, m->hist_bits);
	else
		bt__lhist_label(l, m, i);
}

/* Print the bucket lines of a hist/lhist value (nothing if all empty). */
static void bt__print_hist(FILE *out, const struct bt_map *m,
			   const unsigned char *v, unsigned int nb,
			   uint64_t div)
{
	long long first = -1, last = -1, i;
	uint64_t maxc = 0;

	if (m->agg == BT_AGG_LHIST)
		div = 1;	/* bpftrace ignores div for lhist */

	/* Trim empty buckets at both ends; bpftrace tests (int)count > 0. */
	for (i = 0; i < nb; i++) {
		if ((int32_t)(uint32_t)bt__get_uint(v + 8 * i, 8) > 0) {
			if (first < 0)
				first = i;
			last = i;
		}
	}
	if (first < 0)
		return;
	for (i = first; i <= last; i++) {
		uint64_t c = bt__get_uint(v + 8 * i, 8) / div;

		if (c > maxc)
			maxc = c;
	}

	for (i = first; i <= last; i++) {
		uint64_t c = bt__get_uint(v + 8 * i, 8) / div;
		struct bt__label lo, hi;
		char head[80];
		int w = 0, k;

		/* bucket i spans [label(i - 1), label(i)) */
		bt__bucket_label(&hi, m, i);
		if (i == 0)
			snprintf(head, sizeof(head), "(..., %s)", hi.text);
		else {
			bt__bucket_label(&lo, m, i - 1);
			if (!hi.exists)
				snprintf(head, sizeof(head), "[%s, ...)",
					 lo.text);
			else if (lo.is_num && hi.is_num && lo.num + 1 == hi.num)
				snprintf(head, sizeof(head), "[%s]", lo.text);
			else
				snprintf(head, sizeof(head), "[%s, %s)",
					 lo.text, hi.text);
		}
		if (maxc) {
			/* same single-precision arithmetic as bpftrace */
			float frac = (float)c / (float)maxc;
			float scaled = frac * (float)BT__BAR_WIDTH;

			w = (int)scaled;
		}
		fprintf(out, "%-16s%8llu |", head, (unsigned long long)c);
		for (k = 0; k < BT__BAR_WIDTH; k++)
			fputc(k < w ? '@' : ' ', out);
		fputs("|\n", out);
	}
}

/* Read a map and put its entries in the order bpftrace prints them. */
static int bt__snap_sorted(const struct bt_map *m, struct bt__snap *s)
{
	int err = bt__snap_read(m, s);

	if (err)
		return err;
	err = bt__order(m, s);
	if (err)
		bt__snap_free(s);
	return err;
}

/* print(@x, top, div) and the exit dump; at_exit skips empty scalars. */
static int bt__print(FILE *out, const struct bt_map *m, int top, int div,
		     int at_exit)
{
	struct bt__snap s;
	size_t i, skip = 0;
	uint64_t udiv = div > 0 ? (uint64_t)div : 1;
	int err;

	err = bt__snap_sorted(m, &s);
	if (err)
		return err;
	if (top > 0 && s.n > (size_t)top)
		skip = s.n - (size_t)top;
#ifdef BT_TSERIES
	if (m->agg == BT_AGG_TSERIES) {
		/* bpftrace ignores top and div here */
		err = s.n ? bt__tseries_print(out, m, &s) : 0;
		bt__snap_free(&s);
		return err;
	}
#endif

	if (s.n == 0 && m->scalar && !bt__is_hist(m) && !at_exit) {
		/* print() of an empty scalar shows a zero value */
		unsigned char *zero = calloc(1, bt__value_size(m) + 16);

		if (!zero) {
			bt__snap_free(&s);
			return -1;
		}
		fprintf(out, "%s: ", m->name);
		bt__print_value(out, m, zero, udiv);
		fputc('\n', out);
		free(zero);
	}

	for (i = skip; i < s.n; i++) {
		const struct bt__ent *e = &s.ents[i];

		bt__print_name_key(out, m, e->key);
		if (bt__is_hist(m)) {
			fputs(":\n", out);
			unsigned int nb = s.val_size / 8;

			if (m->nbuckets && m->nbuckets < nb)
				nb = m->nbuckets;
			bt__print_hist(out, m, e->val, nb, udiv);
			fputc('\n', out);
		} else {
			fputs(": ", out);
			bt__print_value(out, m, e->val, udiv);
			fputc('\n', out);
		}
		if (m->scalar)
			break;
	}
	bt__snap_free(&s);
	return 0;
}

/* ---- JSON output (-f json) ----------------------------------------------- */

/*
 * bpftrace writes JSON through a C++ stream, and two of its quirks show in
 * the output, so they are reproduced here:
 *  - a control character in a string is written as "\u%04x" of the *plain
 *    char*, which is signed on x86-64: a byte >= 0x80 (UTF-8) comes out as
 *    "\uffffffc3" and not as the byte;
 *  - that escape switches the stream to hexadecimal for good (std::hex is
 *    sticky), and the only numbers bpftrace then streams directly, the
 *    bucket counts of histograms, come out in hex ("count": c) from then on.
 *    Every other number is formatted with std::to_string and stays decimal.
 * Integers that a double cannot hold exactly (beyond 2^53) are written as
 * strings: "9007199254740993".
 */
static int bt__json_hex;	/* a \u escape was written: counts go hex */

/* A JSON string of `len` bytes, escaped like bpftrace. */
static BT_UNUSED void bt_json_string(FILE *out, const char *s, size_t len)
{
	size_t i;

	fputc('"', out);
	for (i = 0; i < len; i++) {
		char c = s[i];

		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c <= '\x1f') {	/* signed char: bytes >= 0x80 too */
				fprintf(out, "\\u%04x", (unsigned int)(int)c);
				bt__json_hex = 1;
			} else {
				fputc(c, out);
			}
		}
	}
	fputc('"', out);
}

/* A buf() value as JSON: an array of its bytes, as signed chars (bpftrace's). */
static BT_UNUSED void bt_json_buf(FILE *out, const void *v)
{
	const unsigned char *p = v;
	uint32_t len, i;

	memcpy(&len, p, sizeof(len));
	fputc('[', out);
	for (i = 0; i < len && i < 1024; i++)
		fprintf(out, i ? ",%d" : "%d", (int)(signed char)p[8 + i]);
	fputc(']', out);
}

/* A buf(), ntop() or macaddr() value as JSON (print() of one). */
static BT_UNUSED void bt_json_bytes(FILE *out, int kind, const void *p)
{
	const char *text;

	if (kind == BT_KIND_BUF) {
		bt_json_buf(out, p);
		return;
	}
	text = bt__bytes_text(kind, p, 0);
	bt_json_string(out, text, strlen(text));
}

/*
 * printf("%s") of a char[cap] string: itself when it has its NUL, else (a str() that
 * filled max_strlen bytes) a NUL-terminated copy with bpftrace's ".." trailer.
 */
static BT_UNUSED const char *bt_str_text(const char *s, size_t cap)
{
	static char *texts[8];
	static size_t sizes[8];
	static unsigned int next;
	size_t len = bt__strnlen((const unsigned char *)s, cap);
	unsigned int i = next++ % 8;

	if (len < cap)
		return s;
	if (sizes[i] < len + 3) {
		char *t = realloc(texts[i], len + 3);

		if (!t)
			return "";
		texts[i] = t;
		sizes[i] = len + 3;
	}
	memcpy(texts[i], s, len);
	memcpy(texts[i] + len, "..", 3);
	return texts[i];
}

/* A char[cap] value: up to its NUL, ".." appended when it has none. */
static BT_UNUSED void bt_json_str(FILE *out, const char *s, size_t cap)
{
	size_t len = bt__strnlen((const unsigned char *)s, cap);

	if (len < cap) {
		bt_json_string(out, s, len);
	} else {
		char *t = malloc(len + 2);

		if (!t) {
			bt_json_string(out, s, len);
			return;
		}
		memcpy(t, s, len);
		memcpy(t + len, "..", 2);
		bt_json_string(out, t, len + 2);
		free(t);
	}
}

/* Does a double hold this magnitude exactly (at most 53 significant bits)? */
static int bt__json_exact(uint64_t v)
{
	while (v && !(v & 1))
		v >>= 1;
	return v < (1ULL << 53);
}

static BT_UNUSED void bt_json_i64(FILE *out, long long v)
{
	uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;

	fprintf(out, bt__json_exact(mag) ? "%lld" : "\"%lld\"", v);
}

static BT_UNUSED void bt_json_u64(FILE *out, unsigned long long v)
{
	fprintf(out, bt__json_exact(v) ? "%llu" : "\"%llu\"", v);
}

/* A number bpftrace streams directly: decimal, or hex after a \u escape. */
static BT_UNUSED void bt_json_streamed_u64(FILE *out, unsigned long long v)
{
	fprintf(out, bt__json_hex ? "%llx" : "%llu", v);
}

/* Every JSON record is one line: {"type": "TYPE", "data": ...}. */
static BT_UNUSED void bt_json_begin(FILE *out, const char *type)
{
	fprintf(out, "{\"type\": \"%s\", \"data\": ", type);
}

static BT_UNUSED void bt_json_end(FILE *out)
{
	fputs("}\n", out);
}

/* JSON of entry f[i], a field or a nested tuple (an array); returns the
 * next index. */
static unsigned int bt__json_item(FILE *out, const struct bt_field *f,
				  unsigned int i, unsigned int n,
				  const unsigned char *base, uint64_t div)
{
	const unsigned char *p = base + f[i].offset;
	unsigned int end, j;

	switch (f[i].kind) {
	case BT_KIND_TUPLE:
		end = bt__skip(f, i, n);
		fputc('[', out);
		for (j = i + 1; j < end;) {
			if (j != i + 1)
				fputc(',', out);	/* arrays are unspaced */
			j = bt__json_item(out, f, j, end, base, div);
		}
		fputc(']', out);
		return end;
	case BT_KIND_ARRAY:
		end = bt__skip(f, i, n);
		fputc('[', out);
		for (j = i + 1; j < end;) {
			if (j != i + 1)
				fputc(',', out);
			j = bt__json_item(out, f, j, end, base, 1);
		}
		fputc(']', out);
		return end;
	case BT_KIND_STRUCT:	/* {"a": 1, "b": 2} */
		end = bt__skip(f, i, n);
		fputc('{', out);
		for (j = i + 1; j < end;) {
			fprintf(out, "%s\"%s\": ", j != i + 1 ? ", " : "", f[j].name ? f[j].name : "");
			j = bt__json_item(out, f, j, end, base, 1);
		}
		fputc('}', out);
		return end;
	case BT_KIND_BUF:
		bt_json_buf(out, p);
		break;
	case BT_KIND_INET:
	case BT_KIND_MAC: {
		const char *text = bt__bytes_text(f[i].kind, p, 0);

		bt_json_string(out, text, strlen(text));
		break;
	}
	case BT_KIND_STR:
		bt_json_str(out, (const char *)p, f[i].size);
		break;
#ifdef BT_FORMATTED
	case BT_KIND_TIMESTAMP:
	case BT_KIND_TAI_TIMESTAMP:
	case BT_KIND_USERNAME:
#endif
#ifdef BT_CGROUP_PATH
	case BT_KIND_CGROUP_PATH:
#endif
#if defined(BT_FORMATTED) || defined(BT_CGROUP_PATH)
	{
		struct bt__sb b = { 0 };

		bt__fmt_field(&b, &f[i], base, 1);
		bt_json_string(out, b.buf ? b.buf : "", b.len);
		free(b.buf);
		break;
	}
#endif
#ifdef BT_SYMBOLS
	case BT_KIND_KSTACK:
	case BT_KIND_USTACK:
	case BT_KIND_KSYM:
	case BT_KIND_USYM: {
		const char *text = bt_sym_format(p, f[i].kind, f[i].size >> 8, f[i].size & 0xff);

		bt_json_string(out, text, strlen(text));
		break;
	}
#endif
	case BT_KIND_INT:
		if (f[i].bits) {
			struct bt__sb b = { 0 };

			bt__fmt_field(&b, &f[i], base, 1);
			bt__sb_putc(&b, 0);
			fputs(b.buf, out);
			free(b.buf);
			break;
		}
		bt_json_i64(out, bt__get_int(p, f[i].size) / (int64_t)div);
		break;
	case BT_KIND_BOOL:
		fputs(bt__get_uint(p, f[i].size) ? "true" : "false", out);
		break;
	default:
		if (f[i].bits) {
			struct bt__sb b = { 0 };

			bt__fmt_field(&b, &f[i], base, 1);
			bt__sb_putc(&b, 0);
			fputs(b.buf, out);
			free(b.buf);
			break;
		}
		bt_json_u64(out, bt__get_uint(p, f[i].size) / div);
		break;
	}
	return i + 1;
}

/* JSON of a plain value: a single field, or an array for a tuple. */
static void bt__json_layout(FILE *out, const struct bt_layout *l,
			    const unsigned char *base, uint64_t div)
{
	unsigned int i;

	if (!l->tuple && bt__ntop(l) == 1) {
		bt__json_item(out, l->fields, 0, l->nfields, base, div);
		return;
	}
	fputc('[', out);
	for (i = 0; i < l->nfields;) {
		if (i)
			fputc(',', out);
		i = bt__json_item(out, l->fields, i, l->nfields, base, div);
	}
	fputc(']', out);
}

/*
 * A key as a JSON object member name: bpftrace takes the key's text (as in
 * "@x[...]"), and removes every space from it, the spaces inside strings
 * included: @x[1, "a b"] is "1,ab".
 */
static void bt__json_key(FILE *out, const struct bt_map *m,
			 const unsigned char *key)
{
	struct bt__sb b = { 0 };
	size_t i, k = 0;

	bt__fmt_key(&b, m, key);
	for (i = 0; i < b.len; i++)
		if (b.buf[i] != ' ')
			b.buf[k++] = b.buf[i];
	bt_json_string(out, b.buf ? b.buf : "", k);
	free(b.buf);
}

/*
 * Numeric lower bound of bucket i + 1 of a hist/lhist (see bt__hist_label):
 * bpftrace keeps small hist bounds and all lhist bounds as signed numbers
 * and the power-of-two hist bounds ("4K") as unsigned ones, and the
 * difference shows in the "max" of a bucket, which is that bound minus one.
 */
static int bt__json_bound(const struct bt_map *m, long long i,
			  uint64_t *value, int *is_unsigned)
{
	*is_unsigned = 0;
	if (m->agg == BT_AGG_LHIST) {
		long long v = m->lhist_min + i * m->lhist_step;

		*value = (uint64_t)v;
		return v <= m->lhist_max;
	}
	{
		unsigned int bits = m->hist_bits, n = 1u << bits;
		unsigned int j = (unsigned int)i, power;

		if (j <= 2 * n) {
			*value = j;
			return 1;
		}
		power = (j >> bits) - 1;
		*value = (1ULL << power) * (n + (j & (n - 1)));
		*is_unsigned = 1;
		return 1;
	}
}

/*
 * A histogram: [{"min": A, "max": B, "count": C},...] over the buckets from
 * the first to the last nonempty one.  "min" is the bucket's lower bound
 * (none for the bucket of values below everything), "max" its upper bound
 * minus one (none for lhist's bucket above max).
 */
static void bt__json_hist(FILE *out, const struct bt_map *m,
			  const unsigned char *v, unsigned int nb,
			  uint64_t div)
{
	long long first = -1, last = -1, i;

	if (m->agg == BT_AGG_LHIST)
		div = 1;	/* bpftrace ignores div for lhist */
	for (i = 0; i < nb; i++) {
		if ((int32_t)(uint32_t)bt__get_uint(v + 8 * i, 8) > 0) {
			if (first < 0)
				first = i;
			last = i;
		}
	}
	fputc('[', out);
	for (i = first; first >= 0 && i <= last; i++) {
		uint64_t bound;
		int is_unsigned;

		if (i != first)
			fputc(',', out);
		fputc('{', out);
		if (i > 0) {
			bt__json_bound(m, i - 1, &bound, &is_unsigned);
			fputs("\"min\": ", out);
			if (is_unsigned)
				bt_json_u64(out, bound);
			else
				bt_json_i64(out, (int64_t)bound);
			fputs(", ", out);
		}
		if (bt__json_bound(m, i, &bound, &is_unsigned)) {
			fputs("\"max\": ", out);
			if (is_unsigned && bound == 0)
				bt_json_i64(out, -1);
			else
				bt_json_i64(out, (int64_t)(bound - 1));
			fputs(", ", out);
		}
		fputs("\"count\": ", out);
		bt_json_streamed_u64(out, bt__get_uint(v + 8 * i, 8) / div);
		fputc('}', out);
	}
	fputc(']', out);
}

/* JSON of one map value (the part after "@x": or "key":). */
static void bt__json_value(FILE *out, const struct bt_map *m,
			   const unsigned char *v, unsigned int nb,
			   uint64_t div)
{
	int64_t total, count, avg;

	switch (m->agg) {
	case BT_AGG_COUNT:
		bt_json_u64(out, bt__get_uint(v, 8) / div);
		break;
	case BT_AGG_SUM:
	case BT_AGG_MIN:
	case BT_AGG_MAX:
		bt_json_i64(out, bt__get_int(v, 8) / (int64_t)div);
		break;
	case BT_AGG_AVG:
	case BT_AGG_STATS:
		total = bt__get_int(v, 8);
		count = bt__get_int(v + 8, 8);
		avg = count ? total / count : 0;
		if (m->agg == BT_AGG_AVG) {
			bt_json_i64(out, avg / (int64_t)div);
			break;
		}
		fputs("{\"count\": ", out);
		bt_json_i64(out, count);
		fputs(", \"average\": ", out);
		bt_json_i64(out, avg / (int64_t)div);
		fputs(", \"total\": ", out);
		bt_json_i64(out, total);
		fputc('}', out);
		break;
	case BT_AGG_HIST:
	case BT_AGG_LHIST:
		bt__json_hist(out, m, v, nb, div);
		break;
	default:
		bt__json_layout(out, &m->value, v, div);
		break;
	}
}

/*
 * print(@x) and the exit dump with -f json: one line
 *   {"type": "map", "data": {"@x": VALUE}}                     scalar
 *   {"type": "map", "data": {"@x": {"KEY": VALUE, ...}}}       keyed
 * of type "stats" for avg/stats maps, "hist" for hist/lhist maps.  An
 * empty map prints nothing, except that print() of an empty scalar shows
 * a zero value (as in text) and that an empty avg/stats map prints
 * {"@x": {}}, at exit too (a bpftrace quirk: its "skip empty maps" test
 * does not see through the stats wrapper).
 */
static int bt__print_json(FILE *out, const struct bt_map *m, int top, int div,
			  int at_exit)
{
	struct bt__snap s;
	size_t i, skip = 0;
	uint64_t udiv = div > 0 ? (uint64_t)div : 1;
	int stats = m->agg == BT_AGG_AVG || m->agg == BT_AGG_STATS;
	const char *type = stats ? "stats" : bt__is_hist(m) ? "hist" : "map";
	unsigned int nb;
	int err;

	err = bt__snap_sorted(m, &s);
	if (err)
		return err;
	if (top > 0 && s.n > (size_t)top)
		skip = s.n - (size_t)top;
	nb = s.val_size / 8;
	if (m->nbuckets && m->nbuckets < nb)
		nb = m->nbuckets;
#ifdef BT_TSERIES
	if (m->agg == BT_AGG_TSERIES) {
		err = s.n ? bt__tseries_json(out, m, &s) : 0;
		bt__snap_free(&s);
		return err;
	}
#endif

	if (s.n == 0) {
		if (m->scalar && !bt__is_hist(m) && !at_exit) {
			unsigned char *zero = calloc(1, bt__value_size(m) + 16);

			if (!zero) {
				bt__snap_free(&s);
				return -1;
			}
			bt_json_begin(out, type);
			fputc('{', out);
			bt_json_string(out, m->name, strlen(m->name));
			fputs(": ", out);
			bt__json_value(out, m, zero, 0, udiv);
			fputc('}', out);
			bt_json_end(out);
			free(zero);
		} else if (stats) {
			bt_json_begin(out, type);
			fputc('{', out);
			bt_json_string(out, m->name, strlen(m->name));
			fputs(": {}}", out);
			bt_json_end(out);
		}
		bt__snap_free(&s);
		return 0;
	}

	bt_json_begin(out, type);
	fputc('{', out);
	bt_json_string(out, m->name, strlen(m->name));
	fputs(": ", out);
	if (m->scalar) {
		bt__json_value(out, m, s.ents[skip].val, nb, udiv);
	} else {
		fputc('{', out);
		for (i = skip; i < s.n; i++) {
			if (i != skip)
				fputs(", ", out);	/* objects are spaced */
			bt__json_key(out, m, s.ents[i].key);
			fputs(": ", out);
			bt__json_value(out, m, s.ents[i].val, nb, udiv);
		}
		fputc('}', out);
	}
	fputc('}', out);
	bt_json_end(out);
	bt__snap_free(&s);
	return 0;
}

/* ---- public API ---------------------------------------------------------- */

/*
 * print(@x) / print(@x, top, div): top > 0 keeps only the last `top`
 * entries of the sorted order, div > 0 divides the printed values.
 * Printed as text or JSON as bt_format says.
 * Returns 0, or -1 if the map could not be read.
 */
static BT_UNUSED int bt_print_map(FILE *out, const struct bt_map *m,
				  int top, int div)
{
	if (bt_format == BT_FORMAT_JSON)
		return bt__print_json(out, m, top, div, 0);
	return bt__print(out, m, top, div, 0);
}

/* print(@x, top, div) as one JSON line, whatever bt_format says. */
static BT_UNUSED int bt_print_map_json(FILE *out, const struct bt_map *m,
				       int top, int div)
{
	return bt__print_json(out, m, top, div, 0);
}

/* One map of the exit dump. */
static void bt__print_as(FILE *out, const struct bt_map *m, int json)
{
	if (json)
		bt__print_json(out, m, 0, 0, 1);
	else
		bt__print(out, m, 0, 0, 1);
}

/*
 * What bpftrace prints when it exits: in text, two newlines (even with no
 * maps); then every map sorted by name (byte order, so "@" < "@A" < "@_" <
 * "@a"), each printed like print(@x) except that empty scalar maps are
 * left out.
 */
static BT_UNUSED void bt_print_maps_at_exit(FILE *out,
					     const struct bt_map *maps, int n)
{
	const struct bt_map **order;
	int json = bt_format == BT_FORMAT_JSON;
	int i, j, k;

	if (!json)
		fputs("\n\n", out);
	if (n <= 0)
		return;
	order = malloc(n * sizeof(*order));
	if (!order) {
		for (i = 0; i < n; i++)
			if (maps[i].name)
				bt__print_as(out, &maps[i], json);
		return;
	}
	/* insertion sort by name; entries without a name are placeholders */
	for (i = 0, k = 0; i < n; i++) {
		const struct bt_map *m = &maps[i];

		if (!m->name)
			continue;
		for (j = k; j > 0 && strcmp(m->name, order[j - 1]->name) < 0; j--)
			order[j] = order[j - 1];
		order[j] = m;
		k++;
	}
	for (i = 0; i < k; i++)
		bt__print_as(out, order[i], json);
	free(order);
}

/*
 * zero(@x): set every value to zero and keep the keys.  The keys are
 * collected first because rewriting a hash element moves it.
 */
static BT_UNUSED int bt_zero_map(const struct bt_map *m)
{
	struct bpf_map_info info;
	unsigned char *keys = NULL, *zero = NULL, *prev = NULL, *next = NULL;
	size_t n = 0, cap = 0, i, vsize, ksize, ncpu;
	int err = 0;

	bt__map_info(m, &info);
	ksize = info.key_size ? info.key_size : (m->scalar ? 4 : m->key.size);
	vsize = info.value_size ? info.value_size : bt__value_size(m);
	ncpu = bt__is_percpu(m, &info) ? (size_t)bt__ncpus() : 1;
	zero = calloc(ncpu, (vsize + 7) / 8 * 8);
	next = malloc(ksize ? ksize : 1);
	if (!zero || !next) {
		err = -1;
		goto out;
	}
	while (bpf_map_get_next_key(m->fd, prev, next) == 0) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			unsigned char *nk = realloc(keys, ncap * ksize);

			if (!nk) {
				err = -1;
				goto out;
			}
			keys = nk;
			cap = ncap;
		}
		memcpy(keys + n * ksize, next, ksize);
		prev = keys + n * ksize;
		n++;
	}
	for (i = 0; i < n; i++) {
		/* an element deleted meanwhile stays deleted */
		bpf_map_update_elem(m->fd, keys + i * ksize, zero, BPF_EXIST);
	}
out:
	free(keys);
	free(zero);
	free(next);
	return err;
}

/*
 * clear(@x): delete every element.  Array maps cannot delete, so they are
 * zeroed instead.
 */
static BT_UNUSED int bt_clear_map(const struct bt_map *m)
{
	struct bpf_map_info info;
	unsigned char *key;
	size_t ksize;
	int err = 0;

	bt__map_info(m, &info);
	if (info.type == BPF_MAP_TYPE_ARRAY ||
	    info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		return bt_zero_map(m);
	ksize = info.key_size ? info.key_size : (m->scalar ? 4 : m->key.size);
	key = malloc(ksize ? ksize : 1);
	if (!key)
		return -1;
	/* always delete the first key: iteration state dies with deletion */
	while (bpf_map_get_next_key(m->fd, NULL, key) == 0) {
		if (bpf_map_delete_elem(m->fd, key)) {
			err = -1;
			break;
		}
	}
	free(key);
	return err;
}
