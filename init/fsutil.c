#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* mkdir of path, whose parent exists or is made first (deepest first: a
 * missing /run/k3s-init/bin under an existing /run costs two mkdirs, not a
 * mkdir per component and a stat to check). */
static int mkdir_parents(char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0)
		return 0;
	int mkdir_errno = errno;
	char *slash = strrchr(path, '/');
	if (mkdir_errno == ENOENT && slash != NULL && slash != path) {
		*slash = '\0';
		int rc = mkdir_parents(path, mode);
		*slash = '/';
		if (rc != 0)
			return -1;
		if (mkdir(path, mode) == 0)
			return 0;
		mkdir_errno = errno;
	}
	/* gVisor's sysfs answers EPERM, not EEXIST, for an existing dir. The
	 * error reported is mkdir's (EROFS, EACCES), not the stat's. */
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		mkdir_errno = mkdir_errno == EEXIST ? ENOTDIR : mkdir_errno;
	}
	errno = mkdir_errno;
	return -1;
}

int mkdir_p(const char *path, mode_t mode)
{
	/* Most calls find the directory there already: one stat, not a mkdir
	 * per component (each a round trip into gVisor's sentry). */
	struct stat existing;
	if (stat(path, &existing) == 0 && S_ISDIR(existing.st_mode))
		return 0;
	char buf[PATH_MAX];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	return mkdir_parents(buf, mode);
}

bool is_executable_file(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	return (st.st_mode & 0111) != 0;
}

int path_lookup(const char *name, const char *path_list, char *out, size_t out_len)
{
	return path_lookup_skip(name, path_list, NULL, out, out_len);
}

int path_lookup_skip(const char *name, const char *path_list, bool (*skip)(const char *path), char *out,
		     size_t out_len)
{
	if (strchr(name, '/')) {
		if (!is_executable_file(name))
			return -1;
		if ((size_t)snprintf(out, out_len, "%s", name) >= out_len)
			return -1;
		return 0;
	}
	if (path_list == NULL)
		path_list = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	const char *p = path_list;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		/* An empty PATH element means the current directory (POSIX). */
		int w = n == 0 ? snprintf(out, out_len, "./%s", name)
			       : snprintf(out, out_len, "%.*s/%s", (int)n, p, name);
		if (w > 0 && (size_t)w < out_len && is_executable_file(out) && (skip == NULL || !skip(out)))
			return 0;
		if (!end)
			break;
		p = end + 1;
	}
	out[0] = '\0';
	return -1;
}

/* Reads into buf until cap bytes, the end of the file, or (with
 * short_line_is_end) a short read that ends a line. */
static ssize_t read_until(int fd, char *buf, size_t cap, bool short_line_is_end)
{
	size_t total = 0;
	while (total < cap) {
		ssize_t n = read(fd, buf + total, cap - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		total += (size_t)n;
		if (short_line_is_end && total < cap && buf[total - 1] == '\n')
			break;
	}
	return (ssize_t)total;
}

ssize_t read_full(int fd, char *buf, size_t cap)
{
	return read_until(fd, buf, cap, false);
}

ssize_t read_small(const char *path, char *buf, size_t len)
{
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* The kernel's small text files (a /proc/sys value, uid_map,
	 * cgroup.controllers): procfs, sysfs and cgroupfs (seq_file on Linux,
	 * whole-content buffers in gVisor) answer short only at the end, so a
	 * short read that ends a line is taken as the end. That saves the read
	 * that would return 0: a system call per file, tens of microseconds
	 * under gVisor. */
	ssize_t total = read_until(fd, buf, len - 1, true);
	int e = errno;
	close(fd);
	if (total < 0) {
		errno = e;
		return -1;
	}
	buf[total] = '\0';
	while (total > 0 && (buf[total - 1] == '\n' || buf[total - 1] == ' '))
		buf[--total] = '\0';
	return total;
}

char *read_fd_all(int fd, size_t limit, size_t *len_out)
{
	size_t cap = 4096, len = 0;
	char *buf = NULL;
	int e = 0;
	for (;;) {
		if (cap > limit + 1)
			cap = limit + 1;
		char *bigger = realloc(buf, cap);
		if (bigger == NULL) {
			e = ENOMEM;
			break;
		}
		buf = bigger;
		ssize_t n = read_full(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			e = errno;
			break;
		}
		len += (size_t)n;
		if (len < cap - 1)
			break; /* end of file */
		if (len >= limit) {
			/* One byte more than allowed: too big, not silently cut. */
			char extra;
			ssize_t more = read_full(fd, &extra, 1);
			if (more != 0) {
				e = more < 0 ? errno : EFBIG;
				break;
			}
			break;
		}
		cap *= 2;
	}
	if (e != 0) {
		free(buf);
		errno = e;
		return NULL;
	}
	buf[len] = '\0';
	if (len_out != NULL)
		*len_out = len;
	return buf;
}

char *read_file_at(int dir_fd, const char *path, int open_flags, size_t limit, size_t *len_out)
{
	int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | open_flags);
	if (fd < 0)
		return NULL;
	char *buf = read_fd_all(fd, limit, len_out);
	int e = errno;
	close(fd);
	errno = e;
	return buf;
}

int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int write_small(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	if (write_all(fd, content, strlen(content)) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

static int copy_fd(int in, int out)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		if (write_all(out, buf, (size_t)n) != 0)
			return -1;
	}
}

/* The copy behind install_self, into tmp (created 0755). 0 or -1 with errno. */
static int copy_self(const char *tmp)
{
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (out < 0) {
		int e = errno;
		close(in);
		errno = e;
		return -1;
	}
	int rc = copy_fd(in, out);
	int e = errno;
	close(in);
	if (rc == 0 && fchmod(out, 0755) != 0) {
		rc = -1;
		e = errno;
	}
	if (close(out) != 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	errno = e;
	return rc;
}

/* Whether dest's directory is on the file system this binary is on. The
 * answer for the last directory asked is kept: a start places several
 * plugins into one directory (host-local, routed-veth), and neither the
 * binary's file system nor that directory's changes meanwhile. */
static bool same_device_as_self(const char *dest)
{
	static char last_dir[PATH_MAX];
	static bool last_same;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", dest);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (last_dir[0] != '\0' && strcmp(dir, last_dir) == 0)
		return last_same;
	struct stat self, there;
	if (stat("/proc/self/exe", &self) != 0 || stat(dir, &there) != 0)
		return false;
	last_same = self.st_dev == there.st_dev;
	memcpy(last_dir, dir, sizeof last_dir);
	return last_same;
}

/* An empty file at dest with this binary bind-mounted over it. */
static int bind_self(const char *dest)
{
	int fd = open(dest, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0755);
	if (fd < 0)
		return -1;
	close(fd);
	return mount("/proc/self/exe", dest, NULL, MS_BIND, NULL);
}

int install_self(const char *dest, bool may_bind, enum install_how *how)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.k3s-init-tmp", dest) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* A hard link of /proc/self/exe works when dest is on the binary's file
	 * system; elsewhere it is not even tried (gVisor takes milliseconds to
	 * refuse it with EXDEV). A leftover tmp from a start killed halfway is
	 * removed only where tmp is used: the bind needs none. */
	bool same_device = same_device_as_self(dest);
	if (same_device)
		unlink(tmp);
	if (same_device && linkat(AT_FDCWD, "/proc/self/exe", AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0) {
		*how = INSTALL_LINK;
	} else if (may_bind && bind_self(dest) == 0) {
		*how = INSTALL_BIND;
		return 0;
	} else {
		if (!same_device)
			unlink(tmp);
		if (copy_self(tmp) != 0) {
			int e = errno;
			unlink(tmp);
			errno = e;
			return -1;
		}
		*how = INSTALL_COPY;
	}
	if (rename(tmp, dest) != 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

/* 1 when the two files hold the same bytes, 0 when not, -1 on a read error. */
static int same_contents(int a, int b)
{
	char x[16384], y[16384];
	for (;;) {
		ssize_t n = read_full(a, x, sizeof x), m = read_full(b, y, sizeof y);
		if (n < 0 || m < 0)
			return -1;
		if (n != m || memcmp(x, y, (size_t)n) != 0)
			return 0;
		if (n == 0)
			return 1;
	}
}

bool is_this_binary(const char *path)
{
	struct stat a, b;
	if (lstat(path, &a) != 0 || !S_ISREG(a.st_mode) || !(a.st_mode & 0111))
		return false;
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0 || fstat(self, &b) != 0) {
		log_warn("cannot read /proc/self/exe to compare with %s: %s", path, strerror(errno));
		if (self >= 0)
			close(self);
		return false;
	}
	int same = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	if (!same && a.st_size == b.st_size) {
		int other = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		same = other < 0 ? -1 : same_contents(self, other);
		if (same < 0)
			log_warn("cannot compare %s with this binary: %s", path, strerror(errno));
		if (other >= 0)
			close(other);
	}
	close(self);
	return same == 1;
}

int symlink_replace(const char *path, const char *target)
{
	char cur[PATH_MAX], tmp[PATH_MAX];
	ssize_t n = readlink(path, cur, sizeof cur - 1);
	if (n >= 0) {
		cur[n] = '\0';
		if (strcmp(cur, target) == 0)
			return 0;
	}
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	if (snprintf(tmp, sizeof tmp, "%.*s.%s.tmp", dir_len, path, slash ? slash + 1 : path) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	unlink(tmp);
	if (symlink(target, tmp) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

bool resolves_to_this_binary(const char *path)
{
	struct stat there, self;
	return stat(path, &there) == 0 && stat("/proc/self/exe", &self) == 0 && there.st_dev == self.st_dev &&
	       there.st_ino == self.st_ino;
}
