/* Small file-system helpers shared by the probe and the repairs. */
#ifndef K3S_INIT_FSUTIL_H
#define K3S_INIT_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* mkdir -p. 0 or -1 with errno. */
int mkdir_p(const char *path, mode_t mode);
/* Find an executable regular file `name` on `path_list` (':' separated), as
 * execvp/LookPath would. 0 and the path in `out`, or -1. */
int path_lookup(const char *name, const char *path_list, char *out, size_t out_len);
/* The same, passing over every candidate for which skip(path) is true. */
int path_lookup_skip(const char *name, const char *path_list, bool (*skip)(const char *path), char *out,
		     size_t out_len);
/* True when path is a regular file (following symlinks) with an execute bit. */
bool is_executable_file(const char *path);
/* Read until buf holds cap bytes or the file ends (retrying short reads and
 * EINTR): the count, or -1 with errno. */
ssize_t read_full(int fd, char *buf, size_t cap);
/* Read up to len-1 bytes, NUL-terminate, strip a trailing newline. Bytes read
 * or -1 with errno (buf is then ""). */
ssize_t read_small(const char *path, char *buf, size_t len);
/* The whole file at path (relative to dir_fd, or AT_FDCWD) in a NUL-terminated
 * heap buffer, its length in *len_out (may be NULL). open_flags are added to
 * O_RDONLY|O_CLOEXEC (O_NOFOLLOW, say). NULL with errno on failure; EFBIG when
 * the file holds more than limit bytes. */
char *read_file_at(int dir_fd, const char *path, int open_flags, size_t limit, size_t *len_out);
/* The same for what is left to read on an open descriptor (not closed). */
char *read_fd_all(int fd, size_t limit, size_t *len_out);
/* Write all of data, retrying short writes and EINTR. 0 or -1 with errno. */
int write_all(int fd, const char *data, size_t len);
/* Create (or truncate) path with content and mode. 0 or -1 with errno. */
int write_small(const char *path, const char *content, mode_t mode);
/* Put this very binary at dest, never as a symlink (some sandboxes do not
 * follow symlinked CNI plugins): a hard link when dest is on the binary's
 * file system; else, with may_bind (CAP_SYS_ADMIN), a bind mount of the
 * binary over an empty file, which costs one mount instead of reading the
 * whole binary (milliseconds under gVisor); else a copy. *how says which.
 * 0 or -1 with errno. */
enum install_how { INSTALL_LINK, INSTALL_BIND, INSTALL_COPY };
int install_self(const char *dest, bool may_bind, enum install_how *how);
/* Whether path is already this very binary, as install_self left it from an
 * earlier start: the same inode (its hard link), or the same bytes (its bind
 * mount or copy; another build may well have the same size). A symlink never
 * is: install_self does not make one. */
bool is_this_binary(const char *path);

/* Make path a symlink to target, replacing what is there in one rename
 * (a symlink to target already is left alone). 0 or -1 with errno. */
int symlink_replace(const char *path, const char *target);
/* Whether path, following symlinks, is the file this process runs from. */
bool resolves_to_this_binary(const char *path);

#endif
