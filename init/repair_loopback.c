/*
 * Loopback up: the API server, kubelet and the kubeconfig all talk to
 * 127.0.0.1; a fresh network namespace (unshare --net, some sandboxes) has lo
 * down. RTM_NEWLINK with IFF_UP through libmnl (gVisor accepts only IFF_UP
 * there, and answers only requests that carry NLM_F_ACK).
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "netlink.h"
#include "probe_net.h"
#include "repair.h"

static bool loopback_needed(const struct ctx *c, char *why, size_t len)
{
	switch (c->probe->lo_up) {
	case TRI_YES:
		snprintf(why, len, "lo is up");
		return false;
	case TRI_NO:
		snprintf(why, len, "lo is down");
		return true;
	case TRI_UNKNOWN:
		break;
	}
	snprintf(why, len, "lo state unknown (no interface lo?)");
	return false;
}

static int loopback_apply(struct ctx *c)
{
	if (c->probe->lo_up == TRI_YES) {
		log_info("loopback: lo already up");
		return 0;
	}
	unsigned int index = if_nametoindex("lo");
	if (index == 0) {
		log_error("loopback: no interface lo: %s", strerror(errno));
		return -1;
	}
	struct mnl_socket *nl = nl_open(NETLINK_ROUTE);
	if (nl == NULL) {
		log_error("loopback: netlink socket: %s", strerror(errno));
		return -1;
	}
	char buf[8192];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)index;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	int rc = nl_transact(nl, nlh);
	int e = errno;
	mnl_socket_close(nl);
	if (rc != 0) {
		log_error("loopback: set lo up: %s", strerror(e));
		return -1;
	}
	c->probe->lo_up = probe_loopback_up();
	log_info("loopback: set lo up");
	return 0;
}

const struct step step_loopback = {
	.name = "loopback",
	.roles = ROLES_ALL,
	.required = 0,
	.privileged = false,
	.needed = loopback_needed,
	.apply = loopback_apply,
};
