/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tseries.c - merge and print tseries() maps like bpftrace v0.27.1.
 *
 * Included verbatim after maps.c into generated loaders whose script uses
 * tseries(); maps.c calls these functions for BT_AGG_TSERIES maps.
 *
 * The BPF side (bt_map_tseries() in helpers.h) keeps, per key and CPU, an
 * array of n `struct bt_tseries_bucket { value, meta, epoch }`: interval
 * number `epoch` (TAI time / interval_ns) in slot epoch % n, epoch 0 for a
 * slot never written.
 *
 * Merging the CPUs (bt__tseries_merge), slot by slot: only the copies of
 * the slot's newest interval count; of those, "last" mode takes the value
 * with the newest time stamp (meta), avg adds values and counts and divides,
 * min/max take the extreme, sum adds (signed or unsigned as the recorded
 * value's type).  The merged slot keeps the result in `value`.
 *
 * Printing: the map's newest interval over all keys, `last`, ends every
 * series, which starts n - 1 intervals earlier or at the key's own first
 * interval in that window, whichever is later (bpftrace: `last` alone, as
 * "-", when it has none there).  Keys are printed in memcmp() order of their
 * bytes (maps.c's bt__order).  Text:
 *
 *   @s:
 *                8                                                  67
 *   hh:mm:ss.ms  |___________________________________________________|
 *   HH:MM:SS.700 |                     *                             | 34
 *   HH:MM:SS.800 |                                                   | -
 *                v___________________________________________________v
 *                8                                                  67
 *
 * The time column is the interval's start as local time, to the precision
 * of the rows' spacing (s, ms, us or ns; ns for a single row); the graph is
 * 53 columns from the smallest to the largest value (widened by one each
 * way when they are equal), '*' marks the value, '.' the zero line when
 * the range spans it, '-' an interval without a value.  A key without any
 * interval in the window prints "<no data>".  JSON (-f json):
 *
 *   {"type": "tseries", "data": {"@s": [{"interval_start":"YYYY-MM-DD
 *   HH:MM:SS.500000000","value":0},...]}}       (no entries for missing ones)
 */
#include <time.h>

#define BT__TS_WIDTH 53		/* graph columns, both borders included */
#define BT__TS_PAD 21		/* header: the minimum is left-aligned in these */

/* The recorded value's type decides the arithmetic, as in bpftrace. */
static int bt__ts_less(const struct bt_map *m, int64_t a, int64_t b)
{
	return m->ts_signed ? a < b : (uint64_t)a < (uint64_t)b;
}

static void bt__tseries_merge(const struct bt_map *m, struct bt__ent *e,
			      const unsigned char *raw, int ncpu, size_t stride)
{
	unsigned int i, n = m->nbuckets;
	uint64_t newest = 0;

	for (i = 0; i < n; i++) {
		struct bt_tseries_bucket out = { 0 }, b;
		int cpu, found = 0;

		for (cpu = 0; cpu < ncpu; cpu++) {
			memcpy(&b, raw + cpu * stride + i * sizeof(b), sizeof(b));
			if (b.epoch > out.epoch)
				out.epoch = b.epoch;
		}
		for (cpu = 0; out.epoch && cpu < ncpu; cpu++) {
			memcpy(&b, raw + cpu * stride + i * sizeof(b), sizeof(b));
			if (b.epoch != out.epoch)
				continue;
			if (!found++) {
				out.value = b.value;
				out.meta = b.meta;
				continue;
			}
			switch (m->ts_mode) {
			case BT_TSERIES_LAST:
				if (b.meta > out.meta) {
					out.value = b.value;
					out.meta = b.meta;
				}
				break;
			case BT_TSERIES_AVG:
				out.value += b.value;
				out.meta += b.meta;
				break;
			case BT_TSERIES_SUM:
				out.value += b.value;
				break;
			case BT_TSERIES_MIN:
				if (bt__ts_less(m, b.value, out.value))
					out.value = b.value;
				break;
			default:
				if (bt__ts_less(m, out.value, b.value))
					out.value = b.value;
				break;
			}
		}
		if (m->ts_mode == BT_TSERIES_AVG && out.meta) {
			if (m->ts_signed)
				out.value /= (int64_t)out.meta;
			else
				out.value = (int64_t)((uint64_t)out.value / out.meta);
		}
		if (out.epoch > newest)
			newest = out.epoch;
		memcpy(e->val + i * sizeof(out), &out, sizeof(out));
	}
	e->sort_u = newest;	/* the map's newest interval ends every series */
}

/* One series: the values of intervals first..last (have[k]: a value). */
struct bt__ts_rows {
	uint64_t first;
	size_t n;
	int64_t *val;
	unsigned char *have;
};

/*
 * The rows of one key in the window [lo, last]: from its first interval in
 * the window (bpftrace: from `last` when it has none there) to `last`.
 */
static int bt__ts_rows(const struct bt_map *m, const unsigned char *v,
		       uint64_t lo, uint64_t last, struct bt__ts_rows *r)
{
	unsigned int i, n = m->nbuckets;
	uint64_t first = last;

	memset(r, 0, sizeof(*r));
	if (last < lo)
		return 0;
	for (i = 0; i < n; i++) {
		struct bt_tseries_bucket b;

		memcpy(&b, v + i * sizeof(b), sizeof(b));
		if (b.epoch && b.epoch >= lo && b.epoch < first)
			first = b.epoch;
	}
	r->first = first;
	r->n = last - first + 1;
	r->val = calloc(r->n, sizeof(*r->val));
	r->have = calloc(r->n, 1);
	if (!r->val || !r->have)
		return -1;
	for (i = 0; i < n; i++) {
		struct bt_tseries_bucket b;

		memcpy(&b, v + i * sizeof(b), sizeof(b));
		if (b.epoch >= first && b.epoch <= last) {
			r->val[b.epoch - first] = b.value;
			r->have[b.epoch - first] = 1;
		}
	}
	return 0;
}

static void bt__ts_rows_free(struct bt__ts_rows *r)
{
	free(r->val);
	free(r->have);
}

/* The window every key's series ends in: the newest interval of the map. */
static void bt__ts_window(const struct bt_map *m, const struct bt__snap *s,
			  uint64_t *lo, uint64_t *last)
{
	size_t i;

	*last = 0;
	for (i = 0; i < s->n; i++)
		if (s->ents[i].sort_u > *last)
			*last = s->ents[i].sort_u;
	/* no interval at all (zero()): bpftrace's window wraps around, empty */
	*lo = *last - m->nbuckets + 1;
}

/* Decimal text of a value of the recorded type. */
static void bt__ts_num(const struct bt_map *m, char *buf, size_t len, int64_t v)
{
	if (m->ts_signed)
		snprintf(buf, len, "%lld", (long long)v);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* a - b as bpftrace computes it (distance()), in 64 bits. */
static int64_t bt__ts_dist(const struct bt_map *m, int64_t a, int64_t b)
{
	if (m->ts_signed)
		return a - b;
	return (uint64_t)a > (uint64_t)b ? (int64_t)((uint64_t)a - (uint64_t)b) :
					   -(int64_t)((uint64_t)b - (uint64_t)a);
}

/*
 * "hh:mm:ss" of a TAI time stamp in local time (bpftrace takes TAI for the
 * system clock), with `digits` digits of the second's fraction.
 */
static void bt__ts_time(char *buf, size_t len, uint64_t ns, int digits, int date)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	uint64_t frac = ns % 1000000000ULL;
	struct tm tm;
	size_t k;
	int d;

	localtime_r(&t, &tm);
	k = strftime(buf, len, date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
	for (d = digits; d < 9; d++)
		frac /= 10;
	if (digits)
		snprintf(buf + k, len - k, ".%0*llu", digits, (unsigned long long)frac);
}

/* The graph of one series (bpftrace's TextEmitter<TimeSeries>). */
static void bt__ts_graph(FILE *out, const struct bt_map *m, const struct bt__ts_rows *r)
{
	static const char *const unit_name[] = { "", "ms", "\xce\xbcs", "ns" };
	uint64_t spacing = r->n > 1 ? m->ts_interval : 0;
	int64_t lo = 0, hi = 0, zero = 0;
	int unit, digits, tsize, any = 0;
	char lo_s[32], hi_s[32], fmt[32], t[64], line[BT__TS_WIDTH + 1];
	size_t k;

	if (!r->n) {
		fputs("<no data>", out);	/* no blank line after it */
		return;
	}
	for (k = 0; k < r->n; k++) {
		if (!r->have[k])
			continue;
		if (!any++ || bt__ts_less(m, r->val[k], lo))
			lo = r->val[k];
		if (any == 1 || bt__ts_less(m, hi, r->val[k]))
			hi = r->val[k];
	}
	if (any && lo == hi) {
		/* some room on both sides, unless at the end of the type */
		if (m->ts_signed ? lo != INT64_MIN : (uint64_t)lo != 0)
			lo--;
		if (m->ts_signed ? hi != INT64_MAX : (uint64_t)hi != UINT64_MAX)
			hi++;
	}
	if (any) {
		bt__ts_num(m, lo_s, sizeof(lo_s), lo);
		bt__ts_num(m, hi_s, sizeof(hi_s), hi);
	} else {
		strcpy(lo_s, "null");	/* no value in the window at all */
		strcpy(hi_s, "null");
	}

	/* the time column's precision: the unit of the rows' spacing */
	unit = spacing >= 1000000000ULL ? 0 : spacing >= 1000000ULL ? 1 : spacing >= 1000ULL ? 2 : 3;
	digits = 3 * unit;
	tsize = 8 + (unit ? 1 + digits : 0);
	snprintf(fmt, sizeof(fmt), "hh:mm:ss%s%s", unit ? "." : "", unit_name[unit]);

	if (any && bt__ts_dist(m, lo, 0) < 0 && bt__ts_dist(m, 0, hi) < 0)
		zero = (int)((float)BT__TS_WIDTH * (float)bt__ts_dist(m, lo, 0) /
			     (float)bt__ts_dist(m, lo, hi));

	fprintf(out, "%*s%-*s%*s\n", tsize + 1, "", BT__TS_PAD, lo_s, BT__TS_WIDTH - BT__TS_PAD,
		hi_s);
	memset(line, '_', BT__TS_WIDTH);
	line[0] = line[BT__TS_WIDTH - 1] = '|';
	line[BT__TS_WIDTH] = 0;
	fprintf(out, "%-*s%s\n", tsize + 1, fmt, line);

	for (k = 0; k < r->n; k++) {
		memset(line, ' ', BT__TS_WIDTH);
		line[0] = line[BT__TS_WIDTH - 1] = '|';
		if (zero > 0)
			line[zero] = '.';
		bt__ts_time(t, sizeof(t), (r->first + k) * m->ts_interval, digits, 0);
		if (r->have[k]) {
			int at = BT__TS_WIDTH / 2;
			char num[32];

			if (lo != hi)
				at = (int)((float)(BT__TS_WIDTH - 1) *
					   (float)bt__ts_dist(m, r->val[k], lo) /
					   (float)bt__ts_dist(m, hi, lo));
			if (at < 0)
				at = 0;
			if (at > BT__TS_WIDTH - 1)
				at = BT__TS_WIDTH - 1;
			line[at] = '*';
			bt__ts_num(m, num, sizeof(num), r->val[k]);
			fprintf(out, "%s %s %s\n", t, line, num);
		} else {
			fprintf(out, "%s %s -\n", t, line);
		}
	}
	memset(line, '_', BT__TS_WIDTH);
	line[0] = line[BT__TS_WIDTH - 1] = 'v';
	fprintf(out, "%*s %s\n", tsize, "", line);
	fprintf(out, "%*s %-*s%*s\n", tsize, "", BT__TS_PAD, lo_s, BT__TS_WIDTH - BT__TS_PAD,
		hi_s);
}

/* Text of print(@s) and the exit dump: "@s[key]:", the graph, a blank line
 * ("<no data>" and a newline for a key without intervals). */
static int bt__tseries_print(FILE *out, const struct bt_map *m, const struct bt__snap *s)
{
	uint64_t lo, last;
	size_t i;

	bt__ts_window(m, s, &lo, &last);
	for (i = 0; i < s->n; i++) {
		struct bt__ts_rows r;

		if (bt__ts_rows(m, s->ents[i].val, lo, last, &r)) {
			bt__ts_rows_free(&r);
			return -1;
		}
		bt__print_name_key(out, m, s->ents[i].key);
		fputs(":\n", out);
		bt__ts_graph(out, m, &r);
		fputc('\n', out);
		bt__ts_rows_free(&r);
		if (m->scalar)
			break;
	}
	return 0;
}

/* [{"interval_start":"DATE TIME.NS","value":V},...]: the intervals with a value. */
static int bt__ts_json_series(FILE *out, const struct bt_map *m, const unsigned char *v,
			      uint64_t lo, uint64_t last)
{
	struct bt__ts_rows r;
	size_t k;
	int first = 1;
	char t[64];

	if (bt__ts_rows(m, v, lo, last, &r)) {
		bt__ts_rows_free(&r);
		return -1;
	}
	fputc('[', out);
	for (k = 0; k < r.n; k++) {
		if (!r.have[k])
			continue;
		if (!first)
			fputc(',', out);
		first = 0;
		bt__ts_time(t, sizeof(t), (r.first + k) * m->ts_interval, 9, 1);
		fprintf(out, "{\"interval_start\":\"%s\",\"value\":", t);
		if (m->ts_signed)
			bt_json_i64(out, r.val[k]);
		else
			bt_json_u64(out, (uint64_t)r.val[k]);
		fputc('}', out);
	}
	fputc(']', out);
	bt__ts_rows_free(&r);
	return 0;
}

/* -f json: {"type": "tseries", "data": {"@s": SERIES}} or {"@s": {"KEY": SERIES, ...}}. */
static int bt__tseries_json(FILE *out, const struct bt_map *m, const struct bt__snap *s)
{
	uint64_t lo, last;
	size_t i;
	int err = 0;

	bt__ts_window(m, s, &lo, &last);
	bt_json_begin(out, "tseries");
	fputc('{', out);
	bt_json_string(out, m->name, strlen(m->name));
	fputs(": ", out);
	if (m->scalar) {
		err = bt__ts_json_series(out, m, s->ents[0].val, lo, last);
	} else {
		fputc('{', out);
		for (i = 0; i < s->n && !err; i++) {
			if (i)
				fputs(", ", out);
			bt__json_key(out, m, s->ents[i].key);
			fputs(": ", out);
			err = bt__ts_json_series(out, m, s->ents[i].val, lo, last);
		}
		fputc('}', out);
	}
	fputc('}', out);
	bt_json_end(out);
	return err;
}
