/*
 * host-local: k3s looks it up on PATH at start (pkg/daemons/executor
 * LookPath("host-local"), fatal "failed to find host-local"), even with
 * --disable-agent, and agents need it for pod IPs. The official image finds it
 * in /var/lib/rancher/k3s/data/cni, which a volume mounted at
 * /var/lib/rancher/k3s hides. When none is runnable, this very binary answers as
 * host-local (multi-call, main.c): it is hard-linked or copied, never
 * symlinked (a sandbox was seen not to follow symlinked plugins), into
 * /run/k3s-init/bin, which goes first on PATH.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "repair.h"

#define HOST_LOCAL K3S_INIT_BIN_DIR "/host-local"

static bool host_local_needed(const struct ctx *c, char *why, size_t len)
{
	if (c->probe->host_local[0]) {
		snprintf(why, len, "host-local found on PATH: %s", c->probe->host_local);
		return false;
	}
	snprintf(why, len, "no runnable host-local on PATH");
	return true;
}

/* Already there from an earlier start and the same binary: leave it. */
static bool same_binary(void)
{
	struct stat a, b;
	return stat(HOST_LOCAL, &a) == 0 && stat("/proc/self/exe", &b) == 0 && S_ISREG(a.st_mode) &&
	       (a.st_mode & 0111) && a.st_size == b.st_size;
}

static int host_local_apply(struct ctx *c)
{
	if (mkdir_p(K3S_INIT_BIN_DIR, 0755) != 0) {
		log_error("host-local: mkdir " K3S_INIT_BIN_DIR ": %s", strerror(errno));
		return -1;
	}
	const char *what = "kept";
	if (!same_binary()) {
		if (install_self(HOST_LOCAL) != 0) {
			log_error("host-local: cannot place this binary at " HOST_LOCAL ": %s", strerror(errno));
			return -1;
		}
		what = "placed";
	}
	if (plan_prepend_path(c->plan, K3S_INIT_BIN_DIR) != 0)
		return -1;
	snprintf(c->probe->host_local, sizeof c->probe->host_local, HOST_LOCAL);
	log_info("host-local: %s k3s-init as " HOST_LOCAL " and put " K3S_INIT_BIN_DIR " first on PATH", what);
	return 0;
}

const struct step step_host_local = {
	.name = "host-local",
	.roles = ROLES_ALL,
	.required = ROLES_ALL,
	.privileged = false,
	.needed = host_local_needed,
	.apply = host_local_apply,
};
