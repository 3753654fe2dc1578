/*
 * bt2c loader support: bpftrace's command line, the -c child, signals,
 * probe attachment (perf events, kprobes) and one-shot BEGIN/END runs.
 */

static FILE *bt_out;
static volatile sig_atomic_t bt_exiting;

static struct {
	int quiet;
	int verbose;
	const char *command;	/* -c */
	pid_t pid;		/* -p */
	pid_t cpid;		/* the -c child */
	int start_fd;		/* write end of the pipe the child waits on */
	int nparams;
	char **params;
	int no_kfunc;		/* --no-feature kfunc */
	int no_for_each;	/* --no-feature for_each_map_elem */
	int check;		/* --check: report the kernel features chosen, then exit */
	int helper_warnings;	/* -k: report failed probe reads */
	int buffering;		/* -B: _IOLBF, _IOFBF or _IONBF; -1: not given */
	int stopped;		/* exit() was called or the target is gone */
	int in_end;		/* END probes are running */
	int exit_code;
} bt_state = { .start_fd = -1, .buffering = -1 };

/* -k: a probe read of the script that failed (the BPF side numbers them). */
struct bt_helper_site {
	const char *helper;
	const char *where;	/* FILE:LINE:COL-END */
	const char *text;	/* the script line */
	const char *underline;
};

/* -k: as bpftrace words it, on stderr. */
__attribute__((unused)) static void bt_helper_warning(const struct bt_helper_site *site,
						      long long ret)
{
	fflush(bt_out);
	fprintf(stderr, "%s: WARNING: %s\nAdditional Info - helper: %s, retcode: %lld\n%s\n%s\n",
		site->where, strerror((int)-ret), site->helper, ret, site->text, site->underline);
}

static void bt_usage(const char *prog)
{
	fprintf(stderr,
		"USAGE: %s [options] [ARGS...]\n"
		"  -c CMD    run CMD, trace until it exits (cpid is its pid)\n"
		"  -p PID    trace until process PID exits\n"
		"  -o FILE   write output to FILE instead of stdout\n"
		"  -f FORMAT output format: text (the default) or json\n"
		"  -q        quiet: no 'Attached N probes' message\n"
		"  -B MODE   output buffering: line, full or none\n"
		"  -k        warn when a probe read fails\n"
		"  -v        verbose: show libbpf's messages\n"
		"  --no-feature kfunc|for_each_map_elem\n"
		"            don't use that kernel feature even if present\n"
		"  --check   load, report which kernel features are used, and exit\n"
		"  ARGS      positional parameters $1, $2, ...\n", prog);
}

/* Returns 0 to go on, 1 after --help, -1 on a bad option. */
static int bt_parse_args(int argc, char **argv)
{
	int opt;

	static const struct option long_opts[] = {
		{ "no-feature", required_argument, NULL, 'N' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	bt_out = stdout;
	while ((opt = getopt_long(argc, argv, "+c:p:o:f:B:kqvh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'N':
			if (strcmp(optarg, "kfunc") == 0) {
				bt_state.no_kfunc = 1;
			} else if (strcmp(optarg, "for_each_map_elem") == 0) {
				bt_state.no_for_each = 1;
			} else {
				fprintf(stderr, "ERROR: unknown feature '%s' (kfunc, for_each_map_elem)\n",
					optarg);
				return -1;
			}
			break;
		case 'C':
			bt_state.check = 1;
			break;
		case 'c':
			bt_state.command = optarg;
			break;
		case 'p':
			bt_state.pid = (pid_t)strtol(optarg, NULL, 10);
			if (bt_state.pid <= 0 || kill(bt_state.pid, 0) < 0) {
				fprintf(stderr, "ERROR: invalid pid: %s\n", optarg);
				return -1;
			}
			break;
		case 'o':
			bt_out = fopen(optarg, "w");
			if (!bt_out) {
				fprintf(stderr, "ERROR: cannot open %s: %s\n", optarg, strerror(errno));
				return -1;
			}
			break;
		case 'f':
			if (strcmp(optarg, "text") == 0) {
				bt_format = BT_FORMAT_TEXT;
			} else if (strcmp(optarg, "json") == 0) {
				bt_format = BT_FORMAT_JSON;
			} else {
				fprintf(stderr, "ERROR: Invalid output format \"%s\"\n"
					"Valid formats: 'text', 'json'\n", optarg);
				return -1;
			}
			break;
		case 'q':
			bt_state.quiet = 1;
			break;
		case 'k':
			bt_state.helper_warnings = 1;
			break;
		case 'B':
			if (strcmp(optarg, "line") == 0) {
				bt_state.buffering = _IOLBF;
			} else if (strcmp(optarg, "full") == 0) {
				bt_state.buffering = _IOFBF;
			} else if (strcmp(optarg, "none") == 0) {
				bt_state.buffering = _IONBF;
			} else {
				fprintf(stderr, "ERROR: USAGE: -B must be either 'line', 'full', or "
					"'none'.\n");
				return -1;
			}
			break;
		case 'v':
			bt_state.verbose = 1;
			break;
		case 'h':
			bt_usage(argv[0]);
			return 1;
		default:
			bt_usage(argv[0]);
			return -1;
		}
	}
	/* -B: stdio's buffering of the output (else full, flushed after each batch). */
	if (bt_state.buffering >= 0)
		setvbuf(bt_out, NULL, bt_state.buffering, 0);
	bt_state.nparams = argc - optind;
	bt_state.params = argv + optind;
	return 0;
}

/*
 * printf(): in text the formatted output as it is; with -f json one line
 * {"type": "printf", "data": "..."} holding it formatted, then escaped.
 */
__attribute__((format(printf, 2, 3), unused))
static void bt_printf(FILE *out, const char *fmt, ...)
{
	char small[1024], *buf = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (bt_format != BT_FORMAT_JSON) {
		vfprintf(out, fmt, ap);
		va_end(ap);
		return;
	}
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(small)) {
		buf = malloc((size_t)n + 1);
		if (!buf)
			return;
		va_start(ap, fmt);
		vsnprintf(buf, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	/* the length, not strlen(): %c of 0 puts a NUL in the output */
	bt_json_begin(out, "printf");
	bt_json_string(out, buf, (size_t)n);
	bt_json_end(out);
	if (buf != small)
		free(buf);
}

/* "Attached N probes": on stderr in text, a record of the output in JSON. */
static void bt_report_attached(int nprobes)
{
	if (bt_format == BT_FORMAT_JSON) {
		fputs("{\"type\": \"attached_probes\", \"count\": ", bt_out);
		bt_json_streamed_u64(bt_out, (unsigned long long)nprobes);
		fputs(", \"data\": {\"probes\": ", bt_out);
		bt_json_streamed_u64(bt_out, (unsigned long long)nprobes);
		fputs("}}\n", bt_out);
	} else {
		fprintf(stderr, "Attached %d probe%s\n", nprobes, nprobes == 1 ? "" : "s");
	}
}

/*
 * Records the BPF side could not reserve in the full ring buffer (bt_lost),
 * reported as bpftrace reports them: the new losses after each poll ("Lost N
 * events" on stderr, a lost_events record in JSON), the total at exit.
 */
static unsigned long long bt_lost_reported;

static void bt_report_lost(unsigned long long lost)
{
	unsigned long long n = lost - bt_lost_reported;

	if (!n)
		return;
	bt_lost_reported = lost;
	if (bt_format == BT_FORMAT_JSON) {
		fputs("{\"type\": \"lost_events\", \"count\": ", bt_out);
		bt_json_streamed_u64(bt_out, n);
		fputs(", \"data\": {\"events\": ", bt_out);
		bt_json_streamed_u64(bt_out, n);
		fputs("}}\n", bt_out);
	} else {
		fprintf(stderr, "Lost %llu events\n", n);
	}
}

static void bt_report_lost_total(void)
{
	if (bt_lost_reported)
		fprintf(stderr, "WARNING: Total lost event count: %llu\n", bt_lost_reported);
}

/* libbpf's messages: all shown with -v; otherwise warnings are kept so that a
 * verifier rejection can be explained in terms of the script. */
static char bt_log[1 << 16];
static size_t bt_log_len;

/* Append n bytes to bt_log, dropping its oldest bytes when it is full. */
static void bt_log_keep(const char *s, size_t n)
{
	size_t cap = sizeof(bt_log) - 1;

	if (n >= cap) {
		s += n - cap;
		n = cap;
		bt_log_len = 0;
	} else if (bt_log_len + n > cap) {
		size_t drop = bt_log_len + n - cap;

		memmove(bt_log, bt_log + drop, bt_log_len - drop);
		bt_log_len -= drop;
	}
	memcpy(bt_log + bt_log_len, s, n);
	bt_log_len += n;
	bt_log[bt_log_len] = '\0';
}

static int bt_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (bt_state.verbose) {
		va_list copy;

		va_copy(copy, args);
		vfprintf(stderr, fmt, copy);
		va_end(copy);
	}
	if (level != LIBBPF_WARN)
		return 0;

	/* The verifier's log comes as one message, often larger than bt_log: format it
	 * whole and keep its end, where the reason for a rejection is. */
	va_list copy;

	va_copy(copy, args);
	int n = vsnprintf(NULL, 0, fmt, copy);

	va_end(copy);
	if (n <= 0)
		return 0;
	char *msg = malloc((size_t)n + 1);

	if (!msg)
		return 0;
	vsnprintf(msg, (size_t)n + 1, fmt, args);
	bt_log_keep(msg, (size_t)n);
	free(msg);
	return 0;
}

struct bt_line_map {
	int c_line;		/* first line of a block in the .bpf.c */
	int script_line;	/* the script line it was generated from */
};

/* After a failed load: name the script line the verifier stopped at, and why. */
__attribute__((unused)) static void bt_explain_load_failure(const char *bpf_file, const char *script,
				    const struct bt_line_map *map, int nmap,
				    const char *const *lines, int nlines)
{
	char needle[256], reason[256] = "";
	const char *p, *last = NULL;
	int c_line = 0, script_line = 0;

	snprintf(needle, sizeof(needle), "@ %s:", bpf_file);
	for (p = strstr(bt_log, needle); p; p = strstr(p + 1, needle))
		last = p;
	if (last)
		c_line = atoi(last + strlen(needle));
	for (int i = 0; i < nmap && map[i].c_line <= c_line; i++)
		script_line = map[i].script_line;

	/* The reason is the last log line before "processed N insns", skipping the
	 * state dumps that follow "infinite loop detected". */
	p = strstr(bt_log, "\nprocessed ");
	if (p) {
		const char *end = p, *start = p;

		for (;;) {
			start = end;
			while (start > bt_log && start[-1] != '\n')
				start--;
			if (start <= bt_log || (strncmp(start, "cur state", 9) != 0 &&
						strncmp(start, "old state", 9) != 0))
				break;
			end = start - 1;
		}
		snprintf(reason, sizeof(reason), "%.*s", (int)(end - start), start);
	}
	if (script_line > 0 && script_line <= nlines) {
		fprintf(stderr, "%s:%d: ERROR: the kernel's BPF verifier rejected the code for this "
			"line%s%s\n%s\n", script, script_line, reason[0] ? ": " : "", reason,
			lines[script_line - 1]);
	} else {
		fprintf(stderr, "ERROR: the kernel's BPF verifier rejected the program%s%s\n",
			reason[0] ? ": " : "", reason);
	}
	fprintf(stderr, "(run with -v for the full verifier log)\n");
}

#ifdef BT_KSYMS
/* A kernel variable the programs name (percpu_kaddr()), and its first script line. */
struct bt_ksym_line {
	const char *name;
	int line;
};

/*
 * After a failed load: was it a kernel variable that could not be resolved?  libbpf
 * looks each typed __ksym up in the kernel's BTF, then the verifier looks its address
 * up in kallsyms before it checks any instruction (so neither message names a line
 * of ours): name the script line that uses the variable, with the reason.  Data
 * symbols are in kallsyms only on kernels built with CONFIG_KALLSYMS_ALL.
 */
static int bt_explain_ksym_failure(const char *script, const struct bt_ksym_line *ksyms,
				   int nksyms, const char *const *lines, int nlines)
{
	static const char *const needles[] = {
		"ldimm64 failed to find the address for kernel symbol '",
		"extern (var ksym) '",
	};
	static const char *const hints[] = {
		"data symbols need a kernel built with CONFIG_KALLSYMS_ALL",
		"the kernel's BTF has no such per-CPU variable",
	};
	const char *p = NULL, *name, *end;
	size_t len;
	int which;

	for (which = 0; which < 2 && !p; which++)
		p = strstr(bt_log, needles[which]);
	if (!p)
		return 0;
	which--;
	name = p + strlen(needles[which]);
	end = strchr(p, '\n');
	len = end ? (size_t)(end - p) : strlen(p);
	if (len && p[len - 1] == '.')
		len--;
	for (int i = 0; i < nksyms; i++) {
		size_t n = strlen(ksyms[i].name);

		if (strncmp(name, ksyms[i].name, n) != 0 || name[n] != '\'' ||
		    ksyms[i].line < 1 || ksyms[i].line > nlines)
			continue;
		fprintf(stderr, "%s:%d: ERROR: the kernel cannot resolve the variable %s on this "
			"line: %.*s (%s)\n%s\n", script, ksyms[i].line, ksyms[i].name, (int)len, p,
			hints[which], lines[ksyms[i].line - 1]);
		return 1;
	}
	fprintf(stderr, "ERROR: %.*s (%s)\n", (int)len, p, hints[which]);
	return 1;
}
#endif

/* Does the running kernel have this kfunc?  Looked up in its BTF. */
__attribute__((unused)) static int bt_kernel_has_kfunc(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int id;

	if (!btf)
		return 0;
	id = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC);
	btf__free(btf);
	return id > 0;
}

/*
 * Can an fentry/fexit program on kernel function func load here?  The kernel
 * must have BTF for it, BPF trampolines for this arch, and let tracing programs
 * load (a locked-down kernel does not): asked by loading the smallest such
 * program, as libbpf-tools' fentry_can_attach() does.  errno_out: why not.
 */
__attribute__((unused)) static int bt_fentry_can_load(const char *func, int *errno_out)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY);
	struct btf *btf = btf__load_vmlinux_btf();
	int id, fd;

	*errno_out = ENOENT;
	if (!btf)
		return 0;
	id = btf__find_by_name_kind(btf, func, BTF_KIND_FUNC);
	btf__free(btf);
	if (id <= 0)
		return 0;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "bt_fentry_probe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &opts);
	if (fd < 0) {
		*errno_out = errno;
		return 0;
	}
	close(fd);
	*errno_out = 0;
	return 1;
}

/* Can a tracing program call this helper on the running kernel? */
__attribute__((unused)) static int bt_kernel_has_helper(enum bpf_func_id helper)
{
	if (helper == BPF_FUNC_override_return) {
		/*
		 * Only kprobes have it, and only with CONFIG_BPF_KPROBE_OVERRIDE; the
		 * verifier's refusal then is not one libbpf's probe recognises, so look
		 * for the helper's own function in the kernel's BTF.
		 */
		struct btf *vmlinux = btf__load_vmlinux_btf();
		int found;

		if (!vmlinux)
			return libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, helper, NULL) == 1;
		found = btf__find_by_name_kind(vmlinux, "bpf_override_return", BTF_KIND_FUNC) >= 0;
		btf__free(vmlinux);
		return found;
	}
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, helper, NULL) == 1;
}

/*
 * Hash map keys over 512 bytes (a map key holding a long string): Linux 5.11 lifted
 * the limit; before, creating the map fails with E2BIG.
 */
__attribute__((unused)) static int bt_kernel_has_big_keys(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, 520, 8, 1, NULL);

	if (fd < 0)
		return fd != -E2BIG;
	close(fd);
	return 1;
}

/*
 * cgroupid(PATH): the cgroup v2 id of a directory, its file handle, as
 * bpf_get_current_cgroup_id() reports it.  Looked up when the tool starts,
 * since ids differ between machines and boots.
 */
#ifdef BT_CGROUPID
static int bt_cgroupid(const char *path, __u64 *id)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = { .fh.handle_bytes = sizeof(__u64) };
	int mount_id;

	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return -1;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}
#endif

/* Now on one of the kernel's clocks, in nanoseconds. */
static __u64 bt_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * What to add to a time on clock `from` to get the same instant on clock `to`:
 * `to` is read between two reads of `from`, and compared with their middle.
 */
__attribute__((unused)) static long long bt_clock_offset_ns(clockid_t to, clockid_t from)
{
	__u64 before = bt_clock_ns(from);
	__u64 at = bt_clock_ns(to);
	__u64 after = bt_clock_ns(from);

	return (long long)(at - (before + (after - before) / 2));
}

/* $N as an integer: decimal, hex or octal; 0 when it is not a number. */
__attribute__((unused)) static long long bt_param_int(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 0);

	return (*s && !*end) ? v : 0;
}

/* Fork the -c command now (so cpid is known before load); it waits for
 * bt_release_command(), which runs once every probe is attached. */
static int bt_start_command(void)
{
	int fds[2];
	pid_t pid;

	if (!bt_state.command)
		return 0;
	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "ERROR: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char *argv[64], *copy = strdup(bt_state.command), *save = NULL;
		int n = 0;
		char go;

		close(fds[1]);
		if (read(fds[0], &go, 1) != 1)
			_exit(0);
		close(fds[0]);
		for (char *tok = strtok_r(copy, " \t", &save); tok && n < 63;
		     tok = strtok_r(NULL, " \t", &save))
			argv[n++] = tok;
		argv[n] = NULL;
		execvp(argv[0], argv);
		fprintf(stderr, "ERROR: failed to exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	bt_state.cpid = pid;
	bt_state.start_fd = fds[1];
	return 0;
}

static void bt_release_command(void)
{
	if (bt_state.start_fd >= 0) {
		if (write(bt_state.start_fd, "g", 1) != 1)
			fprintf(stderr, "ERROR: failed to start the command\n");
		close(bt_state.start_fd);
		bt_state.start_fd = -1;
	}
}

/* When tracing stops first (Ctrl-C, exit()), end the -c command as bpftrace
 * does: SIGTERM, then SIGKILL if it is still there after a second. */
static void bt_finish_command(void)
{
	if (bt_state.start_fd >= 0) {
		close(bt_state.start_fd);	/* never released: it exits on EOF */
		bt_state.start_fd = -1;
	}
	if (bt_state.cpid <= 0)
		return;
	if (waitpid(bt_state.cpid, NULL, WNOHANG) == 0) {
		kill(bt_state.cpid, SIGTERM);
		for (int i = 0; i < 100; i++) {
			if (waitpid(bt_state.cpid, NULL, WNOHANG) != 0)
				return;
			usleep(10000);
		}
		kill(bt_state.cpid, SIGKILL);
		waitpid(bt_state.cpid, NULL, 0);
	}
}

/* A process that has exited but not been reaped (a zombie) counts as gone. */
static int bt_process_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return kill(pid, 0) == 0 || errno != ESRCH;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');	/* the state follows the command name */
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/* Stop when the -c child or the -p process is gone. */
static void bt_check_targets(void)
{
	if (bt_state.cpid > 0 && waitpid(bt_state.cpid, NULL, WNOHANG) == bt_state.cpid) {
		bt_state.cpid = 0;
		bt_state.stopped = 1;
	}
	if (bt_state.pid > 0 && !bt_process_alive(bt_state.pid))
		bt_state.stopped = 1;
}

static void bt_on_signal(int sig)
{
	bt_exiting = 1;
}

/* SIGUSR1 runs the self:signal:SIGUSR1 probes from the poll loop (a signal
 * handler must not make the bpf() call); without such probes the signal is
 * ignored, as bpftrace ignores it, instead of killing the tool. */
static volatile sig_atomic_t bt_sigusr1;

static void bt_on_sigusr1(int sig)
{
	bt_sigusr1 = 1;
}

static void bt_install_signals(void)
{
	struct sigaction sa = { .sa_handler = bt_on_sigusr1 };

	signal(SIGINT, bt_on_signal);
	signal(SIGTERM, bt_on_signal);
	/* no SA_RESTART: the signal interrupts ring_buffer__poll() at once */
	sigaction(SIGUSR1, &sa, NULL);
}

/* Run a BEGIN, END or self:signal program once, in this process's context. */
static void bt_run_once(struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts) < 0)
		fprintf(stderr, "ERROR: failed to run %s: %s\n", bpf_program__name(prog),
			strerror(errno));
}

enum bt_probe_kind {
	BT_PROBE_AUTO,		/* libbpf attaches it from its SEC() name (tracepoints, raw_tp) */
	BT_PROBE_PERF,		/* perf events created here: interval, profile, software, hardware */
	BT_PROBE_KPROBE,	/* kprobe/kretprobe on func (+offset) */
	BT_PROBE_UPROBE,	/* uprobe/uretprobe on a function (+offset) of a file */
	BT_PROBE_USDT,		/* a USDT probe of a file */
	BT_PROBE_BEGIN,		/* run once before tracing starts */
	BT_PROBE_END,		/* run once when tracing stops */
	BT_PROBE_SIGNAL,	/* self:signal:SIGUSR1: run each time the tool gets SIGUSR1 */
};

struct bt_probe {
	struct bpf_program *prog;
	struct bpf_link **link;
	const char *name;	/* the attach point, as bpftrace names it */
	enum bt_probe_kind kind;
	int optional;		/* matched by a wildcard: skipped where the kernel lacks it */
	int helper;		/* part of another probe (saves fexit args): not counted */
	/* BT_PROBE_PERF */
	__u32 perf_type;	/* PERF_TYPE_SOFTWARE or PERF_TYPE_HARDWARE */
	__u64 perf_config;	/* PERF_COUNT_* */
	__u64 period;		/* events (or ns of CPU clock) between samples */
	int freq;		/* period is a frequency in Hz (profile:hz:N) */
	int all_cpus;		/* one event per CPU (profile, software, hardware); else CPU 0 */
	/* BT_PROBE_KPROBE, BT_PROBE_UPROBE */
	const char *func;	/* "func" or "module:func"; uprobe: NULL for a file offset */
	__u64 offset;		/* added to func's address (uprobe without func: file offset) */
	int retprobe;
	/* BT_PROBE_UPROBE, BT_PROBE_USDT */
	const char *path;	/* the file */
	const char *usdt_provider, *usdt_name;
};

/* config missing_probes: what a probe that fails to attach does. */
enum bt_missing_probes { BT_MISSING_ERROR, BT_MISSING_WARN, BT_MISSING_IGNORE };

/* Links of per-CPU perf events: one program, many links, destroyed at exit. */
static struct bpf_link **bt_perf_links;
static int bt_nperf_links;

static int bt_keep_link(struct bpf_link *link)
{
	struct bpf_link **more = realloc(bt_perf_links, (bt_nperf_links + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	bt_perf_links = more;
	bt_perf_links[bt_nperf_links++] = link;
	return 0;
}

static void bt_destroy_links(void)
{
	for (int i = 0; i < bt_nperf_links; i++)
		bpf_link__destroy(bt_perf_links[i]);
	free(bt_perf_links);
	bt_perf_links = NULL;
	bt_nperf_links = 0;
}

/* Open p's perf event on one CPU (all_cpus) or on CPU 0 (interval) and attach
 * the program to each.  A CPU that is offline is skipped, as bpftrace does. */
static int bt_attach_perf(const struct bt_probe *p)
{
	struct perf_event_attr attr = {
		.type = p->perf_type,
		.config = p->perf_config,
		.size = sizeof(attr),
		.sample_period = p->period,
		.freq = p->freq,
	};
	int ncpus = p->all_cpus ? libbpf_num_possible_cpus() : 1, attached = 0;

	for (int cpu = 0; cpu < ncpus; cpu++) {
		int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		struct bpf_link *link;

		if (fd < 0) {
			if (errno == ENODEV && p->all_cpus)
				continue;	/* offline CPU */
			return -errno;
		}
		link = bpf_program__attach_perf_event(p->prog, fd);
		if (!link) {
			int err = -errno;

			close(fd);
			return err;
		}
		if (bt_keep_link(link)) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		attached++;
	}
	return attached ? 0 : -ENODEV;
}

/* kprobe:func[+offset] / kretprobe:func, through the kernel's perf kprobe PMU. */
static int bt_attach_kprobe(const struct bt_probe *p)
{
	LIBBPF_OPTS(bpf_kprobe_opts, opts, .offset = p->offset, .retprobe = p->retprobe);

	*p->link = bpf_program__attach_kprobe_opts(p->prog, p->func, &opts);
	return *p->link ? 0 : -errno;
}

/* uprobe/uretprobe/usdt follow bpftrace: with -p, only that process; with -c,
 * only the command; otherwise every process that runs the file. */
static int bt_attach_user(const struct bt_probe *p)
{
	pid_t pid = bt_state.pid > 0 ? bt_state.pid : bt_state.cpid > 0 ? bt_state.cpid : -1;

	if (p->kind == BT_PROBE_USDT) {
		*p->link = bpf_program__attach_usdt(p->prog, pid, p->path, p->usdt_provider,
						    p->usdt_name, NULL);
	} else {
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = p->retprobe, .func_name = p->func);

		*p->link = bpf_program__attach_uprobe_opts(p->prog, pid, p->path, p->offset,
							   &opts);
	}
	return *p->link ? 0 : -errno;
}

/* Why an attach failed, in words that say what to do about it. */
static const char *bt_attach_reason(const struct bt_probe *p, int err)
{
	if (p->kind == BT_PROBE_KPROBE && (err == -ENOENT || err == -EOPNOTSUPP))
		return "this kernel has no kprobe support, or the function is not traceable "
		       "(inlined, notrace, or not in this kernel)";
	if (p->kind == BT_PROBE_PERF && p->perf_type == PERF_TYPE_HARDWARE &&
	    (err == -ENOENT || err == -EOPNOTSUPP || err == -ENODEV))
		return "no hardware performance counters here (a virtual machine often has none)";
	return strerror(-err);
}

/* Does the running kernel have tracepoint "tracepoint:CAT:NAME"?  Asked of the
 * first mounted tracefs; without one, the attach will report the problem. */
static int bt_tracepoint_exists(const char *probe)
{
	static const char *const roots[] = {
		"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events",
	};
	const char *cat = strchr(probe, ':'), *name;
	char path[512];

	if (!cat || !(name = strchr(cat + 1, ':')))
		return 1;
	cat++;
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		if (access(roots[i], F_OK) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%.*s/%s", roots[i], (int)(name - cat), cat,
			 name + 1);
		return access(path, F_OK) == 0;
	}
	return 1;
}

static void bt_skip_missing_tracepoints(const struct bt_probe *probes, int n)
{
	for (int i = 0; i < n; i++)
		if (probes[i].optional && strncmp(probes[i].name, "tracepoint:", 11) == 0 &&
		    !bt_tracepoint_exists(probes[i].name))
			bpf_program__set_autoload(probes[i].prog, false);
}

/* Attach every loaded program (len() variants that were not chosen are not
 * loaded); returns the number of probes, or a negative error.  A probe that
 * fails to attach stops the tool, or is skipped under missing_probes = "warn"
 * or "ignore", as in bpftrace. */
static int bt_attach_probes(const struct bt_probe *probes, int n, int missing_probes)
{
	int count = 0, err;

	for (int i = 0; i < n; i++) {
		const struct bt_probe *p = &probes[i];

		if (!bpf_program__autoload(p->prog))
			continue;
		if (p->kind == BT_PROBE_AUTO) {
			*p->link = bpf_program__attach(p->prog);
			err = *p->link ? 0 : -errno;
		} else if (p->kind == BT_PROBE_PERF) {
			err = bt_attach_perf(p);
		} else if (p->kind == BT_PROBE_KPROBE) {
			err = bt_attach_kprobe(p);
		} else if (p->kind == BT_PROBE_UPROBE || p->kind == BT_PROBE_USDT) {
			err = bt_attach_user(p);
		} else {
			err = 0;
		}
		if (err) {
			if (missing_probes == BT_MISSING_ERROR) {
				fprintf(stderr, "ERROR: Unable to attach probe: %s. If this is expected, "
					"set the 'missing_probes' config variable to 'warn'.\n", p->name);
				fprintf(stderr, "(%s)\n", bt_attach_reason(p, err));
				return err;
			}
			if (missing_probes == BT_MISSING_WARN)
				fprintf(stderr, "WARNING: Unable to attach probe: %s. Skipping.\n", p->name);
			continue;
		}
		count += !p->helper;
	}
	return count;
}

/* Run the loaded BEGIN, END (or self:signal) programs, in script order. */
static void bt_run_probes(const struct bt_probe *probes, int n, enum bt_probe_kind kind)
{
	for (int i = 0; i < n; i++)
		if (probes[i].kind == kind && bpf_program__autoload(probes[i].prog))
			bt_run_once(probes[i].prog);
}
