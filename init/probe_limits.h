/*
 * What the k3s agent's networking needs from the kernel that no repair can
 * give: link types for flannel and the bridge CNI plugin, and the iptables
 * matches and targets kube-proxy and flannel write rules with. doctor asks
 * for it (agent roles only); the start path does not pay for it.
 * Nothing is changed: doctor's links are tried in a throwaway network
 * namespace, the start's hairpin trial deletes its links, and iptables is
 * only asked which match and target revisions it has.
 */
#ifndef K3S_INIT_PROBE_LIMITS_H
#define K3S_INIT_PROBE_LIMITS_H

#include <stdbool.h>

#define LIMITS_LINKS 3
#define LIMITS_XT 13

struct limits_link {
	const char *kind; /* vxlan, bridge, veth */
	int err;          /* 0: it can be created */
};

struct limits_xt {
	const char *name;
	bool target;      /* an iptables target (else a match) */
	const char *user; /* who needs it */
	int err;          /* 0: present; ENOENT: missing */
};

struct probe_limits {
	bool tried_links;
	int links_err;    /* why links could not be tried at all, or 0 */
	struct limits_link links[LIMITS_LINKS];
	/* On a bridge with a veth port, as the CNI plugins do it: 0 works, an
	 * errno, or -1 not tried because setting up failed with podnet_setup_err. */
	int hairpin_err;      /* the bridge plugin: the port's hairpin mode */
	int prefsrc_err;      /* the ptp plugin: a route with a preferred source */
	int podnet_setup_err;
	bool tried_xt;
	int raw_err;      /* socket(AF_INET, SOCK_RAW) failed with this, or 0 */
	int xt_err;       /* asking for revisions failed with this (not ENOENT), or 0 */
	struct limits_xt xt[LIMITS_XT];
};

void probe_limits(struct probe_limits *l);
/* Only the bridge plugin's hairpin setting, for the init's start, in this
 * process's network namespace: one request for a link that does not exist,
 * and only where that is not refused outright, a bridge and a veth port,
 * deleted after (six requests). The hairpin result: 0 or errno; -1 when the
 * trial could not be set up (*setup_err says why; *no_setns when it is
 * setns(CLONE_NEWNET) that is refused). */
int probe_bridge_hairpin(int *setup_err, bool *no_setns);

#endif
