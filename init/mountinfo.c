#include "mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

/* Mount points escape space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;
	for (char *in = s; *in; ) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '7' && in[2] >= '0' && in[2] <= '7' &&
		    in[3] >= '0' && in[3] <= '7') {
			*out++ = (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
			in += 4;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
}

static char *next_field(char **cursor)
{
	char *s = *cursor;
	if (s == NULL)
		return NULL;
	while (*s == ' ')
		s++;
	if (*s == '\0' || *s == '\n')
		return NULL;
	char *end = s + strcspn(s, " \n");
	if (*end) {
		*end = '\0';
		*cursor = end + 1;
	} else {
		*cursor = end;
	}
	return s;
}

/* Fields: id parent major:minor root mount-point options [optional...] - fstype source super-options */
static int parse_line(char *line, struct mount_entry *e)
{
	char *cur = line;
	char *f[5];
	for (int i = 0; i < 5; i++) {
		f[i] = next_field(&cur);
		if (!f[i])
			return -1;
	}
	if (!next_field(&cur)) /* per-mount options */
		return -1;
	e->mount_point = f[4];
	unescape(e->mount_point);
	/* Optional fields run up to the lone "-". */
	char *sep = strstr(cur, " - ");
	if (sep == NULL) {
		if (strncmp(cur, "- ", 2) != 0)
			return -1;
		e->optional = cur + strlen(cur); /* "" */
		cur += 2;
	} else {
		*sep = '\0';
		e->optional = cur;
		while (*e->optional == ' ')
			e->optional++;
		cur = sep + 3;
	}
	e->fstype = next_field(&cur);
	e->source = next_field(&cur);
	e->super_opts = next_field(&cur);
	if (!e->fstype || !e->source)
		return -1;
	if (!e->super_opts)
		e->super_opts = e->source + strlen(e->source);
	return 0;
}

/* More than any container's mount table; a larger one is an error (EFBIG). */
#define MOUNTINFO_MAX (4u << 20)

int mountinfo_each(int (*cb)(const struct mount_entry *e, void *arg), void *arg)
{
	/* The whole table in as few read()s as possible: gVisor renders the
	 * file anew for reads at an offset, a fraction of a millisecond each,
	 * where stdio's 1 KB reads took five of them for one table. */
	char *text = read_file_at(AT_FDCWD, "/proc/self/mountinfo", 0, MOUNTINFO_MAX, NULL);
	if (text == NULL)
		return -1;
	int rc = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct mount_entry e;
		if (parse_line(line, &e) != 0)
			continue;
		rc = cb(&e, arg);
		if (rc != 0)
			break;
	}
	free(text);
	return rc;
}

static int count_cb(const struct mount_entry *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

int mountinfo_count(void)
{
	int n = 0;
	if (mountinfo_each(count_cb, &n) < 0)
		return -1;
	return n;
}

int has_option(const char *list, const char *opt)
{
	size_t n = strlen(opt);
	for (const char *p = list; p && *p; ) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, opt, n) == 0)
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}
