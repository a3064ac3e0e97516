/*
 * iptables-extensions: where the kernel's iptables has no comment match
 * (gVisor's netstack), not one of kube-proxy's rules loads, nor flannel's:
 * every one carries a comment. This binary is then placed in front of
 * iptables, iptables-restore, ip6tables and ip6tables-restore, first on
 * PATH; it takes the comments out and leaves out the rules that need other
 * extensions the kernel lacks (iptables_front.c). On a kernel with the
 * comment match nothing is placed and every rule reaches iptables as written.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fsutil.h"
#include "iptables_front.h"
#include "log.h"
#include "repair.h"
#include "xt_revision.h"

#define FRONT_DIR K3S_INIT_RUN_DIR "/iptables-front"

/* The other extensions kube-proxy's rules use, for the log line: which of
 * them the kernel lacks decides which rules are left out. */
static const struct {
	const char *name;
	bool target;
} also_used[] = {
	{ "conntrack", false }, { "statistic", false }, { "addrtype", false },
	{ "MARK", true },	{ "MASQUERADE", true },
};

/* "conntrack statistic MARK" for those missing, into out. */
static void list_missing(int fd, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof also_used / sizeof also_used[0]; i++) {
		if (xt_has(fd, AF_INET, also_used[i].target, also_used[i].name) != ENOENT)
			continue;
		int n = snprintf(out + used, len - used, "%s%s", used ? " " : "", also_used[i].name);
		if (n > 0 && (size_t)n < len - used)
			used += (size_t)n;
	}
}

static bool iptables_extensions_needed(const struct ctx *c, char *why, size_t len)
{
	(void)c;
	int fd = xt_socket(AF_INET);
	if (fd < 0) {
		snprintf(why, len, "no raw socket to ask iptables on (%s): no rule loads here at all", strerror(errno));
		return false;
	}
	int err = xt_has(fd, AF_INET, false, "comment");
	close(fd);
	if (err != ENOENT) {
		snprintf(why, len, err == 0 ? "the kernel has the comment match: rules load as written"
					    : "iptables did not say whether it has the comment match (%s)", strerror(err));
		return false;
	}
	char found[PATH_MAX];
	const char *path = getenv("PATH");
	if (path_lookup("iptables", path ? path : "", found, sizeof found) != 0) {
		snprintf(why, len, "no comment match, but no iptables on PATH to stand in front of");
		return false;
	}
	/* Which other extensions are missing is asked once, by apply, for its
	 * log line; doctor lists them all on its own. */
	snprintf(why, len, "no comment match: not one kube-proxy or flannel rule would load");
	return true;
}

static int iptables_extensions_apply(struct ctx *c)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0) {
		log_error("iptables-extensions: readlink /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	/* Symlinks: the front finds the real program by the name it was run
	 * under, as iptables' own multi-call binary does. */
	if (plan_link_names_first(c->plan, "iptables-extensions", FRONT_DIR, iptables_front_names, self) != 0)
		return -1;
	char missing[128] = "";
	int fd = xt_socket(AF_INET);
	if (fd >= 0) {
		list_missing(fd, missing, sizeof missing);
		close(fd);
	}
	log_info("iptables-extensions: k3s-init in front of iptables, ip6tables and their -restore (" FRONT_DIR
		 "): the kernel has no comment match, so comments are taken out; rules needing %s are left out",
		 missing[0] ? missing : "other missing extensions");
	return 0;
}

const struct step step_iptables_extensions = {
	.name = "iptables-extensions",
	.roles = ROLES_AGENT,
	.required = 0,
	.privileged = false,
	.needed = iptables_extensions_needed,
	.apply = iptables_extensions_apply,
};
