/*
 * cgroups: kubelet (agent) needs a cgroup root: v2 with cpu, cpuset and memory
 * in cgroup.controllers, or v1, whose root it takes from the first mountinfo
 * entry of type `cgroup` (a plain tmpfs is not recognised), with memory and
 * pids. gVisor has nothing mounted at /sys/fs/cgroup but offers real v1
 * hierarchies, one controller each (combined options are refused, `devices`
 * gives EINVAL, cgroup2 ENODEV), and /proc/cgroups lists nothing until they are
 * mounted, so the known controllers are simply tried one by one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "repair.h"

#define CGROOT "/sys/fs/cgroup"
#define CG_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static bool cgroups_needed(const struct ctx *c, char *why, size_t len)
{
	const struct probe *p = c->probe;
	if (p->cgroup == CGROUP_NONE) {
		snprintf(why, len, "nothing of type cgroup or cgroup2 is mounted at " CGROOT);
		return true;
	}
	snprintf(why, len, "cgroup %s mounted (controllers: %s)", cgroup_layout_name(p->cgroup),
		 p->cgroup_controllers[0] ? p->cgroup_controllers : "none");
	return false;
}

/* cgroup2 is only worth it when it carries the controllers kubelet wants (a v1
 * host mounts cgroup2 fine, but its controllers stay bound to v1). */
static bool try_cgroup2(void)
{
	if (mount("cgroup2", CGROOT, "cgroup2", CG_FLAGS, NULL) != 0) {
		log_debug("cgroups: cgroup2: %s", strerror(errno));
		return false;
	}
	char ctrl[256] = "";
	if (read_small(CGROOT "/cgroup.controllers", ctrl, sizeof ctrl) >= 0) {
		char padded[260];
		snprintf(padded, sizeof padded, " %s ", ctrl);
		if (strstr(padded, " cpu ") && strstr(padded, " cpuset ") && strstr(padded, " memory ") &&
		    strstr(padded, " pids ")) {
			log_info("cgroups: mounted cgroup2 at " CGROOT " (controllers: %s)", ctrl);
			return true;
		}
	}
	log_debug("cgroups: cgroup2 lacks cpu/cpuset/memory/pids (%s): using v1", ctrl);
	if (umount2(CGROOT, MNT_DETACH) != 0)
		log_warn("cgroups: umount cgroup2: %s", strerror(errno));
	return false;
}

static int mount_v1(const char *name, const char *options, char *mounted, size_t len)
{
	char dir[64];
	snprintf(dir, sizeof dir, CGROOT "/%s", name);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		log_debug("cgroups: mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (mount("cgroup", dir, "cgroup", CG_FLAGS, options) != 0) {
		log_debug("cgroups: %s: %s", name, strerror(errno));
		rmdir(dir);
		return -1;
	}
	size_t used = strlen(mounted);
	snprintf(mounted + used, len - used, "%s%s", used ? " " : "", name);
	return 0;
}

static int cgroups_apply(struct ctx *c)
{
	if (mkdir_p(CGROOT, 0755) != 0) {
		log_error("cgroups: mkdir " CGROOT ": %s", strerror(errno));
		return -1;
	}
	if (try_cgroup2()) {
		probe_cgroups(c->probe);
		return 0;
	}
	if (mount("tmpfs", CGROOT, "tmpfs", CG_FLAGS, "mode=755") != 0) {
		log_error("cgroups: mount tmpfs on " CGROOT ": %s", strerror(errno));
		return -1;
	}
	char mounted[256] = "";
	for (int i = 0; cgroup_v1_controllers[i]; i++)
		mount_v1(cgroup_v1_controllers[i], cgroup_v1_controllers[i], mounted, sizeof mounted);
	/* runc and kubelet's v1 code expect the systemd named hierarchy. */
	mount_v1("systemd", "none,name=systemd", mounted, sizeof mounted);
	probe_cgroups(c->probe);
	if (!c->probe->cg_memory || !c->probe->cg_pids) {
		log_error("cgroups: mounted v1 hierarchies (%s) but not both memory and pids, which kubelet requires",
			  mounted[0] ? mounted : "none");
		return -1;
	}
	log_info("cgroups: mounted tmpfs at " CGROOT " and v1 hierarchies: %s", mounted);
	return 0;
}

const struct step step_cgroups = {
	.name = "cgroups",
	.roles = ROLES_AGENT,
	.required = ROLES_AGENT,
	.privileged = true,
	.needed = cgroups_needed,
	.apply = cgroups_apply,
};
