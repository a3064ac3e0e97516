/*
 * Kernel tunables for kubelet, without ptrace. kubelet reads six /proc/sys
 * entries (container_manager_linux.go setupKernelTunables; a read error is
 * fatal) and writes those that differ (a write error is fatal outside a user
 * namespace). gVisor lacks most of them and fails the write of
 * vm/overcommit_memory with EIO.
 *
 * For each directory that misses an entry or has an unwritable one, a tmpfs
 * replaces the directory: every real entry is bind-mounted back from a staging
 * bind of the real directory, and the missing or unwritable ones become plain
 * files holding the value kubelet wants (so kubelet finds it right and does not
 * write). Everything else under /proc/sys stays the real thing.
 *
 * The k3s agent's own settings (ip forwarding, bridge-nf-call-iptables) are
 * only reported: k3s logs their failure and goes on, and a fake file would hide
 * a real networking problem.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "repair.h"

#define PROC_SYS "/proc/sys"
#define STAGE K3S_INIT_RUN_DIR "/sysctl-stage"

/* A recursive bind keeps whatever is mounted below (a user's own covers);
 * gVisor refuses MS_REC on these with EINVAL, and a plain bind does there.
 * Once refused, it is not asked again: a cover binds some twenty entries,
 * and each refused mount costs a round trip into the sentry. */
static int bind_tree(const char *src, const char *dst)
{
	static bool rec_refused;
	if (!rec_refused) {
		if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) == 0)
			return 0;
		if (errno != EINVAL)
			return -1;
		rec_refused = true;
	}
	return mount(src, dst, NULL, MS_BIND, NULL);
}

static bool sysctl_needed(const struct ctx *c, char *why, size_t len)
{
	size_t used = 0;
	bool needed = false;
	why[0] = '\0';
	for (int i = 0; i < SYSCTL_COUNT; i++) {
		if (!sysctl_entries[i].fatal || !probe_sysctl_bad(c->probe, i))
			continue;
		needed = true;
		int n = snprintf(why + used, len - used, "%s%s %s", used ? ", " : "", sysctl_entries[i].path,
				 c->probe->sysctl[i] == SYSCTL_MISSING ? "missing" : "unwritable");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (!needed)
		snprintf(why, len, "the six tunables kubelet sets are readable and writable");
	return needed;
}

/* The directory (relative to /proc/sys) to cover for entry i: the deepest
 * existing parent when the entry is missing, else its parent. */
static void cover_dir(int i, char *out, size_t len)
{
	snprintf(out, len, "%s", sysctl_entries[i].path);
	for (;;) {
		char *slash = strrchr(out, '/');
		if (slash == NULL) {
			out[0] = '\0';
			return;
		}
		*slash = '\0';
		char full[PATH_MAX];
		snprintf(full, sizeof full, PROC_SYS "/%s", out);
		struct stat st;
		if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
			return;
	}
}

static bool is_replaced(const char *dir, const char *name, const bool *bad_in_dir)
{
	for (int i = 0; i < SYSCTL_COUNT; i++) {
		if (!bad_in_dir[i])
			continue;
		/* entry path = dir/name[/...] */
		const char *p = sysctl_entries[i].path;
		size_t dl = strlen(dir);
		if (strncmp(p, dir, dl) != 0 || p[dl] != '/')
			continue;
		size_t nl = strlen(name);
		if (strncmp(p + dl + 1, name, nl) == 0 && (p[dl + 1 + nl] == '\0' || p[dl + 1 + nl] == '/'))
			return true;
	}
	return false;
}

/* The placeholder's own mode does not show: the bound entry covers it. The
 * type comes from readdir's d_type where the file system gives one (procfs
 * does), which saves an lstat per entry. */
static int bind_back(const char *target_dir, const struct dirent *e, int *count)
{
	char src[PATH_MAX], dst[PATH_MAX];
	if ((size_t)snprintf(src, sizeof src, STAGE "/%s", e->d_name) >= sizeof src ||
	    (size_t)snprintf(dst, sizeof dst, "%s/%s", target_dir, e->d_name) >= sizeof dst) {
		errno = ENAMETOOLONG;
		return -1;
	}
	bool dir = e->d_type == DT_DIR;
	if (e->d_type == DT_UNKNOWN) {
		struct stat st;
		if (lstat(src, &st) != 0)
			return -1;
		dir = S_ISDIR(st.st_mode);
	}
	if (dir) {
		if (mkdir(dst, 0555) != 0 && errno != EEXIST)
			return -1;
	} else {
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
		if (fd < 0)
			return -1;
		close(fd);
	}
	if (bind_tree(src, dst) != 0) {
		int err = errno;
		dir ? rmdir(dst) : unlink(dst);
		errno = err;
		return -1;
	}
	(*count)++;
	return 0;
}

/* Cover /proc/sys/<dir> with a tmpfs: real entries bound back, `bad` ones as files. */
static int cover(const char *dir, const bool *bad)
{
	char target[PATH_MAX];
	snprintf(target, sizeof target, PROC_SYS "/%s", dir);
	if (mkdir_p(STAGE, 0700) != 0) {
		log_error("sysctl: mkdir " STAGE ": %s", strerror(errno));
		return -1;
	}
	if (bind_tree(target, STAGE) != 0) {
		log_error("sysctl: bind %s to " STAGE ": %s", target, strerror(errno));
		return -1;
	}
	int rc = -1;
	bool covered = false;
	if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") != 0) {
		log_error("sysctl: mount tmpfs on %s: %s", target, strerror(errno));
		goto out;
	}
	covered = true;
	DIR *d = opendir(STAGE);
	if (d == NULL) {
		log_error("sysctl: opendir " STAGE ": %s", strerror(errno));
		goto out;
	}
	int bound = 0, failed = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || is_replaced(dir, e->d_name, bad))
			continue;
		if (bind_back(target, e, &bound) != 0) {
			log_warn("sysctl: cannot bind %s/%s back: %s", target, e->d_name, strerror(errno));
			failed++;
		}
	}
	closedir(d);
	char files[256] = "";
	for (int i = 0; i < SYSCTL_COUNT; i++) {
		if (!bad[i])
			continue;
		char path[PATH_MAX], parent[PATH_MAX], value[32];
		snprintf(path, sizeof path, PROC_SYS "/%s", sysctl_entries[i].path);
		snprintf(parent, sizeof parent, "%s", path);
		*strrchr(parent, '/') = '\0';
		snprintf(value, sizeof value, "%s\n", sysctl_entries[i].want);
		if (mkdir_p(parent, 0755) != 0) {
			log_error("sysctl: mkdir %s: %s", parent, strerror(errno));
			goto out;
		}
		if (write_small(path, value, 0644) != 0) {
			log_error("sysctl: write %s: %s", path, strerror(errno));
			goto out;
		}
		size_t used = strlen(files);
		snprintf(files + used, sizeof files - used, "%s%s=%s", used ? " " : "",
			 sysctl_entries[i].path, sysctl_entries[i].want);
	}
	log_info("sysctl: covered %s with a tmpfs: %d real entries bound back%s, files %s", target, bound,
		 failed ? " (some could not be: see above)" : "", files);
	rc = 0;
out:
	/* A half-built cover would hide real entries from k3s: take it away,
	 * so /proc/sys is what it was before. */
	if (rc != 0 && covered && umount2(target, MNT_DETACH) != 0)
		log_warn("sysctl: umount the unfinished cover of %s: %s", target, strerror(errno));
	if (umount2(STAGE, MNT_DETACH) != 0)
		log_warn("sysctl: umount " STAGE ": %s", strerror(errno));
	return rc;
}

static int depth(const char *p)
{
	int n = p[0] ? 1 : 0;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

static int sysctl_apply(struct ctx *c)
{
	struct probe *p = c->probe;
	char dirs[SYSCTL_COUNT][128];
	for (int i = 0; i < SYSCTL_COUNT; i++) {
		dirs[i][0] = '\0';
		if (sysctl_entries[i].fatal && probe_sysctl_bad(p, i))
			cover_dir(i, dirs[i], sizeof dirs[i]);
		else if (probe_sysctl_bad(p, i))
			log_info("sysctl: %s %s: left as is (k3s only warns)", sysctl_entries[i].path,
				 p->sysctl[i] == SYSCTL_MISSING ? "missing" : "unwritable");
	}
	bool done[SYSCTL_COUNT] = { false };
	/* Shallow directories first, so a deeper cover sits on top of a shallower one. */
	for (int level = 0; level <= 4; level++) {
		for (int i = 0; i < SYSCTL_COUNT; i++) {
			if (done[i] || !sysctl_entries[i].fatal || !probe_sysctl_bad(p, i) || depth(dirs[i]) != level)
				continue;
			bool bad[SYSCTL_COUNT] = { false };
			for (int k = 0; k < SYSCTL_COUNT; k++)
				if (!done[k] && sysctl_entries[k].fatal && probe_sysctl_bad(p, k) &&
				    strcmp(dirs[k], dirs[i]) == 0) {
					bad[k] = true;
					done[k] = true;
				}
			if (dirs[i][0] == '\0') {
				log_error("sysctl: %s: /proc/sys itself is missing", sysctl_entries[i].path);
				return -1;
			}
			if (cover(dirs[i], bad) != 0)
				return -1;
		}
	}
	/* Check what kubelet will see now. */
	int still = 0;
	for (int i = 0; i < SYSCTL_COUNT; i++) {
		if (!sysctl_entries[i].fatal)
			continue;
		char path[PATH_MAX], value[32];
		snprintf(path, sizeof path, PROC_SYS "/%s", sysctl_entries[i].path);
		if (read_small(path, value, sizeof value) < 0) {
			log_error("sysctl: %s still not readable: %s", path, strerror(errno));
			still++;
			continue;
		}
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			log_error("sysctl: %s still not writable: %s", path, strerror(errno));
			still++;
			continue;
		}
		close(fd);
		p->sysctl[i] = SYSCTL_OK;
	}
	return still ? -1 : 0;
}

const struct step step_sysctl = {
	.name = "sysctl",
	.roles = ROLES_AGENT,
	.required = ROLES_AGENT,
	.privileged = true,
	.needed = sysctl_needed,
	.apply = sysctl_apply,
};
