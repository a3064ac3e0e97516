/*
 * pod-sysctls: under gVisor, containerd asks runc to set sysctls that
 * gVisor's procfs does not have (net.ipv4.ip_unprivileged_port_start and
 * net.ipv4.ping_group_range, for every pod with a network of its own), and
 * runc fails the pod sandbox. This binary is then placed as runc first on
 * PATH, where containerd's shim finds it; it takes those sysctls out of the
 * spec and runs the real runc (runc_front.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "repair.h"

#define RUNC_FRONT K3S_INIT_BIN_DIR "/runc"
/* The one containerd sets on every kernel from 4.11 (enable_unprivileged_ports). */
#define UNPRIVILEGED_PORT_START "/proc/sys/net/ipv4/ip_unprivileged_port_start"

static bool pod_sysctls_needed(const struct ctx *c, char *why, size_t len)
{
	if (!c->probe->gvisor) {
		snprintf(why, len, "not under gVisor: runc can set every sysctl containerd asks for");
		return false;
	}
	if (access(UNPRIVILEGED_PORT_START, F_OK) == 0) {
		snprintf(why, len, UNPRIVILEGED_PORT_START " exists");
		return false;
	}
	int missing = errno;
	char runc[PATH_MAX];
	const char *path = getenv("PATH");
	if (path_lookup("runc", path ? path : "", runc, sizeof runc) != 0) {
		snprintf(why, len, "no " UNPRIVILEGED_PORT_START ", but no runc on PATH to stand in front of");
		return false;
	}
	snprintf(why, len, "no " UNPRIVILEGED_PORT_START " (%s): runc would fail every pod sandbox with a network "
		 "of its own", strerror(missing));
	return true;
}

static int pod_sysctls_apply(struct ctx *c)
{
	char real[PATH_MAX];
	const char *path = getenv("PATH");
	if (path_lookup("runc", path ? path : "", real, sizeof real) != 0) {
		log_error("pod-sysctls: no runc on PATH to put k3s-init in front of");
		return -1;
	}
	if (mkdir_p(K3S_INIT_BIN_DIR, 0755) != 0) {
		log_error("pod-sysctls: mkdir " K3S_INIT_BIN_DIR ": %s", strerror(errno));
		return -1;
	}
	const char *what = "kept";
	if (!is_this_binary(RUNC_FRONT)) {
		enum install_how how;
		if (install_self(RUNC_FRONT, c->probe->cap_sys_admin, &how) != 0) {
			log_error("pod-sysctls: cannot place this binary at " RUNC_FRONT ": %s", strerror(errno));
			return -1;
		}
		what = "placed";
	}
	if (plan_prepend_path(c->plan, K3S_INIT_BIN_DIR) != 0)
		return -1;
	log_info("pod-sysctls: %s k3s-init as " RUNC_FRONT " in front of %s: it drops the sysctls this kernel "
		 "lacks from each pod's spec", what, real);
	return 0;
}

const struct step step_pod_sysctls = {
	.name = "pod-sysctls",
	.roles = ROLES_AGENT,
	.required = 0,
	.privileged = false,
	.needed = pod_sysctls_needed,
	.apply = pod_sysctls_apply,
};
