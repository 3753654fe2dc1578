/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * symbols.c - stacks and symbols (kstack, ustack, ksym, usym, kaddr) as
 * bpftrace v0.27.1 prints them.
 *
 * Included verbatim into a generated NAME.c when its script uses stacks or
 * symbols, after maps.c, which calls bt_sym_format() for the map fields of
 * kinds BT_KIND_KSTACK..BT_KIND_USYM when BT_SYMBOLS is defined.
 *
 * BPF side: a stack is a `struct bt_stack { __s32 id; __u32 pid; }`, the id
 * bpf_get_stackid() returned for one of the object's BPF_MAP_TYPE_STACK_TRACE
 * maps (one map per frame limit: the map's value size is the limit) and, for
 * a user stack, the process it was taken in.  ksym()/usym() values are a
 * `struct bt_sym { __u64 addr; __u32 pid; __u32 pad; }`.  Everything is
 * resolved here, in user space, when it is printed:
 *
 *  - kernel addresses against /proc/kallsyms, read once (at the first use,
 *    so the tool's own BPF programs are in it);
 *  - user addresses against the ELF symbol tables (.symtab, else .dynsym) of
 *    the object mapped at that address in /proc/PID/maps.  A process's
 *    mappings are read the first time one of its addresses is printed and
 *    kept (read again, at most once a second, when an address falls outside
 *    them: dlopen); each ELF file is read once, shared by all processes
 *    that map it.  A process that has exited before its first address is
 *    printed cannot be read any more: its frames print as hex, as bpftrace's
 *    do.
 *
 * Formats (bpftrace's):
 *   bpftrace mode: "\n" then one line per frame, "        func+off\n"
 *                  (unresolved: "        0x43ab09\n")
 *   perf mode:     "\n" then "\t<hex addr> func+off\n" (user frames add
 *                  " (/path/of/object)"; unresolved: "\t43ab09 0x43ab09 ([unknown])")
 *   raw mode:      "\n" then "<hex addr>\n"
 *   ksym/usym:     "func" (no offset) or "0x1" when unresolved
 * A failed bpf_get_stackid() (negative id) prints as the empty stack "\n".
 */
#include <elf.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

enum bt_stack_mode {
	BT_STACK_BPFTRACE = 0,
	BT_STACK_PERF = 1,
	BT_STACK_RAW = 2
};

#define BT_MAX_FRAMES 127
#define BT_MAX_STACK_MAPS 16

/* The BPF object's stack trace maps, by frame limit (set after load). */
static struct {
	unsigned int limit;
	int fd;
} bt_stack_maps[BT_MAX_STACK_MAPS];
static int bt_nstack_maps;

static BT_UNUSED void bt_stack_map_add(unsigned int limit, int fd)
{
	if (bt_nstack_maps < BT_MAX_STACK_MAPS) {
		bt_stack_maps[bt_nstack_maps].limit = limit;
		bt_stack_maps[bt_nstack_maps++].fd = fd;
	}
}

/* Mirrors of the BPF side's structs (NAME.h is not required to define them). */
struct bt__stack_ref {
	int32_t id;
	uint32_t pid;
};

struct bt__sym_ref {
	uint64_t addr;
	uint32_t pid;
	uint32_t pad;
};

/* ---- a growing text buffer ------------------------------------------------ */

struct bt__text {
	char *buf;
	size_t len, cap;
};

static void bt__text_add(struct bt__text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bt__text_add(struct bt__text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			t->len += n;
			return;
		}
		{
			size_t cap = t->cap ? t->cap * 2 : 256;
			char *nb;

			while (cap < t->len + n + 1)
				cap *= 2;
			nb = realloc(t->buf, cap);
			if (!nb)
				return;
			t->buf = nb;
			t->cap = cap;
		}
	}
}

/* ---- kernel symbols --------------------------------------------------------- */

struct bt__ksym {
	uint64_t addr;
	char *name;
	size_t order;	/* position in /proc/kallsyms: the first alias wins */
};

static struct bt__ksym *bt__ksyms;
static size_t bt__nksyms;
static int bt__ksyms_loaded;

static int bt__ksym_cmp(const void *a, const void *b)
{
	const struct bt__ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void bt__ksyms_load(void)
{
	char line[512], name[256];
	unsigned long long addr;
	size_t cap = 0;
	char type;
	FILE *f;

	bt__ksyms_loaded = 1;
	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || !addr)
			continue;
		if (bt__nksyms == cap) {
			struct bt__ksym *n;

			cap = cap ? cap * 2 : 65536;
			n = realloc(bt__ksyms, cap * sizeof(*n));
			if (!n)
				break;
			bt__ksyms = n;
		}
		bt__ksyms[bt__nksyms].addr = addr;
		bt__ksyms[bt__nksyms].name = strdup(name);
		bt__ksyms[bt__nksyms].order = bt__nksyms;
		bt__nksyms++;
	}
	fclose(f);
	qsort(bt__ksyms, bt__nksyms, sizeof(*bt__ksyms), bt__ksym_cmp);
}

/* The kernel symbol at or before addr (the first alias), or NULL. */
static const struct bt__ksym *bt__ksym_find(uint64_t addr)
{
	size_t lo = 0, hi;

	if (!bt__ksyms_loaded)
		bt__ksyms_load();
	hi = bt__nksyms;
	if (!hi || addr < bt__ksyms[0].addr)
		return NULL;
	while (hi - lo > 1) {	/* last entry with .addr <= addr */
		size_t mid = lo + (hi - lo) / 2;

		if (bt__ksyms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	while (lo > 0 && bt__ksyms[lo - 1].addr == bt__ksyms[lo].addr)
		lo--;
	return &bt__ksyms[lo];
}

/*
 * kaddr("name"): the symbol's address, 0 if the kernel has no such symbol.
 * Read before the programs load, so it scans /proc/kallsyms itself rather
 * than fill the cache (which must also see the tool's own BPF programs).
 */
static BT_UNUSED uint64_t bt_kaddr(const char *name)
{
	char line[512], sym[256];
	unsigned long long addr, found = 0;
	char type;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && !strcmp(sym, name))
			found = addr;
	fclose(f);
	return found;
}

/* ---- user symbols: ELF files ---------------------------------------------- */

struct bt__usym {
	uint64_t addr, size;
	const char *name;
	unsigned int rank;	/* alias preference: lower wins */
};

struct bt__elf {
	dev_t dev;
	ino_t ino;
	struct bt__usym *syms;
	size_t nsyms;
	char *names;		/* the string tables, copied */
	struct {
		uint64_t offset, vaddr, filesz;
	} loads[16];		/* PT_LOAD segments: file offset -> vaddr */
	int nloads;
	struct bt__elf *next;
};

static struct bt__elf *bt__elfs;

static int bt__usym_cmp(const void *a, const void *b)
{
	const struct bt__usym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;	/* table order */
}

/* Global default symbols name a function best, then weak, then local ones. */
static unsigned int bt__usym_rank(const Elf64_Sym *s)
{
	unsigned int bind = ELF64_ST_BIND(s->st_info);
	unsigned int rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 2 : 4;

	return rank + (ELF64_ST_VISIBILITY(s->st_other) != STV_DEFAULT);
}

/* Read the function symbols of one symbol table section into e. */
static void bt__elf_read_syms(struct bt__elf *e, const unsigned char *img, size_t size,
			      const Elf64_Shdr *sh, const Elf64_Shdr *strsh, size_t *cap)
{
	const Elf64_Sym *syms = (const void *)(img + sh->sh_offset);
	size_t n = sh->sh_size / sizeof(Elf64_Sym), i;
	char *names;

	if (sh->sh_offset + sh->sh_size > size || strsh->sh_offset + strsh->sh_size > size)
		return;
	/* keep a copy of the string table: the symbol names point into it */
	names = malloc(strsh->sh_size + 1);
	if (!names)
		return;
	memcpy(names, img + strsh->sh_offset, strsh->sh_size);
	names[strsh->sh_size] = '\0';
	e->names = names;
	for (i = 0; i < n; i++) {
		const Elf64_Sym *s = &syms[i];
		unsigned int type = ELF64_ST_TYPE(s->st_info);

		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF ||
		    !s->st_value || s->st_name >= strsh->sh_size)
			continue;
		if (e->nsyms == *cap) {
			struct bt__usym *ns;

			*cap = *cap ? *cap * 2 : 1024;
			ns = realloc(e->syms, *cap * sizeof(*ns));
			if (!ns)
				return;
			e->syms = ns;
		}
		e->syms[e->nsyms].addr = s->st_value;
		e->syms[e->nsyms].size = s->st_size;
		e->syms[e->nsyms].name = names + s->st_name;
		e->syms[e->nsyms].rank = bt__usym_rank(s);
		e->nsyms++;
	}
}

/* Parse the ELF file open on fd: load segments and function symbols. */
static void bt__elf_load(struct bt__elf *e, int fd, size_t size)
{
	const unsigned char *img;
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh, *symtab = NULL, *dynsym = NULL, *tab;
	size_t cap = 0;
	int i;

	img = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED)
		return;
	eh = (const void *)img;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr) > size ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > size)
		goto out;
	for (i = 0; i < eh->e_phnum && e->nloads < 16; i++) {
		const Elf64_Phdr *ph = (const void *)(img + eh->e_phoff) + i * sizeof(*ph);

		if (ph->p_type != PT_LOAD)
			continue;
		e->loads[e->nloads].offset = ph->p_offset;
		e->loads[e->nloads].vaddr = ph->p_vaddr;
		e->loads[e->nloads].filesz = ph->p_filesz;
		e->nloads++;
	}
	sh = (const void *)(img + eh->e_shoff);
	for (i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_SYMTAB)
			symtab = &sh[i];
		else if (sh[i].sh_type == SHT_DYNSYM)
			dynsym = &sh[i];
	}
	/* .symtab holds every symbol of .dynsym and more; a stripped file has only .dynsym */
	tab = symtab ? symtab : dynsym;
	if (tab && tab->sh_link < eh->e_shnum)
		bt__elf_read_syms(e, img, size, tab, &sh[tab->sh_link], &cap);
	qsort(e->syms, e->nsyms, sizeof(*e->syms), bt__usym_cmp);
out:
	munmap((void *)img, size);
}

/* The (cached) symbols of the file open on fd. */
static struct bt__elf *bt__elf_get(int fd)
{
	struct bt__elf *e;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return NULL;
	for (e = bt__elfs; e; e = e->next)
		if (e->dev == st.st_dev && e->ino == st.st_ino)
			return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	if (st.st_size > 0)
		bt__elf_load(e, fd, st.st_size);
	e->next = bt__elfs;
	bt__elfs = e;
	return e;
}

/* The function containing vaddr (an ELF virtual address), or NULL. */
static const struct bt__usym *bt__elf_find(const struct bt__elf *e, uint64_t vaddr)
{
	size_t lo = 0, hi = e->nsyms;

	if (!hi || vaddr < e->syms[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->syms[mid].addr <= vaddr)
			lo = mid;
		else
			hi = mid;
	}
	while (lo > 0 && e->syms[lo - 1].addr == e->syms[lo].addr)
		lo--;
	if (vaddr >= e->syms[lo].addr + (e->syms[lo].size ? e->syms[lo].size : 1))
		return NULL;
	return &e->syms[lo];
}

/* ---- user symbols: processes ------------------------------------------------ */

struct bt__vma {
	uint64_t start, end, offset;
	char *path;
	struct bt__elf *elf;
};

struct bt__proc {
	uint32_t pid;
	struct bt__vma *vmas;
	size_t nvmas;
	time_t loaded;
	struct bt__proc *next;
};

static struct bt__proc *bt__procs;

/* Open the file behind a mapping, as the process sees it. */
static int bt__open_mapped(uint32_t pid, const struct bt__vma *v)
{
	char p[4096 + 64];
	int fd;

	snprintf(p, sizeof(p), "/proc/%u/map_files/%llx-%llx", pid,
		 (unsigned long long)v->start, (unsigned long long)v->end);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	snprintf(p, sizeof(p), "/proc/%u/root%s", pid, v->path);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	return fd >= 0 ? fd : open(v->path, O_RDONLY | O_CLOEXEC);
}

/* (Re)read /proc/PID/maps: the executable file mappings. */
static void bt__proc_load(struct bt__proc *pr)
{
	char path[64], line[4096 + 256];
	size_t i, cap = 0;
	FILE *f;

	for (i = 0; i < pr->nvmas; i++)
		free(pr->vmas[i].path);
	pr->nvmas = 0;
	pr->loaded = time(NULL);
	snprintf(path, sizeof(path), "/proc/%u/maps", pr->pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		char perms[8];
		int name = 0;
		struct bt__vma *v;
		size_t len;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off,
			   &name) < 4 || !name || perms[2] != 'x' || line[name] != '/')
			continue;
		len = strcspn(line + name, "\n");
		if (pr->nvmas == cap) {
			struct bt__vma *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(pr->vmas, cap * sizeof(*nv));
			if (!nv)
				break;
			pr->vmas = nv;
		}
		v = &pr->vmas[pr->nvmas];
		v->start = start;
		v->end = end;
		v->offset = off;
		v->path = strndup(line + name, len);
		v->elf = NULL;
		if (v->path) {
			int fd = bt__open_mapped(pr->pid, v);

			if (fd >= 0) {
				v->elf = bt__elf_get(fd);
				close(fd);
			}
			pr->nvmas++;
		}
	}
	fclose(f);
}

/* The mapping of pid that holds addr, reading the process on first sight. */
static const struct bt__vma *bt__vma_find(uint32_t pid, uint64_t addr)
{
	struct bt__proc *pr;
	int retried = 0;
	size_t i;

	for (pr = bt__procs; pr; pr = pr->next)
		if (pr->pid == pid)
			break;
	if (!pr) {
		pr = calloc(1, sizeof(*pr));
		if (!pr)
			return NULL;
		pr->pid = pid;
		pr->next = bt__procs;
		bt__procs = pr;
		bt__proc_load(pr);
		retried = 1;
	}
	for (;;) {
		for (i = 0; i < pr->nvmas; i++)
			if (addr >= pr->vmas[i].start && addr < pr->vmas[i].end)
				return &pr->vmas[i];
		/* mapped since we looked (dlopen)? look again, at most once a second */
		if (retried || time(NULL) == pr->loaded)
			return NULL;
		bt__proc_load(pr);
		retried = 1;
	}
}

/* The symbol of a user address: its function and offset, or NULL. */
static const struct bt__usym *bt__usym_find(uint32_t pid, uint64_t addr,
					    const struct bt__vma **vma, uint64_t *off)
{
	const struct bt__vma *v = bt__vma_find(pid, addr);
	const struct bt__usym *s;
	uint64_t foff;
	int i;

	*vma = v;
	if (!v || !v->elf)
		return NULL;
	foff = addr - v->start + v->offset;
	for (i = 0; i < v->elf->nloads; i++) {
		uint64_t lo = v->elf->loads[i].offset;

		if (foff < lo || foff >= lo + v->elf->loads[i].filesz)
			continue;
		s = bt__elf_find(v->elf, foff - lo + v->elf->loads[i].vaddr);
		if (s)
			*off = foff - lo + v->elf->loads[i].vaddr - s->addr;
		return s;
	}
	return NULL;
}

/* ---- formatting ------------------------------------------------------------ */

static void bt__frame(struct bt__text *t, int user, uint32_t pid, uint64_t addr, int mode)
{
	const struct bt__vma *vma = NULL;
	const char *name = NULL;
	uint64_t off = 0;

	if (mode == BT_STACK_RAW) {
		bt__text_add(t, "%llx\n", (unsigned long long)addr);
		return;
	}
	if (user) {
		const struct bt__usym *s = bt__usym_find(pid, addr, &vma, &off);

		name = s ? s->name : NULL;
	} else {
		const struct bt__ksym *s = bt__ksym_find(addr);

		if (s) {
			name = s->name;
			off = addr - s->addr;
		}
	}
	if (mode == BT_STACK_PERF) {
		bt__text_add(t, "\t%llx ", (unsigned long long)addr);
		if (name)
			bt__text_add(t, "%s+%llu", name, (unsigned long long)off);
		else
			bt__text_add(t, "0x%llx", (unsigned long long)addr);
		if (user)
			bt__text_add(t, " (%s)", vma ? vma->path : "[unknown]");
		bt__text_add(t, "\n");
		return;
	}
	if (name)
		bt__text_add(t, "        %s+%llu\n", name, (unsigned long long)off);
	else
		bt__text_add(t, "        0x%llx\n", (unsigned long long)addr);
}

/* The text of a stack: "\n" and one line per frame. */
static void bt__stack_text(struct bt__text *t, int user, int mode, unsigned int limit,
			   const struct bt__stack_ref *ref)
{
	uint64_t ips[BT_MAX_FRAMES];
	int i, fd = -1;

	bt__text_add(t, "\n");
	for (i = 0; i < bt_nstack_maps; i++)
		if (bt_stack_maps[i].limit == limit)
			fd = bt_stack_maps[i].fd;
	if (ref->id < 0 || fd < 0 || limit > BT_MAX_FRAMES)
		return;
	memset(ips, 0, sizeof(ips));
	if (bpf_map_lookup_elem(fd, &ref->id, ips))
		return;
	for (i = 0; i < (int)limit && ips[i]; i++)
		bt__frame(t, user, ref->pid, ips[i], mode);
}

/* The text of a ksym()/usym() value: the function's name, or the address in hex. */
static void bt__sym_text(struct bt__text *t, int user, const struct bt__sym_ref *ref)
{
	const char *name = NULL;

	if (user) {
		const struct bt__vma *vma;
		const struct bt__usym *s;
		uint64_t off;

		s = bt__usym_find(ref->pid, ref->addr, &vma, &off);
		name = s ? s->name : NULL;
	} else {
		const struct bt__ksym *s = bt__ksym_find(ref->addr);

		name = s ? s->name : NULL;
	}
	if (name)
		bt__text_add(t, "%s", name);
	else if (ref->addr == 0)
		bt__text_add(t, "0");	/* as bpftrace, whose hex printing shows 0 bare */
	else
		bt__text_add(t, "0x%llx", (unsigned long long)ref->addr);
}

/*
 * The text of a stack or symbol field (kind BT_KIND_KSTACK..USYM) at p.
 * The result lives in one of a few rotating buffers, so that one printf()
 * can hold several.
 */
static BT_UNUSED const char *bt_sym_format(const void *p, int kind, int mode,
					   unsigned int limit)
{
	static struct bt__text ring[8];
	static unsigned int next;
	struct bt__text *t = &ring[next++ % 8];

	t->len = 0;
	if (kind == BT_KIND_KSTACK || kind == BT_KIND_USTACK) {
		struct bt__stack_ref ref;

		memcpy(&ref, p, sizeof(ref));
		bt__stack_text(t, kind == BT_KIND_USTACK, mode, limit, &ref);
	} else {
		struct bt__sym_ref ref;

		memcpy(&ref, p, sizeof(ref));
		bt__sym_text(t, kind == BT_KIND_USYM, &ref);
	}
	return t->buf ? t->buf : "";
}

/* A stack or symbol printed as a JSON string. */
static BT_UNUSED void bt_json_text(FILE *out, const char *text)
{
	bt_json_string(out, text, strlen(text));
}
