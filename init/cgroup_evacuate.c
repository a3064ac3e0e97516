#include "cgroup_evacuate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "userns.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* cgroup.procs of a busy cgroup can be long; beyond this, give up. */
#define PROCS_MAX (1u << 20)

/* The "0::<path>" line of /proc/self/cgroup, copied into out. */
static int own_cgroup(char *out, size_t size)
{
	char *text = read_file_at(AT_FDCWD, "/proc/self/cgroup", 0, 65536, NULL);
	if (text == NULL) {
		log_warn("cgroup v2: cannot read /proc/self/cgroup: %s", strerror(errno));
		return -1;
	}
	int found = -1;
	for (char *line = text; line != NULL && *line != '\0';) {
		char *next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strncmp(line, "0::", 3) == 0 && line[3] == '/') {
			int n = snprintf(out, size, "%s", line + 3);
			found = n > 0 && (size_t)n < size ? 0 : -1;
			break;
		}
		line = next;
	}
	free(text);
	if (found != 0)
		log_warn("cgroup v2: no usable unified (0::) entry in /proc/self/cgroup");
	return found;
}

/* Writes one value per write(): cgroup.procs takes one pid at a time and
 * cgroup.subtree_control applies each "+ctrl" on its own. */
static int write_value(int fd, const char *value)
{
	size_t len = strlen(value);
	ssize_t n;
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Moves every pid listed in <dir>/cgroup.procs into <dir>/init. */
static int move_processes(int dirfd, const char *dir, int *moved)
{
	char *procs = read_file_at(dirfd, "cgroup.procs", 0, PROCS_MAX, NULL);
	if (procs == NULL) {
		log_warn("cgroup v2: cannot read %s/cgroup.procs: %s", dir, strerror(errno));
		return -1;
	}
	int fd = openat(dirfd, "init/cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		log_warn("cgroup v2: cannot open %s/init/cgroup.procs: %s", dir, strerror(errno));
		free(procs);
		return -1;
	}
	int status = 0;
	for (char *save = NULL, *pid = strtok_r(procs, "\n", &save); pid != NULL;
	     pid = strtok_r(NULL, "\n", &save)) {
		/* Processes outside our PID namespace are listed as 0; writing
		 * 0 would mean "the writer", so they are left where they are
		 * (and the controllers step below then reports EBUSY). */
		if (strcmp(pid, "0") == 0)
			continue;
		if (write_value(fd, pid) == 0) {
			(*moved)++;
		} else if (errno != ESRCH) { /* ESRCH: it exited meanwhile */
			log_warn("cgroup v2: cannot move process %s to %s/init: %s", pid, dir, strerror(errno));
			status = -1;
		}
	}
	close(fd);
	free(procs);
	return status;
}

/* Writes +ctrl for each controller in <dir>/cgroup.controllers. */
static int enable_controllers(int dirfd, const char *dir, char *enabled, size_t size)
{
	char *ctrls = read_file_at(dirfd, "cgroup.controllers", 0, 65536, NULL);
	if (ctrls == NULL) {
		log_warn("cgroup v2: cannot read %s/cgroup.controllers: %s", dir, strerror(errno));
		return -1;
	}
	int fd = openat(dirfd, "cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		log_warn("cgroup v2: cannot open %s/cgroup.subtree_control: %s", dir, strerror(errno));
		free(ctrls);
		return -1;
	}
	int status = 0;
	size_t used = 0;
	enabled[0] = '\0';
	for (char *save = NULL, *c = strtok_r(ctrls, " \n", &save); c != NULL; c = strtok_r(NULL, " \n", &save)) {
		char value[64];
		int n = snprintf(value, sizeof value, "+%s", c);
		if (n < 0 || (size_t)n >= sizeof value)
			continue;
		/* One controller at a time, so that one refusal does not keep
		 * the others off (rootlesskit enables "as many as possible"). */
		if (write_value(fd, value) != 0) {
			log_warn("cgroup v2: cannot enable controller %s in %s/cgroup.subtree_control: %s", c, dir,
				 strerror(errno));
			status = -1;
			continue;
		}
		n = snprintf(enabled + used, size - used, "%s%s", used ? " " : "", c);
		if (n > 0 && (size_t)n < size - used)
			used += (size_t)n;
	}
	close(fd);
	free(ctrls);
	return status;
}

static int is_pure_cgroup2(void)
{
	struct statfs fs;
	if (statfs(CGROUP_EVACUATE_MOUNT, &fs) != 0)
		return 0;
	return fs.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup_evacuate(void)
{
	if (getpid() != 1) {
		log_debug("cgroup v2: not PID 1, leaving the cgroup as it is");
		return 1;
	}
	if (!is_pure_cgroup2()) {
		log_debug("cgroup v2: %s is not a cgroup2 mount (v1, hybrid or none): nothing to move",
			  CGROUP_EVACUATE_MOUNT);
		return 1;
	}
	if (in_user_namespace()) {
		log_debug("cgroup v2: in a user namespace, leaving the cgroup as it is (as k3s does)");
		return 1;
	}
	char own[PATH_MAX / 2];
	if (own_cgroup(own, sizeof own) != 0)
		return -1;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s%s", CGROUP_EVACUATE_MOUNT, strcmp(own, "/") == 0 ? "" : own);
	int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		log_warn("cgroup v2: cannot open %s: %s", dir, strerror(errno));
		return -1;
	}
	if (mkdirat(dirfd, "init", 0755) != 0 && errno != EEXIST) {
		log_warn("cgroup v2: cannot create %s/init: %s", dir, strerror(errno));
		close(dirfd);
		return -1;
	}
	int moved = 0;
	int status = move_processes(dirfd, dir, &moved);
	char enabled[512] = "";
	if (enable_controllers(dirfd, dir, enabled, sizeof enabled) != 0)
		status = -1;
	close(dirfd);
	log_info("cgroup v2: moved %d process(es) from %s to %s/init; controllers enabled for child cgroups: %s",
		 moved, dir, dir, enabled[0] ? enabled : "none");
	return status;
}
