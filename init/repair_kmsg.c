/*
 * /dev/kmsg: kubelet's cAdvisor OOM watcher opens it for reading and kubelet
 * fails without it ("failed to create kubelet: open /dev/kmsg"), e.g. in gVisor
 * whose /dev has none. Like kind and rootless k3s (pkg/rootless), bind /dev/null
 * over a placeholder: reads see EOF, which the watcher accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "log.h"
#include "repair.h"

#define KMSG "/dev/kmsg"

static bool kmsg_needed(const struct ctx *c, char *why, size_t len)
{
	if (c->probe->kmsg_readable) {
		snprintf(why, len, KMSG " opens for reading");
		return false;
	}
	snprintf(why, len, KMSG ": %s", strerror(c->probe->kmsg_errno));
	return true;
}

static int kmsg_apply(struct ctx *c)
{
	if (c->probe->kmsg_readable) {
		log_info("kmsg: " KMSG " already readable, nothing to do");
		return 0;
	}
	int fd = open(KMSG, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EACCES && errno != EPERM && errno != ENXIO && errno != ENODEV) {
		log_error("kmsg: cannot create a placeholder at " KMSG ": %s", strerror(errno));
		return -1;
	}
	if (fd >= 0)
		close(fd);
	if (mount("/dev/null", KMSG, NULL, MS_BIND, NULL) != 0) {
		log_error("kmsg: bind /dev/null over " KMSG ": %s", strerror(errno));
		return -1;
	}
	fd = open(KMSG, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		log_error("kmsg: " KMSG " still does not open after the bind: %s", strerror(errno));
		return -1;
	}
	close(fd);
	c->probe->kmsg_readable = true;
	log_info("kmsg: bound /dev/null over " KMSG " (kubelet's OOM watcher reads it)");
	return 0;
}

const struct step step_kmsg = {
	.name = "kmsg",
	.roles = ROLES_AGENT,
	.required = ROLES_AGENT,
	.privileged = true,
	.needed = kmsg_needed,
	.apply = kmsg_apply,
};
