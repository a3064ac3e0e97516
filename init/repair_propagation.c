/*
 * Mount propagation: kubelet and containerd bind-mount volumes and expect them
 * to propagate (mounts made for a pod must show up where kubelet looks); the
 * original research got past "bind-mount permission errors" only with /
 * rshared. Docker gives containers a private /. gVisor refuses with EINVAL:
 * that is a warning, not fatal.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "log.h"
#include "repair.h"

static bool propagation_needed(const struct ctx *c, char *why, size_t len)
{
	if (c->probe->root_shared) {
		snprintf(why, len, "/ is shared");
		return false;
	}
	snprintf(why, len, "/ is not shared");
	return true;
}

static int propagation_apply(struct ctx *c)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL) != 0) {
		log_warn("propagation: cannot make / rshared: %s%s", strerror(errno),
			 c->probe->gvisor && errno == EINVAL ? " (gVisor does not support it)" : "");
		return -1;
	}
	c->probe->root_shared = true;
	log_info("propagation: made / rshared");
	return 0;
}

const struct step step_propagation = {
	.name = "propagation",
	.roles = ROLES_AGENT,
	.required = 0,
	.privileged = true,
	.needed = propagation_needed,
	.apply = propagation_apply,
};
