/*
 * bt2c loader support for bpftrace's standard library functions whose work is
 * done in user space: time(), strftime(), username, join(), cat(), system(),
 * errorf()/warnf() (included only by tools that use one of them).
 */

/* Format into a malloc'd buffer (NULL on failure); *len: its length, which may
 * count NULs that %c of 0 wrote. */
__attribute__((format(printf, 2, 0), unused))
static char *bt_vformat(size_t *len, const char *fmt, va_list ap)
{
	va_list copy;
	char *buf;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0 || !(buf = malloc((size_t)n + 1)))
		return NULL;
	vsnprintf(buf, (size_t)n + 1, fmt, ap);
	*len = (size_t)n;
	return buf;
}

/* One record of text in JSON ({"type": TYPE, "data": "..."}), or the text as it is. */
static BT_UNUSED void bt_emit_text(FILE *out, const char *type, const char *s, size_t len)
{
	if (bt_format == BT_FORMAT_JSON) {
		bt_json_begin(out, type);
		bt_json_string(out, s, len);
		bt_json_end(out);
	} else {
		fwrite(s, 1, len, out);
	}
}

#define BT_MAX_CAT_BYTES 10240	/* bpftrace's max_cat_bytes */

/* cat(): the named file's first bytes, as they are. */
__attribute__((format(printf, 2, 3), unused))
static void bt_cat(FILE *out, const char *fmt, ...)
{
	char *path, buf[BT_MAX_CAT_BYTES];
	size_t len, got;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	path = bt_vformat(&len, fmt, ap);
	va_end(ap);
	if (!path)
		return;
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "ERROR: failed to open file '%s' (%s)\n", path, strerror(errno));
		free(path);
		return;
	}
	got = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	free(path);
	bt_emit_text(out, "cat", buf, got);
}

/* system(): run the command with sh -c (tool built with --unsafe) and print what it
 * wrote to stdout once it has finished; the tool waits for it, as bpftrace does. */
__attribute__((format(printf, 2, 3), unused))
static void bt_system(FILE *out, const char *fmt, ...)
{
	char *cmd, *text = NULL, chunk[4096];
	size_t len, n, total = 0;
	va_list ap;
	FILE *p;
	int status;

	va_start(ap, fmt);
	cmd = bt_vformat(&len, fmt, ap);
	va_end(ap);
	if (!cmd)
		return;
	fflush(out);
	p = popen(cmd, "r");
	free(cmd);
	if (!p) {
		fprintf(stderr, "ERROR: failed to run command: %s\n", strerror(errno));
		return;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		char *grown = realloc(text, total + n);

		if (!grown)
			break;
		text = grown;
		memcpy(text + total, chunk, n);
		total += n;
	}
	status = pclose(p);
	if (status != 0) {
		fprintf(stderr, "ERROR: command exited with code %d\n",
			WIFEXITED(status) ? WEXITSTATUS(status) : status);
	} else {
		bt_emit_text(out, "syscall", text ? text : "", total);
		if (bt_format != BT_FORMAT_JSON)
			fputc('\n', out);	/* as bpftrace ends the command's output */
	}
	free(text);
}

/* errorf()/warnf() (and a failed assert): the message with the script location,
 * on stderr in text, a record of the output in JSON.  expanded: for assert, the
 * call it comes from (bpftrace's assert is a macro of its standard library). */
__attribute__((format(printf, 8, 9), unused))
static void bt_diag(FILE *out, const char *level, const char *file, int line, int col,
		    int end, const char *expanded, const char *fmt, ...)
{
	size_t len;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = bt_vformat(&len, fmt, ap);
	va_end(ap);
	if (!msg)
		return;
	if (bt_format == BT_FORMAT_JSON) {
		fprintf(out, "{\"type\": \"%s\", \"msg\": ", strcmp(level, "ERROR") ? "warnf" : "errorf");
		bt_json_string(out, msg, len);
		fputs(", \"filename\": ", out);
		bt_json_string(out, file, strlen(file));
		fprintf(out, ", \"line\": %d, \"col\": %d}\n", line, col);
	} else {
		fflush(out);
		fprintf(stderr, "%s:%d:%d-%d: %s: %s\n%s", file, line, col, end, level, msg, expanded);
	}
	free(msg);
}

/* time(): the wall-clock time when the record is printed, as strftime(3) formats it. */
static BT_UNUSED void bt_time(FILE *out, const char *fmt)
{
	char buf[512];
	time_t t = time(NULL);
	struct tm tm;
	size_t n;

	if (!localtime_r(&t, &tm))
		return;
	n = strftime(buf, sizeof(buf), fmt, &tm);
	if (n == 0) {
		fprintf(stderr, "ERROR: strftime returned zero\n");
		return;
	}
	bt_emit_text(out, "time", buf, n);
}

/* join(): the strings of the record, up to the first empty one, with sep between. */
static BT_UNUSED void bt_join(FILE *out, const char *argv, int argnum, int argsize,
			      const char *sep)
{
	char *text = malloc((size_t)argnum * ((size_t)argsize + strlen(sep)) + 2);
	size_t len = 0;

	if (!text)
		return;
	for (int i = 0; i < argnum; i++) {
		const char *arg = argv + (size_t)i * argsize;
		size_t n = strnlen(arg, (size_t)argsize);

		if (!n)
			break;
		if (i) {
			memcpy(text + len, sep, strlen(sep));
			len += strlen(sep);
		}
		memcpy(text + len, arg, n);
		len += n;
	}
	if (bt_format == BT_FORMAT_JSON) {
		bt_emit_text(out, "join", text, len);
	} else {
		text[len++] = '\n';
		fwrite(text, 1, len, out);
	}
	free(text);
}

/* Nanoseconds to add to a time on `clock` (CLOCK_BOOTTIME or CLOCK_TAI) to get the
 * wall-clock time: measured once per clock, as bpftrace does. */
static BT_UNUSED long long bt_wall_offset_ns(clockid_t clock)
{
	static long long boot, tai;
	static int known_boot, known_tai;

	if (clock == CLOCK_TAI) {
		if (!known_tai)
			tai = bt_clock_offset_ns(CLOCK_REALTIME, CLOCK_TAI), known_tai = 1;
		return tai;
	}
	if (!known_boot)
		boot = bt_clock_offset_ns(CLOCK_REALTIME, CLOCK_BOOTTIME), known_boot = 1;
	return boot;
}

/* Text of formatted values lives in a few rotating buffers, so that one printf
 * can hold several. */
static BT_UNUSED char *bt_fmt_buffer(void)
{
	static char bufs[8][1024];
	static unsigned int next;

	return bufs[next++ % 8];
}

/* Replace every `pat` (2 chars) in fmt with `with`, in place within size bytes. */
static void bt__replace(char *fmt, size_t size, const char *pat, const char *with)
{
	char *p = fmt;
	size_t wl = strlen(with);

	while ((p = strstr(p, pat)) != NULL) {
		size_t tail = strlen(p + 2);

		if ((size_t)(p - fmt) + wl + tail + 1 > size)
			return;
		memmove(p + wl, p + 2, tail + 1);
		memcpy(p, with, wl);
		p += wl;
	}
}

/* strftime(fmt, ns): nanoseconds on `clock` (since boot, or TAI) as local time;
 * bpftrace's extensions %f (microseconds), %k (nanoseconds), %l (milliseconds) are
 * replaced first. */
static BT_UNUSED const char *bt_fmt_timestamp(const char *fmt, unsigned long long ns,
					      clockid_t clock)
{
	unsigned long long t = ns + (unsigned long long)bt_wall_offset_ns(clock);
	time_t sec = (time_t)(t / 1000000000ULL);
	unsigned long long rem = t % 1000000000ULL;
	char *out = bt_fmt_buffer(), f[1024], digits[16];
	struct tm tm;

	if (!sec || !localtime_r(&sec, &tm))
		return "(?)";
	snprintf(f, sizeof(f), "%s", fmt);
	snprintf(digits, sizeof(digits), "%06llu", rem / 1000);
	bt__replace(f, sizeof(f), "%f", digits);
	snprintf(digits, sizeof(digits), "%09llu", rem);
	bt__replace(f, sizeof(f), "%k", digits);
	snprintf(digits, sizeof(digits), "%03llu", rem / 1000000);
	bt__replace(f, sizeof(f), "%l", digits);
	if (strftime(out, 1024, f, &tm) == 0)
		return "(?)";
	return out;
}

/* username: the name /etc/passwd gives the uid (bpftrace reads the file, not NSS);
 * empty when there is none. */
static BT_UNUSED const char *bt_fmt_username(unsigned long long uid)
{
	char *out = bt_fmt_buffer(), line[1024];
	FILE *f = fopen("/etc/passwd", "r");

	out[0] = 0;
	if (!f)
		return out;
	while (fgets(line, sizeof(line), f)) {
		char *name = strtok(line, ":"), *id;

		if (name && strtok(NULL, ":") && (id = strtok(NULL, ":")) &&
		    strtoull(id, NULL, 10) == uid && *id) {
			snprintf(out, 1024, "%s", name);
			break;
		}
	}
	fclose(f);
	return out;
}
