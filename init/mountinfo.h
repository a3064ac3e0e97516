/* /proc/self/mountinfo, one entry at a time (proc(5)). */
#ifndef K3S_INIT_MOUNTINFO_H
#define K3S_INIT_MOUNTINFO_H

struct mount_entry {
	char *mount_point;   /* unescaped */
	char *optional;      /* optional fields, e.g. "shared:1 master:2", or "" */
	char *fstype;
	char *source;
	char *super_opts;
};

/* Calls cb for every entry, in order, until cb returns non-zero (which is
 * returned). -1 with errno when mountinfo cannot be read. */
int mountinfo_each(int (*cb)(const struct mount_entry *e, void *arg), void *arg);
/* Number of entries, or -1. */
int mountinfo_count(void);
/* True when the comma-separated option list has opt exactly. */
int has_option(const char *list, const char *opt);

#endif
