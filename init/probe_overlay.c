/*
 * containerd's overlayfs snapshotter mounts overlay with upper and work dirs
 * below the k3s data dir; when that cannot work (overlay on overlay, 9p, no
 * privileges, gVisor) k3s has to be told --snapshotter=native. The only honest
 * test is a trial mount: in a fresh mkdtemp directory (mode 0700) below the
 * data dir, or its nearest existing parent when the data dir does not exist
 * yet, unmounted and removed at once.
 */
#include "probe_overlay.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "log.h"

static void existing_dir(const char *data_dir, char *out, size_t len)
{
	snprintf(out, len, "%s", data_dir);
	struct stat st;
	while (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
		char *slash = strrchr(out, '/');
		if (slash == NULL || slash == out) {
			snprintf(out, len, "/");
			return;
		}
		*slash = '\0';
	}
}

static void remove_trial(const char *tmp)
{
	static const char *const parts[] = { "w/work", "w/index", "w", "u", "l", "m", NULL };
	char path[PATH_MAX];
	for (int i = 0; parts[i]; i++) {
		snprintf(path, sizeof path, "%s/%s", tmp, parts[i]);
		if (rmdir(path) != 0 && errno != ENOENT)
			log_warn("overlay trial: rmdir %s: %s", path, strerror(errno));
	}
	if (rmdir(tmp) != 0)
		log_warn("overlay trial: rmdir %s: %s", tmp, strerror(errno));
}

static int make_parts(const char *tmp)
{
	static const char *const parts[] = { "l", "u", "w", "m", NULL };
	char path[PATH_MAX];
	for (int i = 0; parts[i]; i++) {
		if ((size_t)snprintf(path, sizeof path, "%s/%s", tmp, parts[i]) >= sizeof path || mkdir(path, 0700) != 0)
			return -1;
	}
	return 0;
}

/* overlayfs splits its options at ',' and lowerdir at ':', and takes a
 * backslash as an escape for the next character (fs/overlayfs/params.c,
 * ovl_next_opt and ovl_unescape): a data dir with such characters must be
 * escaped, or the trial fails on the path and not on overlayfs. */
static bool escape_path(const char *path, char *out, size_t len)
{
	size_t k = 0;
	for (const char *c = path; *c; c++) {
		if (*c == ',' || *c == ':' || *c == '\\') {
			if (k + 1 >= len)
				return false;
			out[k++] = '\\';
		}
		if (k + 1 >= len)
			return false;
		out[k++] = *c;
	}
	out[k] = '\0';
	return true;
}

#define OVERLAYFS_MAGIC 0x794C7630

/* An upper dir on overlayfs is refused by Linux (seen here on 6.18: EINVAL)
 * and by gVisor, whose root filesystem is an overlay by default
 * (pkg/sentry/fsimpl/overlay/overlay.go: no overlay upper on the overlay
 * root): no need for a trial, whose dozen directory operations on the
 * sandbox's root file system cost milliseconds under gVisor. */
static bool on_overlayfs(const char *dir)
{
	struct statfs s;
	return statfs(dir, &s) == 0 && ((unsigned long)s.f_type & 0xFFFFFFFFUL) == OVERLAYFS_MAGIC;
}

void probe_overlay(struct probe *p, const char *data_dir)
{
	char dir[PATH_MAX - 64];
	existing_dir(data_dir, dir, sizeof dir);
	snprintf(p->overlay_dir, sizeof p->overlay_dir, "%s", dir);
	if (on_overlayfs(dir)) {
		p->overlay = TRI_NO;
		p->overlay_errno = EINVAL;
		p->overlay_note = "on overlayfs, which cannot hold an overlay upper dir; not tried";
		return;
	}
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s/.k3s-init-overlay-XXXXXX", strcmp(dir, "/") ? dir : "");
	if (mkdtemp(tmp) == NULL) {
		p->overlay = TRI_UNKNOWN;
		p->overlay_errno = errno;
		return;
	}
	if (make_parts(tmp) != 0) {
		p->overlay = TRI_UNKNOWN;
		p->overlay_errno = errno;
		remove_trial(tmp);
		return;
	}
	char opts[PATH_MAX * 6 + 64], merged[PATH_MAX + 4], esc[PATH_MAX * 2];
	if (!escape_path(tmp, esc, sizeof esc)) {
		p->overlay = TRI_UNKNOWN;
		p->overlay_errno = ENAMETOOLONG;
		remove_trial(tmp);
		return;
	}
	snprintf(opts, sizeof opts, "lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", esc, esc, esc);
	snprintf(merged, sizeof merged, "%s/m", tmp);
	if (mount("overlay", merged, "overlay", MS_NOSUID | MS_NODEV, opts) == 0) {
		p->overlay = TRI_YES;
		if (umount2(merged, MNT_DETACH) != 0)
			log_warn("overlay trial: umount %s: %s", merged, strerror(errno));
	} else {
		p->overlay = TRI_NO;
		p->overlay_errno = errno;
	}
	remove_trial(tmp);
}
