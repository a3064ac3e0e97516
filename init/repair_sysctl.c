/*
 * Kernel tunables for kubelet, without ptrace. kubelet reads six /proc/sys
 * entries (container_manager_linux.go setupKernelTunables; a read error is
 * fatal) and writes those that differ (a write error is fatal outside a user
 * namespace). gVisor lacks most of them and fails the write of
 * vm/overcommit_memory with EIO.
 *
 * Each directory that misses an entry or has an unwritable one is covered, and
 * the missing or unwritable entries become plain files holding the value
 * kubelet wants (so kubelet finds it right and does not write). Everything
 * else under /proc/sys stays the real thing. The cover is an overlay whose
 * lower layer is the real directory and whose upper layer is on a tmpfs:
 * gVisor takes procfs as a lower layer, one mount per directory, whose
 * upper directory holds the files of deeper directories too (kernel/keys).
 * Linux refuses procfs there (fs/overlayfs: "filesystem on ... not supported"), so
 * off gVisor (and where a runsc refuses it too) the cover is a tmpfs with
 * every real entry bind-mounted back from a staging bind of the real
 * directory: three system calls per entry, some twenty entries in kernel/,
 * each call a round trip into gVisor's sentry where the overlay saves them.
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
#define UPPERS K3S_INIT_RUN_DIR "/sysctl-upper"

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

static bool same_parent(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	return sa && sb && sa - a == sb - b && strncmp(a, b, (size_t)(sa - a)) == 0;
}

/* The directory (relative to /proc/sys) to cover for entry i: the deepest
 * existing parent when the entry is missing, else its parent. An earlier
 * entry with the same parent has found it already (found[k], "" when not
 * looked up): one stat per directory, not per entry. */
static void cover_dir(int i, char found[][128])
{
	char *out = found[i];
	size_t len = sizeof found[i];
	for (int k = 0; k < i; k++) {
		if (found[k][0] != '\0' && same_parent(sysctl_entries[k].path, sysctl_entries[i].path)) {
			memcpy(out, found[k], len);
			return;
		}
	}
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

/* What one run of the step has covered so far. */
struct covers {
	char overlaid[SYSCTL_COUNT][128]; /* below /proc/sys, each with an overlay on it */
	int n_overlaid;
	bool overlay_refused;             /* off gVisor, or refused once: tmpfs covers only */
	bool uppers_mounted;              /* the tmpfs at UPPERS */
	bool bound_back;                  /* a tmpfs cover with the real entries bound back */
};

/* The `bad` entries as files holding kubelet's values, below root: each
 * entry's path with its first `strip` characters taken off (the covered
 * directory and its slash, for an overlay's upper directory); their list
 * (entry=value ...) in files. */
static int write_files(const bool *bad, const char *root, size_t strip, char *files, size_t len)
{
	char made[PATH_MAX] = "";
	files[0] = '\0';
	for (int i = 0; i < SYSCTL_COUNT; i++) {
		if (!bad[i])
			continue;
		char path[PATH_MAX], value[32];
		if ((size_t)snprintf(path, sizeof path, "%s/%s", root, sysctl_entries[i].path + strip) >= sizeof path) {
			log_error("sysctl: %s/%s: path too long", root, sysctl_entries[i].path + strip);
			return -1;
		}
		snprintf(value, sizeof value, "%s\n", sysctl_entries[i].want);
		char parent[PATH_MAX];
		snprintf(parent, sizeof parent, "%s", path);
		*strrchr(parent, '/') = '\0';
		/* An upper directory is new and empty: an entry of a deeper
		 * directory (kernel/keys) needs that made first, once. */
		if (strip > 0 && strcmp(parent, root) != 0 && strcmp(parent, made) != 0) {
			if (mkdir(parent, 0755) != 0 && errno != EEXIST && mkdir_p(parent, 0755) != 0) {
				log_error("sysctl: mkdir %s: %s", parent, strerror(errno));
				return -1;
			}
			memcpy(made, parent, sizeof made);
		}
		int rc = write_small(path, value, 0644);
		if (rc != 0 && errno == ENOENT && strip == 0) {
			if (mkdir_p(parent, 0755) != 0) {
				log_error("sysctl: mkdir %s: %s", parent, strerror(errno));
				return -1;
			}
			rc = write_small(path, value, 0644);
		}
		if (rc != 0) {
			log_error("sysctl: write %s: %s", path, strerror(errno));
			return -1;
		}
		size_t used = strlen(files);
		snprintf(files + used, len - used, "%s%s=%s", used ? " " : "", sysctl_entries[i].path,
			 sysctl_entries[i].want);
	}
	return 0;
}

/* Cover /proc/sys/<dir> with an overlay: the real directory below, an upper
 * directory on the tmpfs at UPPERS above, holding the `bad` entries (those
 * of deeper directories too) as files written there before the mount.
 * Written through the mounted overlay instead, each would first copy up the
 * real file or directory it replaces, the costliest calls of the start
 * under gVisor. 0; 1 when the kernel refuses procfs as a lower layer
 * (nothing mounted); -1 on any other failure, logged. */
static int cover_overlay(struct covers *cv, const char *dir, const bool *bad)
{
	if (!cv->uppers_mounted) {
		if (mkdir_p(UPPERS, 0700) != 0) {
			log_error("sysctl: mkdir " UPPERS ": %s", strerror(errno));
			return -1;
		}
		if (mount("tmpfs", UPPERS, "tmpfs", MS_NOSUID | MS_NODEV, "mode=700") != 0) {
			log_error("sysctl: mount tmpfs on " UPPERS ": %s", strerror(errno));
			return -1;
		}
		cv->uppers_mounted = true;
	}
	/* kernel/keys -> kernel.keys.upper, kernel.keys.work */
	char name[128], upper[PATH_MAX], work[PATH_MAX], target[PATH_MAX], options[3 * PATH_MAX + 64];
	if ((size_t)snprintf(name, sizeof name, "%s", dir) >= sizeof name) {
		log_error("sysctl: %s: name too long", dir);
		return -1;
	}
	for (char *slash = strchr(name, '/'); slash; slash = strchr(slash, '/'))
		*slash = '.';
	snprintf(upper, sizeof upper, UPPERS "/%s.upper", name);
	snprintf(work, sizeof work, UPPERS "/%s.work", name);
	snprintf(target, sizeof target, PROC_SYS "/%s", dir);
	if ((mkdir(upper, 0755) != 0 && errno != EEXIST) || (mkdir(work, 0755) != 0 && errno != EEXIST)) {
		log_error("sysctl: mkdir %s: %s", upper, strerror(errno));
		return -1;
	}
	char files[256];
	if (write_files(bad, upper, strlen(dir) + 1, files, sizeof files) != 0)
		return -1;
	snprintf(options, sizeof options, "lowerdir=%s,upperdir=%s,workdir=%s", target, upper, work);
	if (mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) != 0) {
		if (errno == EINVAL || errno == ENODEV) {
			log_debug("sysctl: no overlay on %s (%s): a tmpfs with the real entries bound back", target,
				  strerror(errno));
			return 1;
		}
		log_error("sysctl: mount overlay on %s: %s", target, strerror(errno));
		return -1;
	}
	log_info("sysctl: covered %s with an overlay (upper %s on tmpfs), files %s", target, upper, files);
	return 0;
}

/* Cover /proc/sys/<dir> with a tmpfs: real entries bound back, `bad` ones as files. */
static int cover_bind_back(const char *dir, const bool *bad)
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
	char files[256];
	if (write_files(bad, PROC_SYS, 0, files, sizeof files) != 0)
		goto out;
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

static bool under(const char *dir, const char *top)
{
	size_t n = strlen(top);
	return strncmp(dir, top, n) == 0 && (dir[n] == '\0' || dir[n] == '/');
}

static void mark_done(bool *done, const bool *covered)
{
	for (int k = 0; k < SYSCTL_COUNT; k++)
		done[k] = done[k] || covered[k];
}

/* Cover /proc/sys/<dir>: an overlay of its own for the entries `below` it
 * (its own and its subdirectories'), recorded in cv; else (once refused, not
 * asked again) the tmpfs with entries bound back, for its `own` entries
 * alone: a subdirectory there is a bind of the real one, and gets a cover of
 * its own. The entries covered are marked done. */
static int cover(struct covers *cv, const char *dir, const bool *own, const bool *below, bool *done)
{
	if (!cv->overlay_refused) {
		int rc = cover_overlay(cv, dir, below);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			if ((size_t)snprintf(cv->overlaid[cv->n_overlaid], sizeof cv->overlaid[0], "%s", dir) <
			    sizeof cv->overlaid[0])
				cv->n_overlaid++;
			mark_done(done, below);
			return 0;
		}
		cv->overlay_refused = true;
	}
	cv->bound_back = true;
	mark_done(done, own);
	return cover_bind_back(dir, own);
}

/* Whether the check reads entry dir/..., written or not, back. With overlays
 * only, one file written per overlay is: it shows that the overlay presents
 * its upper files, which all the others written there are too; an entry not
 * written is the real one, seen through the overlay's lower layer as before.
 * Where a tmpfs cover was made every entry is (one may have failed to bind
 * back). */
static bool must_check(const struct covers *cv, const char *dir, bool written, bool *checked_overlay)
{
	if (cv->bound_back)
		return true;
	if (!written)
		return false;
	for (int k = 0; k < cv->n_overlaid; k++) {
		if (!under(dir, cv->overlaid[k]))
			continue;
		if (checked_overlay[k])
			return false;
		checked_overlay[k] = true;
		return true;
	}
	return true;
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
			cover_dir(i, dirs);
		else if (probe_sysctl_bad(p, i))
			log_info("sysctl: %s %s: left as is (k3s only warns)", sysctl_entries[i].path,
				 p->sysctl[i] == SYSCTL_MISSING ? "missing" : "unwritable");
	}
	bool done[SYSCTL_COUNT] = { false };
	struct covers cv = { .overlay_refused = !p->gvisor };
	/* Shallow directories first, so that an overlay takes the entries of
	 * the directories below it along, and a deeper tmpfs cover sits on top
	 * of a shallower one. */
	for (int level = 0; level <= 4; level++) {
		for (int i = 0; i < SYSCTL_COUNT; i++) {
			if (done[i] || !sysctl_entries[i].fatal || !probe_sysctl_bad(p, i) || depth(dirs[i]) != level)
				continue;
			if (dirs[i][0] == '\0') {
				log_error("sysctl: %s: /proc/sys itself is missing", sysctl_entries[i].path);
				return -1;
			}
			bool own[SYSCTL_COUNT] = { false }, below[SYSCTL_COUNT] = { false };
			for (int k = 0; k < SYSCTL_COUNT; k++) {
				if (done[k] || !sysctl_entries[k].fatal || !probe_sysctl_bad(p, k))
					continue;
				own[k] = strcmp(dirs[k], dirs[i]) == 0;
				below[k] = under(dirs[k], dirs[i]);
			}
			if (cover(&cv, dirs[i], own, below, done) != 0)
				return -1;
		}
	}
	/* Check what kubelet will see now: every entry there, and the covered
	 * ones holding its value, so that it does not write them. */
	int still = 0;
	bool checked_overlay[SYSCTL_COUNT] = { false };
	for (int i = 0; i < SYSCTL_COUNT; i++) {
		if (!sysctl_entries[i].fatal)
			continue;
		if (!must_check(&cv, dirs[i], done[i], checked_overlay)) {
			p->sysctl[i] = SYSCTL_OK;
			continue;
		}
		char path[PATH_MAX], value[32];
		snprintf(path, sizeof path, PROC_SYS "/%s", sysctl_entries[i].path);
		if (read_small(path, value, sizeof value) < 0) {
			log_error("sysctl: %s still not readable: %s", path, strerror(errno));
			still++;
			continue;
		}
		value[strcspn(value, "\n")] = '\0';
		if (done[i] && strcmp(value, sysctl_entries[i].want) != 0) {
			log_error("sysctl: %s reads '%s', not the %s written there", path, value, sysctl_entries[i].want);
			still++;
			continue;
		}
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
