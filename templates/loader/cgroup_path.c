/*
 * bt2c loader support for cgroup_path(): the text of a cgroup id, looked up when
 * the value is printed (as bpftrace does), so an id reused by a new cgroup prints
 * that cgroup's path.
 *
 * The hierarchies are the cgroup and cgroup2 mounts of /proc/mounts that are
 * directories: cgroup2 ones named "unified", cgroup v1 ones by their mount
 * directory's name, which the call's filter ('*' wildcards) selects.  In each, the
 * cgroup is the directory whose inode number is the id.  The text is
 * "NAME:PATH" for each hierarchy that has it, cgroup2 first, then v1 by name,
 * joined by ','.  A hierarchy mounted more than once (a bind mount, a container's
 * mounts seen from outside) is looked up once, at its first mount in that order
 * (bpftrace lists every mount).
 */
#include <dirent.h>
#include <sys/stat.h>

#define BT_CGROUP_MAX_ROOTS 64

struct bt_cgroup_root {
	char name[256];
	char path[1024];
	dev_t dev;	/* the hierarchy: every mount of it has the same device */
};

/* `s` matches `pat`, where '*' stands for any run of characters. */
static int bt_star_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

/* The directory under `dir` (a path of `len` bytes in a 1024-byte buffer) whose
 * inode is `id`: 1 with its path left in `dir`, else 0 and `dir` unchanged. */
static int bt_cgroup_find(char *dir, size_t len, unsigned long long id, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	struct stat st;

	if (!d)
		return 0;
	while ((ent = readdir(d))) {
		size_t n = strlen(ent->d_name);

		if (ent->d_type != DT_DIR || !strcmp(ent->d_name, ".") ||
		    !strcmp(ent->d_name, "..") || len + 1 + n >= 1024)
			continue;
		dir[len] = '/';
		memcpy(dir + len + 1, ent->d_name, n + 1);
		if ((stat(dir, &st) == 0 && (unsigned long long)st.st_ino == id) ||
		    (depth < 64 && bt_cgroup_find(dir, len + 1 + n, id, depth + 1))) {
			closedir(d);
			return 1;
		}
		dir[len] = 0;
	}
	closedir(d);
	return 0;
}

static int bt_cgroup_root_cmp(const void *a, const void *b)
{
	const struct bt_cgroup_root *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->path, y->path);
}

/* The cgroup mounts that `filter` selects: cgroup2 ones first (in mount order),
 * then cgroup v1 ones sorted by name.  Returns how many. */
static int bt_cgroup_roots(const char *filter, struct bt_cgroup_root *roots)
{
	char line[4096], type[64], path[1024];
	int n = 0, v2 = 0, kept = 0;
	FILE *f = fopen("/proc/mounts", "r");
	struct stat st;

	if (!f)
		return 0;
	while (n < BT_CGROUP_MAX_ROOTS && fgets(line, sizeof(line), f)) {
		const char *name;
		int is_v2;

		if (sscanf(line, "%63s %1023s", type, path) != 2 ||
		    (strcmp(type, "cgroup") && strcmp(type, "cgroup2")) ||
		    stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		is_v2 = !strcmp(type, "cgroup2");
		name = is_v2 ? "unified" : (strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
		if (!bt_star_match(filter, name))
			continue;
		if (is_v2) {	/* keep cgroup2 roots ahead of the v1 ones */
			memmove(&roots[v2 + 1], &roots[v2], (size_t)(n - v2) * sizeof(*roots));
			snprintf(roots[v2].name, sizeof(roots[v2].name), "%s", name);
			snprintf(roots[v2].path, sizeof(roots[v2].path), "%s", path);
			roots[v2].dev = st.st_dev;
			v2++;
		} else {
			snprintf(roots[n].name, sizeof(roots[n].name), "%s", name);
			snprintf(roots[n].path, sizeof(roots[n].path), "%s", path);
			roots[n].dev = st.st_dev;
		}
		n++;
	}
	fclose(f);
	qsort(&roots[v2], (size_t)(n - v2), sizeof(*roots), bt_cgroup_root_cmp);
	for (int i = 0; i < n; i++) {	/* drop further mounts of a hierarchy */
		int seen = 0;

		for (int j = 0; j < kept && !seen; j++)
			seen = roots[j].dev == roots[i].dev;
		if (!seen)
			roots[kept++] = roots[i];
	}
	return kept;
}

/* cgroup_path(id, filter): "unified:/a/b,cpu:/a" (empty when no hierarchy has it). */
static BT_UNUSED const char *bt_fmt_cgroup_path(const char *filter, unsigned long long id)
{
	static struct bt_cgroup_root roots[BT_CGROUP_MAX_ROOTS];
	char *out = bt_fmt_buffer(), dir[1024];
	size_t used = 0;
	int n = bt_cgroup_roots(filter, roots);

	out[0] = 0;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(roots[i].path);
		const char *rel = NULL;
		struct stat st;

		memcpy(dir, roots[i].path, len + 1);
		if (stat(dir, &st) == 0 && (unsigned long long)st.st_ino == id)
			rel = "/";
		else if (bt_cgroup_find(dir, len, id, 0))
			rel = dir + len;
		if (rel && used < 1024)
			used += (size_t)snprintf(out + used, 1024 - used, "%s%s:%s",
						 used ? "," : "", roots[i].name, rel);
	}
	return out;
}
