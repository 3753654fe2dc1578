// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * driver.c - test driver for templates/runtime/maps.c and
 * templates/bpf/aggregates.h.
 *
 * It creates real BPF maps, fills them from user space the way a generated
 * BPF program would (same value layouts, bucket indexes from the real
 * bt_hist_index()/bt_lhist_index()), and prints them with the runtime.
 * Its stdout must equal bpftrace-ref's stdout for the equivalent script in
 * tests/runtime/cases.py (recorded in tests/runtime/expected/).
 *
 *   driver [-f json] case NAME            a hand-written case below
 *   (-f json, before any of these: print as JSON)
 *   driver hist BITS V...                 @h = hist(V, BITS) for each V
 *   driver lhist MIN MAX STEP V...        @l = lhist(V, MIN, MAX, STEP)
 *   driver uidx MIN MAX STEP V...         bucket indexes computed here
 *   driver kidx OBJ MIN MAX STEP V...     ... and by index_prog.bpf.o
 *
 * Needs root (BPF).  Build:
 *   gcc -Itemplates/bpf -Itemplates/runtime tests/runtime/driver.c -lbpf
 */
#include <linux/types.h>
#include <stdarg.h>

/* user-space stand-ins for what vmlinux.h/bpf_helpers.h give BPF code */
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#include "aggregates.h"
#include "maps.c"

/* ---- plumbing ----------------------------------------------------------- */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static struct bt_layout layout(unsigned int size, unsigned int n, int tuple,
			       const struct bt_field *f)
{
	struct bt_layout l = { size, n, tuple, f };

	return l;
}

/* Create the kernel map of a descriptor: (per-CPU) hash, like bt2c. */
static struct bt_map create(struct bt_map m)
{
	unsigned int ks = m.scalar ? 4 : m.key.size;
	unsigned int vs = bt__value_size(&m);

	m.fd = bpf_map_create(m.percpu ? BPF_MAP_TYPE_PERCPU_HASH :
					 BPF_MAP_TYPE_HASH,
			      NULL, ks, vs, 4096, NULL);
	if (m.fd < 0)
		die("bpf_map_create(%s): %d", m.name, m.fd);
	return m;
}

/* A map of `agg` (not HIST/LHIST); key NULL makes it a scalar. */
static struct bt_map agg_map(const char *name, const struct bt_layout *key,
			     int agg, int percpu)
{
	struct bt_map m = { 0 };

	m.name = name;
	m.scalar = key == NULL;
	if (key)
		m.key = *key;
	m.agg = agg;
	m.percpu = percpu;
	return create(m);
}

/* A map of plain values (int, string or tuple). */
static struct bt_map val_map(const char *name, const struct bt_layout *key,
			     struct bt_layout val)
{
	struct bt_map m = { 0 };

	m.name = name;
	m.scalar = key == NULL;
	if (key)
		m.key = *key;
	m.agg = BT_AGG_NONE;
	m.value = val;
	return create(m);
}

static struct bt_map hist_map(const char *name, const struct bt_layout *key,
			      int bits, int percpu)
{
	struct bt_map m = { 0 };

	m.name = name;
	m.scalar = key == NULL;
	if (key)
		m.key = *key;
	m.agg = BT_AGG_HIST;
	m.percpu = percpu;
	m.hist_bits = bits;
	m.nbuckets = BT_HIST_NBUCKETS(bits);
	return create(m);
}

static struct bt_map lhist_map(const char *name, const struct bt_layout *key,
			       long long min, long long max, long long step,
			       int percpu)
{
	struct bt_map m = { 0 };

	m.name = name;
	m.scalar = key == NULL;
	if (key)
		m.key = *key;
	m.agg = BT_AGG_LHIST;
	m.percpu = percpu;
	m.lhist_min = min;
	m.lhist_max = max;
	m.lhist_step = step;
	m.nbuckets = BT_LHIST_NBUCKETS(min, max, step);
	return create(m);
}

/* Key helpers: fill a zeroed scratch key (the map uses its key size). */
static unsigned char kbuf[64];

static const void *ki(long long v)
{
	memset(kbuf, 0, sizeof(kbuf));
	memcpy(kbuf, &v, sizeof(v));
	return kbuf;
}

static const void *ku8(unsigned char v)
{
	memset(kbuf, 0, sizeof(kbuf));
	kbuf[0] = v;
	return kbuf;
}

static const void *kstr(const char *s)
{
	memset(kbuf, 0, sizeof(kbuf));
	strncpy((char *)kbuf, s, sizeof(kbuf) - 1);
	return kbuf;
}

/* (int64, char[8]) */
static const void *kis(long long i, const char *s)
{
	memset(kbuf, 0, sizeof(kbuf));
	memcpy(kbuf, &i, 8);
	strncpy((char *)kbuf + 8, s, 8);
	return kbuf;
}

static const __u32 scalar_key;

static const void *map_key(const struct bt_map *m, const void *key)
{
	return m->scalar ? (const void *)&scalar_key : key;
}

static int stride_of(const struct bt_map *m)
{
	return (bt__value_size(m) + 7) / 8 * 8;
}

/* Read all CPU copies of an element (zeros when missing). */
static unsigned char *load(const struct bt_map *m, const void *key)
{
	int ncpu = m->percpu ? bt__ncpus() : 1;
	unsigned char *buf = calloc(ncpu, stride_of(m));

	if (!buf)
		die("out of memory");
	if (bpf_map_lookup_elem(m->fd, map_key(m, key), buf))
		memset(buf, 0, (size_t)ncpu * stride_of(m));
	return buf;
}

static void store(const struct bt_map *m, const void *key, void *buf)
{
	int err = bpf_map_update_elem(m->fd, map_key(m, key), buf, BPF_ANY);

	if (err)
		die("bpf_map_update_elem(%s): %d", m->name, err);
	free(buf);
}

/*
 * What the BPF program does for @m[key] = agg(v) on CPU `cpu`
 * (count() ignores v).
 */
static void agg_cpu(const struct bt_map *m, const void *key, int cpu,
		    long long v)
{
	unsigned char *buf = load(m, key);
	__u64 *p;
	__u32 idx;

	if (cpu >= (m->percpu ? bt__ncpus() : 1))
		cpu = 0;
	p = (__u64 *)(buf + (size_t)cpu * stride_of(m));
	switch (m->agg) {
	case BT_AGG_COUNT:
		p[0] += 1;
		break;
	case BT_AGG_SUM:
		p[0] += (__u64)v;
		break;
	case BT_AGG_MIN:
		if (!p[1] || v < (long long)p[0])
			p[0] = (__u64)v;
		p[1] = 1;
		break;
	case BT_AGG_MAX:
		if (!p[1] || v > (long long)p[0])
			p[0] = (__u64)v;
		p[1] = 1;
		break;
	case BT_AGG_AVG:
	case BT_AGG_STATS:
		p[0] += (__u64)v;
		p[1] += 1;
		break;
	case BT_AGG_HIST:
		idx = bt_hist_index(v, m->hist_bits);
		if (idx >= m->nbuckets)
			die("hist index %u out of range for %lld", idx, v);
		p[idx]++;
		break;
	case BT_AGG_LHIST:
		idx = bt_lhist_index(v, m->lhist_min, m->lhist_max,
				     m->lhist_step);
		if (idx >= m->nbuckets)
			die("lhist index %u out of range for %lld", idx, v);
		p[idx]++;
		break;
	default:
		die("agg on a plain map");
	}
	store(m, key, buf);
}

static void agg(const struct bt_map *m, const void *key, long long v)
{
	agg_cpu(m, key, 0, v);
}

/* agg() n times */
static void aggn(const struct bt_map *m, const void *key, long long v, int n)
{
	while (n-- > 0)
		agg(m, key, v);
}

/* @m[key] = value (plain maps; value has the layout's size) */
static void setv(const struct bt_map *m, const void *key, const void *val)
{
	unsigned char *buf = load(m, key);

	memcpy(buf, val, m->value.size);
	store(m, key, buf);
}

static void seti(const struct bt_map *m, const void *key, long long v)
{
	setv(m, key, &v);
}

static void sets(const struct bt_map *m, const void *key, const char *s)
{
	char v[64] = "";

	strncpy(v, s, sizeof(v) - 1);
	setv(m, key, v);
}

/* (int64, char[8]) values */
static void setis(const struct bt_map *m, const void *key, long long i,
		  const char *s)
{
	unsigned char v[16] = { 0 };

	memcpy(v, &i, 8);
	strncpy((char *)v + 8, s, 8);
	setv(m, key, v);
}

static void print(const struct bt_map *m, int top, int div)
{
	if (bt_print_map(stdout, m, top, div))
		die("bt_print_map(%s) failed", m->name);
}

static void at_exit(const struct bt_map *maps, int n)
{
	bt_print_maps_at_exit(stdout, maps, n);
}

#define NMAPS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- layouts ---------------------------------------------------------------- */

static const struct bt_field F_I64[] = { { BT_KIND_INT, 8, 0 } };
static const struct bt_field F_U64[] = { { BT_KIND_UINT, 8, 0 } };
static const struct bt_field F_I8[] = { { BT_KIND_INT, 1, 0 } };
static const struct bt_field F_U8[] = { { BT_KIND_UINT, 1, 0 } };
static const struct bt_field F_U16[] = { { BT_KIND_UINT, 2, 0 } };
static const struct bt_field F_STR8[] = { { BT_KIND_STR, 8, 0 } };
static const struct bt_field F_STR16[] = { { BT_KIND_STR, 16, 0 } };
static const struct bt_field F_STR4[] = { { BT_KIND_STR, 4, 0 } };
/* (int64, char[8]) */
static const struct bt_field F_I64_STR8[] = {
	{ BT_KIND_INT, 8, 0 }, { BT_KIND_STR, 8, 8 } };
/* (int64, char[8], int64) */
static const struct bt_field F_I64_STR8_I64[] = {
	{ BT_KIND_INT, 8, 0 }, { BT_KIND_STR, 8, 8 }, { BT_KIND_INT, 8, 16 } };
/* (char[8], int64, char[8]) */
static const struct bt_field F_STR8_I64_STR8[] = {
	{ BT_KIND_STR, 8, 0 }, { BT_KIND_INT, 8, 8 }, { BT_KIND_STR, 8, 16 } };
/* (char[4], int64) */
static const struct bt_field F_STR4_I64[] = {
	{ BT_KIND_STR, 4, 0 }, { BT_KIND_INT, 8, 8 } };

/* (int64, (int64, char[8])) */
static const struct bt_field F_I64_T_I64_STR8[] = {
	{ BT_KIND_INT, 8, 0 }, { BT_KIND_TUPLE, 2, 8 },
	{ BT_KIND_INT, 8, 8 }, { BT_KIND_STR, 8, 16 } };
/* ((int64, char[8])) - a key that is one tuple */
static const struct bt_field F_T_I64_STR8[] = {
	{ BT_KIND_TUPLE, 2, 0 }, { BT_KIND_INT, 8, 0 }, { BT_KIND_STR, 8, 8 } };
/* (int64, (int64, char[8]), int64) */
static const struct bt_field F_I64_T_I64_STR8_I64[] = {
	{ BT_KIND_INT, 8, 0 }, { BT_KIND_TUPLE, 2, 8 }, { BT_KIND_INT, 8, 8 },
	{ BT_KIND_STR, 8, 16 }, { BT_KIND_INT, 8, 24 } };
/* ((int64, int64), char[8]) */
static const struct bt_field F_T_I64_I64_STR8[] = {
	{ BT_KIND_TUPLE, 2, 0 }, { BT_KIND_INT, 8, 0 }, { BT_KIND_INT, 8, 8 },
	{ BT_KIND_STR, 8, 16 } };

/* ---- hand-written cases (scripts in cases.py) ------------------------------ */

static void case_empty(void)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	struct bt_map maps[] = {
		agg_map("@never", NULL, BT_AGG_COUNT, 0),
		hist_map("@nh", &k, 0, 0),
	};

	at_exit(maps, NMAPS(maps));
}

static void case_scalars(void)
{
	struct bt_map maps[] = {
		val_map("@t", NULL, layout(24, 3, 1, F_I64_STR8_I64)),
		val_map("@a", NULL, layout(8, 1, 0, F_I64)),
		val_map("@b", NULL, layout(8, 1, 0, F_U64)),
		agg_map("@c", NULL, BT_AGG_COUNT, 0),
		agg_map("@s", NULL, BT_AGG_SUM, 0),
		agg_map("@mn", NULL, BT_AGG_MIN, 0),
		agg_map("@mx", NULL, BT_AGG_MAX, 0),
		agg_map("@v", NULL, BT_AGG_AVG, 0),
		agg_map("@st", NULL, BT_AGG_STATS, 0),
		val_map("@str", NULL, layout(8, 1, 0, F_STR8)),
		val_map("@i8", NULL, layout(1, 1, 0, F_I8)),
		val_map("@u16", NULL, layout(2, 1, 0, F_U16)),
	};
	struct bt_map *t = &maps[0], *a = &maps[1], *b = &maps[2];
	struct bt_map *c = &maps[3], *s = &maps[4], *mn = &maps[5];
	struct bt_map *mx = &maps[6], *v = &maps[7], *st = &maps[8];
	unsigned char tv[24] = { 0 };
	long long one = 1, m5 = -5;
	signed char i8 = -3;
	unsigned short u16 = 65535;

	seti(a, NULL, -7);
	seti(b, NULL, -1);
	aggn(c, NULL, 0, 3);
	agg(s, NULL, -10);
	agg(s, NULL, 3);
	agg(mn, NULL, 5);
	agg(mn, NULL, -2);
	agg(mx, NULL, 5);
	agg(mx, NULL, 9);
	agg(v, NULL, -5);
	agg(v, NULL, -6);
	agg(st, NULL, 10);
	agg(st, NULL, -3);
	sets(&maps[9], NULL, "hello");
	memcpy(tv, &one, 8);
	tv[8] = 'x';
	memcpy(tv + 16, &m5, 8);
	setv(t, NULL, tv);
	setv(&maps[10], NULL, &i8);
	setv(&maps[11], NULL, &u16);

	print(v, 0, 0);
	print(st, 0, 2);
	print(t, 0, 2);
	print(c, 0, 0);
	print(a, 0, 2);
	print(b, 0, 3);
	print(mn, 0, 0);
	print(mx, 0, 2);
	print(s, 0, 2);
	at_exit(maps, NMAPS(maps));
}

static void case_keyed_ints(void)
{
	struct bt_layout ki64 = layout(8, 1, 0, F_I64);
	struct bt_layout kstr16 = layout(16, 1, 0, F_STR16);
	struct bt_map maps[] = {
		agg_map("@c", &ki64, BT_AGG_COUNT, 0),
		agg_map("@s", &kstr16, BT_AGG_SUM, 0),
		val_map("@i", &ki64, layout(8, 1, 0, F_I64)),
		val_map("@u", &ki64, layout(8, 1, 0, F_U64)),
	};
	struct bt_map *c = &maps[0], *s = &maps[1], *i = &maps[2], *u = &maps[3];

	aggn(c, ki(1), 0, 1);
	aggn(c, ki(2), 0, 2);
	aggn(c, ki(-3), 0, 4);
	aggn(c, ki(7), 0, 3);
	agg(s, kstr("a"), -10);
	agg(s, kstr("b"), 5);
	agg(s, kstr("c"), -3);
	agg(s, kstr("c"), -4);
	agg(s, kstr("longer key"), 100);
	seti(i, ki(1), -5);
	seti(i, ki(2), 50);
	seti(i, ki(3), 0);
	seti(i, ki(4), -50);
	seti(u, ki(1), -1);
	seti(u, ki(2), 3);
	seti(u, ki(3), (long long)(1ULL << 63));

	print(c, 0, 0);
	print(c, 2, 0);
	print(c, 0, 2);
	print(c, 10, 3);
	print(s, 1, 0);
	print(s, 0, 3);
	print(i, 0, 2);
	print(u, 2, 0);
	at_exit(maps, NMAPS(maps));
}

static void case_minmax(void)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	struct bt_map maps[] = {
		agg_map("@mx", &k, BT_AGG_MAX, 0),
		agg_map("@mn", &k, BT_AGG_MIN, 0),
	};
	struct bt_map *mx = &maps[0], *mn = &maps[1];

	agg(mn, ki(1), -5);
	agg(mn, ki(2), 3);
	agg(mn, ki(3), -1);
	agg(mn, ki(4), 7);
	agg(mn, ki(4), 2);
	agg(mn, ki(5), -7);
	agg(mn, ki(5), 4);
	agg(mx, ki(1), -5);
	agg(mx, ki(2), 3);
	agg(mx, ki(3), 10);
	agg(mx, ki(4), -1);
	agg(mx, ki(4), -7);
	agg(mx, ki(5), 0);

	print(mn, 2, 0);
	print(mx, 0, 2);
	print(mn, 0, 3);
	at_exit(maps, NMAPS(maps));
}

static void case_avgstats(void)
{
	struct bt_layout ki64 = layout(8, 1, 0, F_I64);
	struct bt_layout lstr = layout(16, 1, 0, F_STR16);
	struct bt_map maps[] = {
		agg_map("@v", &ki64, BT_AGG_AVG, 0),
		agg_map("@st", &lstr, BT_AGG_STATS, 0),
	};
	struct bt_map *v = &maps[0], *st = &maps[1];

	agg(v, ki(1), -5);
	agg(v, ki(1), -6);
	agg(v, ki(2), 7);
	agg(v, ki(2), 8);
	agg(v, ki(3), 1);
	agg(v, ki(4), -1);
	agg(v, ki(4), 6);
	agg(st, kstr("x"), 10);
	agg(st, kstr("x"), -3);
	agg(st, kstr("y"), 100);
	agg(st, kstr("z"), -50);
	agg(st, kstr("z"), -51);

	print(v, 0, 3);
	print(st, 2, 2);
	print(st, 0, 0);
	print(v, 1, 0);
	at_exit(maps, NMAPS(maps));
}

static void case_strings_tuples(void)
{
	struct bt_layout ki64 = layout(8, 1, 0, F_I64);
	struct bt_layout lstr = layout(16, 1, 0, F_STR16);
	struct bt_layout kis8 = layout(16, 2, 0, F_I64_STR8);
	struct bt_layout lu8 = layout(1, 1, 0, F_U8);
	struct bt_layout ksis = layout(24, 3, 0, F_STR8_I64_STR8);
	struct bt_map maps[] = {
		val_map("@u8", &lu8, layout(8, 1, 0, F_STR8)),
		val_map("@t", &kis8, layout(16, 2, 1, F_I64_STR8)),
		val_map("@s", &ki64, layout(8, 1, 0, F_STR8)),
		val_map("@k", &lstr, layout(8, 1, 0, F_STR8)),
		val_map("@m", &ksis, layout(8, 1, 0, F_I64)),
	};
	struct bt_map *u8 = &maps[0], *t = &maps[1], *s = &maps[2];
	struct bt_map *k = &maps[3];
	unsigned char mk[24] = { 0 };
	long long two = 2;

	sets(s, ki(3), "c");
	sets(s, ki(1), "zz");
	sets(s, ki(200), "b");
	sets(s, ki(2), "a");
	sets(s, ki(-1), "neg");
	sets(k, kstr("b"), "c");
	sets(k, kstr("a"), "zz");
	sets(k, kstr("ab"), "b");
	sets(k, kstr(""), "e");
	sets(k, kstr("(hi)"), "paren");
	sets(k, kstr("(x"), "half");
	setis(t, kis(1, "x"), 1, "a");
	setis(t, kis(1, "a"), 2, "b");
	setis(t, kis(0, "z"), -3, "c");
	setis(t, kis(2, "a"), 4, "dd");
	setis(t, kis(-1, "b"), 5, "e");
	sets(u8, ku8(200), "x");
	sets(u8, ku8(1), "y");
	sets(u8, ku8(100), "z");
	mk[0] = 'k';
	memcpy(mk + 8, &two, 8);
	mk[16] = 'v';
	seti(&maps[4], mk, 5);

	print(t, 2, 0);
	print(t, 0, 2);
	print(k, 0, 0);
	print(u8, 1, 0);
	at_exit(maps, NMAPS(maps));
}

static void case_truncated(void)
{
	/* config max_strlen = 4: str(comm) is a char[4] "bpft" without NUL */
	struct bt_layout kstr4i = layout(16, 2, 0, F_STR4_I64);
	struct bt_layout kcomm = layout(16, 1, 0, F_STR16);
	struct bt_map maps[] = {
		val_map("@s", NULL, layout(4, 1, 0, F_STR4)),
		val_map("@t", NULL, layout(16, 2, 1, F_STR4_I64)),
		val_map("@k", &kstr4i, layout(8, 1, 0, F_I64)),
		val_map("@c", &kcomm, layout(8, 1, 0, F_I64)),
	};
	unsigned char tv[16] = { 'b', 'p', 'f', 't' };
	long long five = 5, one = 1;

	setv(&maps[0], NULL, "bpft");
	memcpy(tv + 8, &five, 8);
	setv(&maps[1], NULL, tv);
	memcpy(tv + 8, &one, 8);
	seti(&maps[2], tv, 3);
	seti(&maps[3], kstr("bpftrace"), 1);
	at_exit(maps, NMAPS(maps));
}

static void case_names(void)
{
	struct bt_layout i64 = layout(8, 1, 0, F_I64);
	const char *names[] = { "@", "@a", "@A", "@_x", "@a1", "@a_b",
				"@ab", "@Z" };
	struct bt_map maps[10];
	int i;

	for (i = 0; i < 8; i++) {
		maps[i] = val_map(names[i], NULL, i64);
		seti(&maps[i], NULL, i + 1);
	}
	maps[8] = hist_map("@zz", NULL, 0, 0);
	agg(&maps[8], NULL, 2);
	maps[9] = lhist_map("@b", NULL, 0, 5, 1, 0);
	agg(&maps[9], NULL, 1);
	at_exit(maps, NMAPS(maps));
}

static void case_hist_basic(void)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	struct bt_map maps[] = {
		hist_map("@k", &k, 0, 0),
		hist_map("@h", NULL, 0, 0),
		hist_map("@h2", NULL, 2, 0),
		hist_map("@e", NULL, 3, 0),
	};
	struct bt_map *kh = &maps[0], *h = &maps[1], *h2 = &maps[2];
	struct bt_map *e = &maps[3];
	long long hv[] = { 0, 1, 2, 3, -1, 1024, 5000 };
	long long h2v[] = { 5, 100, 3584, 4096 };
	unsigned int i;

	for (i = 0; i < sizeof(hv) / sizeof(hv[0]); i++)
		agg(h, NULL, hv[i]);
	for (i = 0; i < sizeof(h2v) / sizeof(h2v[0]); i++)
		agg(h2, NULL, h2v[i]);
	agg(kh, ki(1), 5);
	aggn(kh, ki(2), 100, 2);
	aggn(kh, ki(3), 3, 3);
	agg(kh, ki(3), 9);
	agg(e, NULL, 1LL << 40);
	agg(e, NULL, (1LL << 40) + (1LL << 38));

	print(h, 0, 0);
	print(kh, 1, 0);
	print(kh, 0, 2);
	print(h2, 0, 2);
	print(e, 0, 0);
	at_exit(maps, NMAPS(maps));
}

static void case_hist_bars(void)
{
	struct bt_map maps[] = {
		lhist_map("@b", NULL, 0, 20, 1, 0),
		hist_map("@c", NULL, 0, 0),
		lhist_map("@d", NULL, 0, 20, 1, 0),
	};
	int counts[] = { 1300, 1, 7, 13, 25, 26, 50, 75, 99, 100, 325,
			 650, 975, 1299 };
	int i;

	for (i = 0; i < (int)(sizeof(counts) / sizeof(counts[0])); i++)
		aggn(&maps[0], NULL, i, counts[i]);
	aggn(&maps[1], NULL, 1, 3);
	aggn(&maps[1], NULL, 8, 7);
	aggn(&maps[1], NULL, 100, 11);
	aggn(&maps[1], NULL, 1000, 13);
	aggn(&maps[2], NULL, 5, 1);
	aggn(&maps[2], NULL, 6, 3);

	print(&maps[2], 0, 2);
	print(&maps[1], 0, 4);
	at_exit(maps, NMAPS(maps));
}

static void case_lhist(void)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	struct bt_map maps[] = {
		lhist_map("@w", &k, 0, 100, 10, 0),
		lhist_map("@l", NULL, 0, 100, 10, 0),
		lhist_map("@k", NULL, 0, 4096, 1024, 0),
		lhist_map("@m", NULL, 0, 4194304, 1048576, 0),
		lhist_map("@n", NULL, 10, 30, 3, 0),
		lhist_map("@o", NULL, 0, 95, 10, 0),
		lhist_map("@p", NULL, 0, 95, 10, 0),
		lhist_map("@q", NULL, 0, 10240, 512, 0),
		lhist_map("@s", NULL, 0, 10, 1, 0),
		lhist_map("@t", NULL, 0, 10, 1, 0),
	};

	agg(&maps[1], NULL, -5);
	agg(&maps[1], NULL, 100);
	agg(&maps[1], NULL, 55);
	agg(&maps[2], NULL, 0);
	agg(&maps[2], NULL, 5000);
	agg(&maps[2], NULL, 2048);
	agg(&maps[3], NULL, 3 * 1048576);
	agg(&maps[3], NULL, 1048576);
	agg(&maps[4], NULL, -7);
	agg(&maps[4], NULL, 29);
	agg(&maps[4], NULL, 30);
	agg(&maps[4], NULL, 31);
	agg(&maps[5], NULL, 95);
	agg(&maps[5], NULL, 200);
	agg(&maps[6], NULL, 200);
	agg(&maps[7], NULL, 1536);
	agg(&maps[7], NULL, 1024);
	agg(&maps[8], NULL, 3);
	agg(&maps[8], NULL, 5);
	agg(&maps[8], NULL, 10);
	agg(&maps[8], NULL, 9);
	agg(&maps[9], NULL, -1);
	agg(&maps[9], NULL, 0);
	agg(&maps[0], ki(1), 5);
	agg(&maps[0], ki(2), 5);
	agg(&maps[0], ki(2), 15);
	aggn(&maps[0], ki(3), 500, 3);

	print(&maps[1], 0, 2);
	print(&maps[0], 2, 0);
	print(&maps[8], 0, 0);
	at_exit(maps, NMAPS(maps));
}

/* Values spread over CPUs must print like bpftrace's merged values. */
static void case_percpu(void)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	struct bt_map maps[] = {
		agg_map("@c", &k, BT_AGG_COUNT, 1),
		agg_map("@s", NULL, BT_AGG_SUM, 1),
		agg_map("@mn", &k, BT_AGG_MIN, 1),
		agg_map("@mx", &k, BT_AGG_MAX, 1),
		agg_map("@v", NULL, BT_AGG_AVG, 1),
		agg_map("@st", NULL, BT_AGG_STATS, 1),
		hist_map("@h", NULL, 0, 1),
		lhist_map("@l", &k, 0, 100, 10, 1),
	};
	int i;

	for (i = 0; i < 5; i++)
		agg_cpu(&maps[0], ki(1), i < 2 ? 0 : 1, 0);
	agg_cpu(&maps[0], ki(2), 1, 0);
	agg_cpu(&maps[1], NULL, 0, -10);
	agg_cpu(&maps[1], NULL, 1, 3);
	agg_cpu(&maps[2], ki(1), 0, 5);
	agg_cpu(&maps[2], ki(1), 1, -3);
	agg_cpu(&maps[2], ki(2), 1, 4);
	agg_cpu(&maps[3], ki(1), 0, 5);
	agg_cpu(&maps[3], ki(1), 1, -3);
	agg_cpu(&maps[3], ki(2), 1, 4);
	for (i = 4; i < 6; i++) {
		agg_cpu(&maps[i], NULL, 0, 10);
		agg_cpu(&maps[i], NULL, 1, -4);
		agg_cpu(&maps[i], NULL, 1, -5);
	}
	agg_cpu(&maps[6], NULL, 0, 5);
	agg_cpu(&maps[6], NULL, 1, 5);
	agg_cpu(&maps[6], NULL, 1, 100);
	agg_cpu(&maps[7], ki(1), 1, 5);
	agg_cpu(&maps[7], ki(1), 0, 15);
	agg_cpu(&maps[7], ki(1), 1, 15);

	print(&maps[0], 0, 0);
	print(&maps[6], 0, 0);
	at_exit(maps, NMAPS(maps));
}

/* min/max whose CPUs disagree in sign: sorted by the unsigned extreme. */
static void case_percpu_sort(void)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	struct bt_map maps[] = {
		agg_map("@mx", &k, BT_AGG_MAX, 1),
		agg_map("@mn", &k, BT_AGG_MIN, 1),
	};
	int cpu;

	for (cpu = 0; cpu < bt__ncpus(); cpu++) {
		agg_cpu(&maps[0], ki(1), cpu, cpu == 0 ? 5 : -3);
		agg_cpu(&maps[0], ki(2), cpu, -4);
		agg_cpu(&maps[0], ki(3), cpu, -6);
		agg_cpu(&maps[1], ki(1), cpu, cpu == 0 ? -3 : 5);
		agg_cpu(&maps[1], ki(2), cpu, 4);
		agg_cpu(&maps[1], ki(3), cpu, 6);
	}
	at_exit(maps, NMAPS(maps));
}

/* The maps of clear_all / zero_all (aggregations per CPU, like bt2c). */
static int clear_zero_maps(struct bt_map *maps)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	unsigned char tv[16] = { 1, 0, 0, 0, 0, 0, 0, 0, 'x' };
	int n = 0;

	maps[n] = val_map("@a", NULL, layout(8, 1, 0, F_I64));
	seti(&maps[n++], NULL, 1);
	maps[n] = val_map("@b", &k, layout(8, 1, 0, F_I64));
	seti(&maps[n++], ki(1), 2);
	maps[n] = agg_map("@c", NULL, BT_AGG_COUNT, 1);
	agg(&maps[n++], NULL, 0);
	maps[n] = hist_map("@h", NULL, 0, 1);
	agg(&maps[n++], NULL, 3);
	maps[n] = lhist_map("@l", &k, 0, 10, 1, 1);
	agg(&maps[n++], ki(1), 3);
	maps[n] = agg_map("@s", NULL, BT_AGG_STATS, 1);
	agg(&maps[n++], NULL, 4);
	maps[n] = agg_map("@m", NULL, BT_AGG_MIN, 1);
	agg(&maps[n++], NULL, 5);
	maps[n] = agg_map("@v", NULL, BT_AGG_AVG, 1);
	agg(&maps[n++], NULL, 5);
	maps[n] = val_map("@t", NULL, layout(16, 2, 1, F_I64_STR8));
	setv(&maps[n++], NULL, tv);
	maps[n] = val_map("@str", NULL, layout(8, 1, 0, F_STR8));
	sets(&maps[n++], NULL, "s");
	return n;
}

static void case_clear_all(void)
{
	struct bt_map maps[16];
	int n = clear_zero_maps(maps), i;

	maps[n] = agg_map("@keep", NULL, BT_AGG_COUNT, 1);
	agg(&maps[n], NULL, 0);
	for (i = 0; i < n; i++)
		if (bt_clear_map(&maps[i]))
			die("bt_clear_map(%s) failed", maps[i].name);
	for (i = 0; i < n; i++)
		print(&maps[i], 0, 0);
	at_exit(maps, n + 1);
}

static void case_zero_all(void)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	struct bt_map maps[16];
	int n = clear_zero_maps(maps) - 2, i;	/* not @t, @str */

	maps[n] = agg_map("@mk", &k, BT_AGG_MAX, 1);
	agg(&maps[n++], ki(1), -3);
	for (i = 0; i < n; i++)
		if (bt_zero_map(&maps[i]))
			die("bt_zero_map(%s) failed", maps[i].name);
	for (i = 0; i < n; i++)
		print(&maps[i], 0, 0);
	at_exit(maps, n);
}

/* Fill 8-byte integers and char[8] strings into a 32-byte buffer. */
static const void *pack(unsigned char *buf, long long a, long long b,
			const char *s, long long c)
{
	memset(buf, 0, 32);
	memcpy(buf, &a, 8);
	memcpy(buf + 8, &b, 8);
	strncpy((char *)buf + 16, s, 8);
	memcpy(buf + 24, &c, 8);
	return buf;
}

/* Nested tuples (BT_KIND_TUPLE) in keys and values. */
static void case_nested(void)
{
	struct bt_layout kn = layout(24, 4, 0, F_I64_T_I64_STR8);
	struct bt_layout kp = layout(16, 3, 0, F_T_I64_STR8);
	struct bt_layout ki64 = layout(8, 1, 0, F_I64);
	struct bt_map maps[] = {
		val_map("@w", &ki64, layout(24, 4, 1, F_T_I64_I64_STR8)),
		val_map("@n", &kn, layout(8, 1, 0, F_STR8)),
		val_map("@p", &kp, layout(8, 1, 0, F_STR8)),
		val_map("@v", NULL, layout(32, 5, 1, F_I64_T_I64_STR8_I64)),
	};
	unsigned char b[32], w[32];

	sets(&maps[1], pack(b, 1, 2, "x", 0), "a");
	sets(&maps[1], pack(b, 0, 5, "y", 0), "b");
	sets(&maps[1], pack(b, -1, 1, "z", 0), "c");
	sets(&maps[2], kis(3, "b"), "s3");
	sets(&maps[2], kis(1, "a"), "s1");
	sets(&maps[2], kis(2, "c"), "s2");
	setv(&maps[3], NULL, pack(b, 1, 2, "x", -3));
	/* ((a, b), s) has the same byte layout as pack()'s first 24 bytes */
	setv(&maps[0], ki(1), pack(w, 1, 2, "s", 0));
	setv(&maps[0], ki(2), pack(w, 3, 4, "t", 0));
	print(&maps[3], 0, 2);
	print(&maps[0], 0, 2);
	at_exit(maps, NMAPS(maps));
}

/* The anonymous map "@" with keys. */
static void case_anon(void)
{
	struct bt_layout k = layout(16, 2, 0, F_I64_STR8);
	struct bt_map maps[] = { agg_map("@", &k, BT_AGG_COUNT, 1) };

	aggn(&maps[0], kis(1, "a"), 0, 1);
	aggn(&maps[0], kis(2, "b"), 0, 3);
	aggn(&maps[0], kis(-5, "(c)"), 0, 2);
	print(&maps[0], 0, 0);
	at_exit(maps, 1);
}

static void case_hist_ties(void)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	struct bt_map maps[] = { hist_map("@h", &k, 0, 0) };
	int i;

	for (i = 0; i < 40; i++)
		agg(&maps[0], ki(i), 1);
	at_exit(maps, 1);
}

static void case_hist_ties_mixed(void)
{
	struct bt_layout k = layout(8, 1, 0, F_I64);
	struct bt_map maps[] = { hist_map("@h", &k, 0, 0) };
	int i;

	for (i = 0; i < 100; i++)
		aggn(&maps[0], ki(i), i, (i * 7) % 4 + 1);
	at_exit(maps, 1);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "empty", case_empty },
	{ "scalars", case_scalars },
	{ "keyed_ints", case_keyed_ints },
	{ "minmax", case_minmax },
	{ "avgstats", case_avgstats },
	{ "strings_tuples", case_strings_tuples },
	{ "truncated", case_truncated },
	{ "names", case_names },
	{ "hist_basic", case_hist_basic },
	{ "hist_bars", case_hist_bars },
	{ "lhist", case_lhist },
	{ "percpu", case_percpu },
	{ "percpu_sort", case_percpu_sort },
	{ "clear_all", case_clear_all },
	{ "zero_all", case_zero_all },
	{ "anon", case_anon },
	{ "nested", case_nested },
	{ "hist_ties", case_hist_ties },
	{ "hist_ties_mixed", case_hist_ties_mixed },
};

/* Arguments and results of index_prog.bpf.c's program. */
struct idx_args {
	__s64 v, min, max, step;
	__u32 hist[6];
	__u32 lhist;
	__u32 pad;
};

static void print_idx(const struct idx_args *a)
{
	int b;

	printf("%lld:", (long long)a->v);
	for (b = 0; b < 6; b++)
		printf(" %u", a->hist[b]);
	printf(" | %u\n", a->lhist);
}

/* Bucket indexes of argv[3..] as computed by the user-space build. */
static int user_indexes(int argc, char **argv)
{
	struct idx_args a = { 0 };
	int i, b;

	a.min = strtoll(argv[2], NULL, 0);
	a.max = strtoll(argv[3], NULL, 0);
	a.step = strtoll(argv[4], NULL, 0);
	for (i = 5; i < argc; i++) {
		a.v = strtoll(argv[i], NULL, 0);
		for (b = 0; b < 6; b++)
			a.hist[b] = bt_hist_index(a.v, b);
		a.lhist = bt_lhist_index(a.v, a.min, a.max, a.step);
		print_idx(&a);
	}
	return 0;
}

/* The same indexes computed in the kernel by a verified BPF program. */
static int kernel_indexes(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct idx_args a = { 0 };
	int i, err;

	obj = bpf_object__open_file(argv[2], NULL);
	if (!obj)
		die("cannot open %s", argv[2]);
	err = bpf_object__load(obj);
	if (err)
		die("BPF program rejected: %d", err);
	prog = bpf_object__find_program_by_name(obj, "run");
	if (!prog)
		die("no program 'run'");
	a.min = strtoll(argv[3], NULL, 0);
	a.max = strtoll(argv[4], NULL, 0);
	a.step = strtoll(argv[5], NULL, 0);
	for (i = 6; i < argc; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a,
			    .ctx_size_in = sizeof(a));

		a.v = strtoll(argv[i], NULL, 0);
		memset(a.hist, 0xff, sizeof(a.hist));
		a.lhist = ~0u;
		err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
		if (err)
			die("test run failed: %d", err);
		print_idx(&a);
	}
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int i;
	int a;

	if (argc >= 3 && !strcmp(argv[1], "-f") && !strcmp(argv[2], "json")) {
		bt_format = BT_FORMAT_JSON;	/* bpftrace -f json */
		argv += 2;
		argc -= 2;
	}
	if (argc >= 3 && !strcmp(argv[1], "case")) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			if (!strcmp(argv[2], cases[i].name)) {
				cases[i].fn();
				return 0;
			}
		}
		die("unknown case %s", argv[2]);
	}
	if (argc >= 3 && !strcmp(argv[1], "hist")) {
		struct bt_map m = hist_map("@h", NULL, atoi(argv[2]), 0);

		for (a = 3; a < argc; a++)
			agg(&m, NULL, strtoll(argv[a], NULL, 0));
		at_exit(&m, 1);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "lhist")) {
		struct bt_map m = lhist_map("@l", NULL, strtoll(argv[2], NULL, 0),
					    strtoll(argv[3], NULL, 0),
					    strtoll(argv[4], NULL, 0), 0);

		for (a = 5; a < argc; a++)
			agg(&m, NULL, strtoll(argv[a], NULL, 0));
		at_exit(&m, 1);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "uidx"))
		return user_indexes(argc, argv);
	if (argc >= 6 && !strcmp(argv[1], "kidx"))
		return kernel_indexes(argc, argv);
	die("usage: %s case NAME | hist BITS V... | lhist MIN MAX STEP V... |"
	    " uidx MIN MAX STEP V... | kidx OBJ MIN MAX STEP V...", argv[0]);
	return 2;
}
