/*
 * iptables backend. kube-proxy and flannel run iptables; the official image's
 * wrapper (k3s-root iptables-detect.sh) guesses the mode from existing rules
 * and, with none, from the OS, which picks nft on a host with no rules; that
 * fails in gVisor (no NETLINK_NETFILTER) and on kernels without nf_tables,
 * while legacy fails on kernels built without it (default since Linux 6.17).
 * So the mode comes from what the kernel answered in the probe: exported as
 * IPTABLES_MODE (the wrapper honours it and skips detection) and, where there
 * is no wrapper, the six names are linked to xtables-<mode>-multi in a
 * directory first on PATH.
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

static const char *const names[] = {
	"iptables", "iptables-save", "iptables-restore",
	"ip6tables", "ip6tables-save", "ip6tables-restore", NULL,
};

/* The mode the kernel supports, or NULL; `why` says how it was chosen. */
static const char *choose(const struct probe *p, char *why, size_t len)
{
	if (p->legacy_in_use) {
		snprintf(why, len, "legacy tables already loaded (/proc/net/ip_tables_names)");
		return "legacy";
	}
	if (p->nft == TRI_YES) {
		snprintf(why, len, "nf_tables answers over netlink");
		return "nft";
	}
	if (p->legacy == TRI_YES) {
		snprintf(why, len, "nf_tables unusable (%s), legacy iptables answers", strerror(p->nft_errno));
		return "legacy";
	}
	if (p->nft_errno == EPROTONOSUPPORT) {
		/* gVisor: no nf_tables at all; legacy works there with --net-raw. */
		snprintf(why, len, "nf_tables unsupported (%s), legacy is the only candidate (legacy probe: %s)",
			 strerror(p->nft_errno), p->legacy_errno ? strerror(p->legacy_errno) : "unknown");
		return "legacy";
	}
	snprintf(why, len, "neither nf_tables (%s) nor legacy iptables (%s) is usable", strerror(p->nft_errno),
		 p->legacy_errno ? strerror(p->legacy_errno) : "unknown");
	return NULL;
}

static bool iptables_needed(const struct ctx *c, char *why, size_t len)
{
	const char *preset = getenv("IPTABLES_MODE");
	if (preset && *preset) {
		snprintf(why, len, "IPTABLES_MODE=%s already set", preset);
		return false;
	}
	char how[200];
	const char *mode = choose(c->probe, how, sizeof how);
	if (mode)
		snprintf(why, len, "mode %s: %s", mode, how);
	else
		snprintf(why, len, "%s", how);
	return mode != NULL;
}

static int iptables_apply(struct ctx *c)
{
	const char *preset = getenv("IPTABLES_MODE");
	if (preset && *preset) {
		log_info("iptables: IPTABLES_MODE=%s already set, left as is", preset);
		return 0;
	}
	char how[200];
	const char *mode = choose(c->probe, how, sizeof how);
	if (mode == NULL) {
		log_warn("iptables: %s; kube-proxy will fail", how);
		return -1;
	}
	if (plan_setenv(c->plan, "IPTABLES_MODE", mode) != 0)
		return -1;
	if (c->probe->iptables_wrapper) {
		log_info("iptables: IPTABLES_MODE=%s for /bin/aux/iptables-detect.sh (%s)", mode, how);
		return 0;
	}
	char multi[64], found[PATH_MAX];
	snprintf(multi, sizeof multi, "xtables-%s-multi", mode);
	if (path_lookup(multi, getenv("PATH"), found, sizeof found) != 0) {
		log_info("iptables: IPTABLES_MODE=%s (%s); no %s on PATH, iptables names left alone", mode, how,
			 multi);
		return 0;
	}
	if (plan_link_names_first(c->plan, "iptables", K3S_INIT_BIN_DIR, names, found) != 0)
		return -1;
	log_info("iptables: IPTABLES_MODE=%s (%s); iptables, ip6tables and their -save/-restore -> %s in "
		 K3S_INIT_BIN_DIR, mode, how, found);
	return 0;
}

const struct step step_iptables = {
	.name = "iptables",
	.roles = ROLES_AGENT,
	.required = 0,
	.privileged = false,
	.needed = iptables_needed,
	.apply = iptables_apply,
};
