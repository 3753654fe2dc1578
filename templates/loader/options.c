/*
 * getopt(): the script's named options, given after "--" as --NAME or
 * --NAME=VALUE (bpftrace's program options); the other arguments stay the
 * positional parameters $1, $2, ...  Messages are bpftrace's.
 */

#include <strings.h>

enum bt_opt_kind { BT_OPT_BOOL, BT_OPT_INT, BT_OPT_UINT, BT_OPT_STRING };

struct bt_option {
	const char *name;
	enum bt_opt_kind kind;
	const char *description;	/* NULL: none */
	const char *value;		/* as given; NULL: not given */
	int bare;			/* given as --NAME, without "=VALUE" */
	unsigned long long number;	/* a given bool or integer's value */
};

static void bt_options_hint(const struct bt_option *opts, int n, int list)
{
	if (n == 0) {
		fprintf(stderr, "HINT: no custom program options defined.\n");
		return;
	}
	fprintf(stderr, "HINT: expected program options:%s", list ? "\n" : " ");
	for (int i = 0; i < n; i++) {
		if (list)
			fprintf(stderr, "--%s%s%s\n", opts[i].name, opts[i].description ? ": " : "",
				opts[i].description ? opts[i].description : "");
		else
			fprintf(stderr, "%s--%s", i ? ": " : "", opts[i].name);
	}
	if (!list)
		fprintf(stderr, "\n");
}

static int bt_option_number(struct bt_option *o);
static int bt_option_string(const struct bt_option *o);

/* Take the named options out of the positional parameters and check their values.
 * Returns 0 to go on, -1 on an unknown option or a bad value, or after "-- --help"
 * (all exit with status 1, as in bpftrace). */
static int bt_parse_options(struct bt_option *opts, int n)
{
	char **params = bt_state.params;
	int kept = 0, unknown = 0;

	for (int i = 0; i < bt_state.nparams; i++) {
		char *arg = params[i], *eq;
		size_t len;
		int found = 0;

		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			params[kept++] = arg;
			continue;
		}
		if (strcmp(arg, "--help") == 0) {
			bt_options_hint(opts, n, 1);
			return -1;
		}
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		for (int j = 0; j < n; j++) {
			if (strlen(opts[j].name) == len && strncmp(opts[j].name, arg + 2, len) == 0) {
				opts[j].value = eq ? eq + 1 : "true";
				opts[j].bare = !eq;
				found = 1;	/* the last one given wins */
			}
		}
		if (!found) {
			fprintf(stderr, "%s--%.*s", unknown++ ? ", " :
				"ERROR: unexpected program command line options: ", (int)len, arg + 2);
		}
	}
	if (unknown) {
		fprintf(stderr, "\n");
		bt_options_hint(opts, n, 0);
		return -1;
	}
	bt_state.nparams = kept;
	for (int j = 0; j < n; j++) {
		if (!opts[j].value)
			continue;
		if (opts[j].kind == BT_OPT_STRING ? bt_option_string(&opts[j])
						  : bt_option_number(&opts[j]))
			return -1;
	}
	return 0;
}

/* Convert a given bool or integer option into o->number. */
static int bt_option_number(struct bt_option *o)
{
	const char *v = o->value;
	unsigned long long *out = &o->number;
	char *end;

	if (o->kind == BT_OPT_BOOL) {
		if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes")) {
			*out = 1;
		} else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no")) {
			*out = 0;
		} else {
			fprintf(stderr, "ERROR: program command line option --%s expects a boolean "
				"(e.g. 'true') (value: %s)\n", o->name, v);
			return -1;
		}
		return 0;
	}
	if (o->bare) {
		fprintf(stderr, "ERROR: program command line option --%s expects an integer "
			"(value: true)\n", o->name);
		return -1;
	}
	errno = 0;
	*out = o->kind == BT_OPT_INT ? (unsigned long long)strtoll(v, &end, 0)
				     : strtoull(v, &end, 0);
	if (end == v) {
		fprintf(stderr, "ERROR: program command line option --%s invalid integer "
			"(value: %s)\n", o->name, v);
		return -1;
	}
	if (errno == ERANGE) {
		fprintf(stderr, "ERROR: program command line option --%s value is out of range "
			"(value: %s)\n", o->name, v);
		return -1;
	}
	if (*end) {
		fprintf(stderr, "ERROR: program command line option --%s invalid trailing bytes "
			"(value: %s)\n", o->name, v);
		return -1;
	}
	return 0;
}

/* A string option needs "=VALUE". */
static int bt_option_string(const struct bt_option *o)
{
	if (o->bare) {
		fprintf(stderr, "ERROR: program command line option --%s expects a string "
			"(value: true)\n", o->name);
		return -1;
	}
	return 0;
}
