#include "cni_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

#define LAST_PREFIX "last_reserved_ip."
/* Larger files cannot be ours: a container ID and an interface name. */
#define MAX_CONTENT 65536

/* UNDO_UNLINK: the command created name (an address it reserved).
 * UNDO_REWRITE: name is a last_reserved_ip file: put back its old content, or
 * remove it when it did not exist before.
 * UNDO_RECREATE: the command removed the address file name: create it again
 * with its old content, but only if it is still absent, never over a file
 * that someone else (who did not take the lock) created meanwhile. */
enum undo_kind { UNDO_UNLINK, UNDO_REWRITE, UNDO_RECREATE };

struct cni_store_undo {
	enum undo_kind kind;
	char name[64];
	char *old; /* NULL: did not exist */
	size_t old_len;
};

static int journal(struct cni_store *s, enum undo_kind kind, const char *name, char *old, size_t old_len,
		   struct cni_error *err)
{
	if (s->nundo == s->capundo) {
		size_t cap = s->capundo ? s->capundo * 2 : 8;
		struct cni_store_undo *grown = realloc(s->undo, cap * sizeof *grown);
		if (grown == NULL) {
			free(old);
			return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
		}
		s->undo = grown;
		s->capundo = cap;
	}
	struct cni_store_undo *u = &s->undo[s->nundo++];
	u->kind = kind;
	snprintf(u->name, sizeof u->name, "%s", name);
	u->old = old;
	u->old_len = old_len;
	return 0;
}

/* A whole small file relative to the store, never through a symlink; NULL
 * with errno on failure (EFBIG: larger than any file of ours). */
static char *store_read_file(int dir_fd, const char *name, size_t *len)
{
	return read_file_at(dir_fd, name, O_NOFOLLOW, MAX_CONTENT, len);
}

/* Write a whole file relative to the store, mode 0600, never through a
 * symlink. how: O_TRUNC (Go's os.WriteFile: create or truncate), or O_EXCL
 * for a file that must not exist yet, as upstream's Reserve creates address
 * files (EEXIST when it is there). 0, or -1 with errno. */
static int store_write_file(int dir_fd, const char *name, const char *data, size_t len, int how)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | how | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, data, len);
	int saved = errno;
	if (close(fd) < 0 && rc == 0)
		return -1;
	errno = saved;
	return rc;
}

static int write_file(int dir_fd, const char *name, const char *data, size_t len)
{
	return store_write_file(dir_fd, name, data, len, O_TRUNC);
}

static int create_file(int dir_fd, const char *name, const char *data, size_t len)
{
	return store_write_file(dir_fd, name, data, len, O_EXCL);
}

/* mkdir -p of dataDir. Its components may be symlinks, followed as
 * upstream's os.MkdirAll (backend/disk/backend.go New) follows them, so that
 * /var/lib/cni can be a link to another disk. */
static int mkdir_data_dir(const char *path, struct cni_error *err)
{
	if (mkdir_p(path, 0755) != 0)
		return cni_fail(err, CNI_ERR_IO, "mkdir %s: %s", path, strerror(errno));
	return 0;
}

/* <dataDir>/<network>, relative to dataDir and never through a symlink:
 * upstream follows one there, but a network directory that is a link can only
 * send the state, and the lock, somewhere else than where the other instances
 * look. 0, 1 when missing and !create, -1. */
static int open_network_dir(struct cni_store *s, const char *data_dir, const char *network, bool create,
			    struct cni_error *err)
{
	int data_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (data_fd < 0) {
		if (!create && errno == ENOENT)
			return 1;
		return cni_fail(err, CNI_ERR_IO, "open %s: %s", data_dir, strerror(errno));
	}
	if (create && mkdirat(data_fd, network, 0755) < 0 && errno != EEXIST) {
		int saved = errno;
		close(data_fd);
		return cni_fail(err, CNI_ERR_IO, "mkdir %s: %s", s->path, strerror(saved));
	}
	s->dir_fd = openat(data_fd, network, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int saved = errno;
	/* A symlink fails with ENOTDIR (O_DIRECTORY) or ELOOP: say which it is. */
	struct stat st;
	bool is_link = s->dir_fd < 0 && fstatat(data_fd, network, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
	close(data_fd);
	if (s->dir_fd >= 0)
		return 0;
	if (!create && saved == ENOENT)
		return 1;
	return cni_fail(err, CNI_ERR_IO, "open %s: %s", s->path,
			is_link ? "is a symbolic link (not followed)" : strerror(saved));
}

/* The lock has upstream's name and mode (backend/disk/lock.go with
 * go-filemutex, which creates it 0750), so both plugins exclude each other.
 * It is never removed: an instance waiting in flock(2) holds it open, and a
 * new file of that name would let a newcomer lock another inode. Without
 * create a missing lock is not made: STATUS then reads unlocked, which for a
 * count of files is as good as a snapshot. */
static int take_lock(struct cni_store *s, bool create, struct cni_error *err)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0);
	s->lock_fd = openat(s->dir_fd, "lock", flags, 0750);
	if (s->lock_fd < 0 && !create && errno == ENOENT)
		return 0;
	if (s->lock_fd < 0)
		return cni_fail(err, CNI_ERR_IO, "open %s/lock: %s", s->path, strerror(errno));
	while (flock(s->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return cni_fail(err, CNI_ERR_IO, "flock %s/lock: %s", s->path, strerror(errno));
	}
	return 0;
}

int cni_store_open(struct cni_store *s, const char *data_dir, const char *network, bool create,
		   struct cni_error *err)
{
	memset(s, 0, sizeof *s);
	s->dir_fd = -1;
	s->lock_fd = -1;
	int n = snprintf(s->path, sizeof s->path, "%s/%s", data_dir, network);
	if (n < 0 || (size_t)n >= sizeof s->path)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "dataDir too long");
	if (create && mkdir_data_dir(data_dir, err) < 0)
		return -1;
	int rc = open_network_dir(s, data_dir, network, create, err);
	if (rc == 0 && take_lock(s, create, err) < 0)
		rc = -1;
	if (rc != 0)
		cni_store_close(s, false);
	return rc;
}

static void undo_one(struct cni_store *s, const struct cni_store_undo *u)
{
	int rc;
	if (u->kind == UNDO_UNLINK || u->old == NULL)
		rc = unlinkat(s->dir_fd, u->name, 0);
	else if (u->kind == UNDO_RECREATE)
		rc = create_file(s->dir_fd, u->name, u->old, u->old_len);
	else
		rc = write_file(s->dir_fd, u->name, u->old, u->old_len);
	if (rc == 0 || (errno == ENOENT && u->kind != UNDO_RECREATE))
		return;
	if (errno == EEXIST && u->kind == UNDO_RECREATE)
		log_warn("host-local: not putting back %s/%s: a new file of that name appeared meanwhile", s->path,
			 u->name);
	else
		log_warn("host-local: could not undo change to %s/%s: %s", s->path, u->name, strerror(errno));
}

void cni_store_close(struct cni_store *s, bool rollback)
{
	if (rollback && s->dir_fd >= 0) {
		for (size_t i = s->nundo; i-- > 0;)
			undo_one(s, &s->undo[i]);
	}
	for (size_t i = 0; i < s->nundo; i++)
		free(s->undo[i].old);
	free(s->undo);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* closing drops the flock */
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	s->lock_fd = s->dir_fd = -1;
	s->undo = NULL;
	s->nundo = s->capundo = 0;
}

static int set_last_reserved(struct cni_store *s, const char *text, size_t set_index, struct cni_error *err)
{
	char name[64];
	snprintf(name, sizeof name, LAST_PREFIX "%zu", set_index);
	size_t old_len = 0;
	char *old = store_read_file(s->dir_fd, name, &old_len);
	if (old == NULL && errno != ENOENT)
		return cni_fail(err, CNI_ERR_IO, "read %s/%s: %s", s->path, name, strerror(errno));
	if (journal(s, UNDO_REWRITE, name, old, old_len, err) < 0)
		return -1;
	if (write_file(s->dir_fd, name, text, strlen(text)) < 0)
		return cni_fail(err, CNI_ERR_IO, "write %s/%s: %s", s->path, name, strerror(errno));
	return 0;
}

int cni_store_reserve(struct cni_store *s, const struct cni_ip *ip, const char *id, const char *ifname,
		      size_t set_index, struct cni_error *err)
{
	char name[CNI_IP_TEXT];
	cni_ip_format(ip, name);
	int fd = openat(s->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0)
		return cni_fail(err, CNI_ERR_IO, "create %s/%s: %s", s->path, name, strerror(errno));
	if (journal(s, UNDO_UNLINK, name, NULL, 0, err) < 0) {
		close(fd);
		unlinkat(s->dir_fd, name, 0);
		return -1;
	}
	size_t idlen = strlen(id), iflen = strlen(ifname);
	char *content = malloc(idlen + iflen + 3);
	if (content == NULL) {
		close(fd);
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	}
	sprintf(content, "%s\r\n%s", id, ifname);
	int rc = write_all(fd, content, idlen + iflen + 2);
	free(content);
	if (close(fd) < 0 || rc < 0)
		return cni_fail(err, CNI_ERR_IO, "write %s/%s: %s", s->path, name, strerror(errno));
	if (set_last_reserved(s, name, set_index, err) < 0)
		return -1;
	return 1;
}

bool cni_store_last_reserved(struct cni_store *s, size_t set_index, struct cni_ip *out)
{
	char name[64];
	snprintf(name, sizeof name, LAST_PREFIX "%zu", set_index);
	size_t len;
	char *text = store_read_file(s->dir_fd, name, &len);
	if (text == NULL) {
		if (errno != ENOENT)
			log_warn("host-local: reading %s/%s: %s", s->path, name, strerror(errno));
		return false;
	}
	bool ok = cni_ip_parse(text, out);
	free(text);
	return ok;
}

static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Content is trimmed as upstream's strings.TrimSpace before it compares. */
static int entry_load(struct cni_store *s, const char *name, struct cni_store_entry *e)
{
	memset(e, 0, sizeof *e);
	if (!cni_ip_parse(name, &e->ip))
		return 0;
	size_t len;
	char *data = store_read_file(s->dir_fd, name, &len);
	if (data == NULL)
		return errno == ENOENT || errno == ELOOP || errno == EISDIR || errno == EFBIG ? 0 : -1;
	char *start = data;
	while (*start && is_space(*start))
		start++;
	size_t n = strlen(start);
	while (n > 0 && is_space(start[n - 1]))
		start[--n] = '\0';
	memmove(data, start, n + 1);
	e->content = data;
	e->split = strdup(data);
	if (e->split == NULL) {
		free(data);
		e->content = NULL;
		errno = ENOMEM;
		return -1;
	}
	char *crlf = strstr(e->split, "\r\n");
	e->legacy = crlf == NULL;
	if (crlf != NULL)
		*crlf = '\0';
	e->id = e->split;
	e->ifname = crlf ? crlf + 2 : "";
	snprintf(e->name, sizeof e->name, "%.45s", name);
	return 1;
}

void cni_store_list_free(struct cni_store_entry *list, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(list[i].content);
		free(list[i].split);
	}
	free(list);
}

int cni_store_list(struct cni_store *s, struct cni_store_entry **out, size_t *count, struct cni_error *err)
{
	*out = NULL;
	*count = 0;
	int fd = dup(s->dir_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return cni_fail(err, CNI_ERR_IO, "read directory %s: %s", s->path, strerror(errno));
	}
	rewinddir(d);
	size_t cap = 0;
	struct dirent *de;
	int rc = 0;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (*count == cap) {
			cap = cap ? cap * 2 : 64;
			struct cni_store_entry *grown = realloc(*out, cap * sizeof *grown);
			if (grown == NULL) {
				rc = cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
				break;
			}
			*out = grown;
		}
		int got = entry_load(s, de->d_name, &(*out)[*count]);
		if (got < 0) {
			rc = cni_fail(err, CNI_ERR_IO, "read %s/%s: %s", s->path, de->d_name, strerror(errno));
			break;
		}
		*count += (size_t)got;
		errno = 0;
	}
	if (rc == 0 && errno != 0)
		rc = cni_fail(err, CNI_ERR_IO, "read directory %s: %s", s->path, strerror(errno));
	closedir(d);
	if (rc < 0) {
		cni_store_list_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	return rc;
}

bool cni_store_entry_matches(const struct cni_store_entry *e, const char *id, const char *ifname)
{
	if (ifname == NULL)
		return e->legacy && strcmp(e->id, id) == 0;
	return !e->legacy && strcmp(e->id, id) == 0 && strcmp(e->ifname, ifname) == 0;
}

int cni_store_remove(struct cni_store *s, const struct cni_store_entry *e, struct cni_error *err)
{
	size_t len;
	char *old = store_read_file(s->dir_fd, e->name, &len);
	if (old == NULL)
		return errno == ENOENT ? 0 : cni_fail(err, CNI_ERR_IO, "read %s/%s: %s", s->path, e->name, strerror(errno));
	if (journal(s, UNDO_RECREATE, e->name, old, len, err) < 0)
		return -1;
	if (unlinkat(s->dir_fd, e->name, 0) == 0)
		return 0;
	/* Not removed by this command: nothing to put back. */
	int saved = errno;
	free(s->undo[--s->nundo].old);
	if (saved == ENOENT)
		return 0;
	return cni_fail(err, CNI_ERR_IO, "remove %s/%s: %s", s->path, e->name, strerror(saved));
}
