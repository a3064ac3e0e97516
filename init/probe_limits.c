/*
 * The agent's kernel networking needs (see probe_limits.h).
 *
 * Links: flannel's default backend makes a vxlan device; the bridge CNI
 * plugin a bridge (cni0) and a veth pair per pod. gVisor's netstack creates
 * only bridge and veth (pkg/sentry/socket/netstack/stack.go, newInterface:
 * any other IFLA_INFO_KIND is ErrNotSupported). Each kind is created for
 * real, in a network namespace of a forked child that then exits, so the
 * devices go with it.
 *
 * Pod network: what the CNI plugins then do with those devices, on a bridge
 * and a veth pair made for the purpose. The bridge plugin (flannel's
 * delegate) sets each port's hairpin mode, also to turn it off
 * (containernetworking/plugins bridge.go, netlink.LinkSetHairpin:
 * RTM_SETLINK of family AF_BRIDGE with IFLA_PROTINFO/IFLA_BRPORT_MODE); the
 * ptp plugin adds a host route with a preferred source (RTA_PREFSRC). gVisor's
 * netstack answers both with EOPNOTSUPP (real kubelet and containerd there:
 * "failed to setup hairpin mode for veth...: operation not supported";
 * pkg/sentry/socket/netstack/stack.go localRoute knows no RTA_PREFSRC).
 *
 * iptables: legacy iptables, the only kind gVisor has, is asked for each
 * match and target the way iptables itself asks (xt_revision.c). gVisor
 * registers tcp, udp, owner, multiport
 * and mark matches only, and no MASQUERADE or MARK target
 * (pkg/sentry/socket/netfilter); its raw sockets exist only with runsc
 * --net-raw.
 */
#include "probe_limits.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "netlink.h"
#include "xt_revision.h"

static const struct limits_xt xt_wanted[LIMITS_XT] = {
	{ "comment", false, "kube-proxy, flannel", 0 },
	{ "conntrack", false, "kube-proxy", 0 },
	{ "statistic", false, "kube-proxy (Services with several endpoints)", 0 },
	{ "addrtype", false, "kube-proxy (NodePorts)", 0 },
	{ "mark", false, "kube-proxy", 0 },
	{ "set", false, "the network policy controller (ipset)", 0 },
	{ "tcp", false, "everyone", 0 },
	{ "udp", false, "everyone", 0 },
	{ "MASQUERADE", true, "flannel, kube-proxy", 0 },
	{ "MARK", true, "kube-proxy", 0 },
	{ "DNAT", true, "kube-proxy", 0 },
	{ "SNAT", true, "kube-proxy", 0 },
	{ "REJECT", true, "kube-proxy (Services without endpoints)", 0 },
};

static void probe_xt(struct probe_limits *l)
{
	memcpy(l->xt, xt_wanted, sizeof l->xt);
	int fd = xt_socket(AF_INET);
	if (fd < 0) {
		l->raw_err = errno;
		return;
	}
	l->tried_xt = true;
	for (int i = 0; i < LIMITS_XT; i++) {
		l->xt[i].err = xt_has(fd, AF_INET, l->xt[i].target, l->xt[i].name);
		if (l->xt[i].err != 0 && l->xt[i].err != ENOENT && l->xt_err == 0)
			l->xt_err = l->xt[i].err;
	}
	close(fd);
}

/* RTM_NEWLINK for one kind, named NAME (veth: peer NAME with 1 for its last
 * character). 0 or errno. */
static int try_link(struct mnl_socket *nl, const char *kind, const char *name)
{
	char buf[4096];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	struct nlattr *info = nl_nest_start(nlh, IFLA_LINKINFO);
	/* Without the NUL, as iproute2 sends it: gVisor compares the kind with
	 * its terminator and answers EOPNOTSUPP for "bridge\0". */
	mnl_attr_put_str(nlh, IFLA_INFO_KIND, kind);
	if (strcmp(kind, "vxlan") == 0) {
		struct nlattr *data = nl_nest_start(nlh, IFLA_INFO_DATA);
		mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, 1);
		mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(8472)); /* flannel's port */
		mnl_attr_nest_end(nlh, data);
	} else if (strcmp(kind, "veth") == 0) {
		struct nlattr *data = nl_nest_start(nlh, IFLA_INFO_DATA);
		struct nlattr *peer = nl_nest_start(nlh, VETH_INFO_PEER);
		struct ifinfomsg *pi = mnl_nlmsg_put_extra_header(nlh, sizeof *pi);
		pi->ifi_family = AF_UNSPEC;
		char peer_name[IFNAMSIZ];
		snprintf(peer_name, sizeof peer_name, "%.*s1", (int)strlen(name) - 1, name);
		mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
		mnl_attr_nest_end(nlh, peer);
		mnl_attr_nest_end(nlh, data);
	}
	mnl_attr_nest_end(nlh, info);
	if (nl_transact(nl, nlh) == 0)
		return 0;
	return errno;
}

/* RTM_SETLINK on link INDEX: master (IFLA_MASTER), up (IFF_UP), or, with
 * family AF_BRIDGE, the bridge port's hairpin mode off. 0 or errno. */
enum link_change { LINK_MASTER, LINK_UP, LINK_HAIRPIN_OFF };
static int set_link(struct mnl_socket *nl, unsigned index, enum link_change change, unsigned master)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_SETLINK;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = change == LINK_HAIRPIN_OFF ? AF_BRIDGE : AF_UNSPEC;
	ifi->ifi_index = (int)index;
	if (change == LINK_MASTER) {
		mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	} else if (change == LINK_UP) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	} else {
		/* As the plugin's netlink library sends it: nested, flag set. */
		struct nlattr *protinfo = mnl_attr_nest_start(nlh, IFLA_PROTINFO);
		mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 0);
		mnl_attr_nest_end(nlh, protinfo);
	}
	return nl_transact(nl, nlh) == 0 ? 0 : errno;
}

/* Delete the link NAME (a veth takes its peer along). 0 or errno. */
static int del_link(struct mnl_socket *nl, const char *name)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nl_transact(nl, nlh) == 0 ? 0 : errno;
}

/* ptp's host route: 10.255.255.2/32 dev INDEX scope link src 10.255.255.1,
 * after that address is put on the (up) link. 0 or errno. */
static int try_prefsrc_route(struct mnl_socket *nl, unsigned index)
{
	char buf[512];
	struct in_addr src, dst;
	inet_pton(AF_INET, "10.255.255.1", &src);
	inet_pton(AF_INET, "10.255.255.2", &dst);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 32;
	ifa->ifa_index = index;
	mnl_attr_put(nlh, IFA_LOCAL, sizeof src, &src);
	mnl_attr_put(nlh, IFA_ADDRESS, sizeof src, &src);
	if (nl_transact(nl, nlh) != 0)
		return errno;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof *rt);
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = 32;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_LINK;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, sizeof dst, &dst);
	mnl_attr_put_u32(nlh, RTA_OIF, index);
	mnl_attr_put(nlh, RTA_PREFSRC, sizeof src, &src);
	return nl_transact(nl, nlh) == 0 ? 0 : errno;
}

/* A bridge k3sb0 with the veth k3sp0 (peer k3sp1) as its port, then the
 * port's hairpin mode: 0 or errno, or -1 when a step before it failed (then
 * *setup_err says which errno). *port is the port's index. */
static int try_hairpin(struct mnl_socket *nl, int *setup_err, unsigned *port)
{
	*setup_err = try_link(nl, "bridge", "k3sb0");
	if (*setup_err == 0)
		*setup_err = try_link(nl, "veth", "k3sp0");
	errno = 0;
	unsigned bridge = if_nametoindex("k3sb0");
	*port = if_nametoindex("k3sp0");
	if (*setup_err == 0 && (bridge == 0 || *port == 0))
		*setup_err = errno ? errno : ENODEV;
	if (*setup_err == 0)
		*setup_err = set_link(nl, *port, LINK_MASTER, bridge);
	return *setup_err == 0 ? set_link(nl, *port, LINK_HAIRPIN_OFF, 0) : -1;
}

/* The hairpin mode, then the port up and ptp's route on it. Each result is
 * 0, an errno, or -1 when a step before it failed (then *setup_err says
 * which errno). */
static void try_pod_network(struct mnl_socket *nl, int *hairpin, int *prefsrc, int *setup_err)
{
	unsigned port;
	*prefsrc = -1;
	*hairpin = try_hairpin(nl, setup_err, &port);
	if (*setup_err == 0)
		*setup_err = set_link(nl, port, LINK_UP, 0);
	if (*setup_err == 0)
		*prefsrc = try_prefsrc_route(nl, port);
}

/* The results links_child writes: why nothing was tried (or 0), one per link
 * kind, then try_pod_network's hairpin, route and setup results. */
enum { RESULT_LINKS = 1, RESULT_PODNET = RESULT_LINKS + LIMITS_LINKS, RESULT_COUNT = RESULT_PODNET + 3 };

/* In the child: a new network namespace, each kind tried, then the pod
 * network steps; results written as ints to fd (the first one: 0, or why
 * nothing could be tried). */
__attribute__((noreturn)) static void links_child(int fd)
{
	int results[RESULT_COUNT] = { 0 };
	static const char *const kinds[LIMITS_LINKS] = { "vxlan", "bridge", "veth" };
	struct mnl_socket *nl = NULL;
	if (unshare(CLONE_NEWNET) != 0 || (nl = nl_open(NETLINK_ROUTE)) == NULL) {
		results[0] = errno ? errno : EIO;
	} else {
		for (int i = 0; i < LIMITS_LINKS; i++) {
			results[RESULT_LINKS + i] = try_link(nl, kinds[i], "k3si0");
			/* Gone with the namespace anyway; freed at once for the next kind's name. */
			if (results[RESULT_LINKS + i] == 0)
				del_link(nl, "k3si0");
		}
		try_pod_network(nl, &results[RESULT_PODNET], &results[RESULT_PODNET + 1], &results[RESULT_PODNET + 2]);
		mnl_socket_close(nl);
	}
	_exit(write_all(fd, (const char *)results, sizeof results) == 0 ? 0 : 1);
}

static void probe_links(struct probe_limits *l)
{
	static const char *const kinds[LIMITS_LINKS] = { "vxlan", "bridge", "veth" };
	for (int i = 0; i < LIMITS_LINKS; i++)
		l->links[i] = (struct limits_link){ kinds[i], 0 };
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		l->links_err = errno;
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		l->links_err = errno;
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		close(p[0]);
		links_child(p[1]);
	}
	close(p[1]);
	int results[RESULT_COUNT];
	ssize_t n = read_full(p[0], (char *)results, sizeof results);
	close(p[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof results) {
		l->links_err = EIO;
		return;
	}
	l->links_err = results[0];
	if (results[0] != 0)
		return;
	l->tried_links = true;
	for (int i = 0; i < LIMITS_LINKS; i++)
		l->links[i].err = results[RESULT_LINKS + i];
	l->hairpin_err = results[RESULT_PODNET];
	l->prefsrc_err = results[RESULT_PODNET + 1];
	l->podnet_setup_err = results[RESULT_PODNET + 2];
}

/* An interface index no namespace hands out (indexes count up from 1). */
#define NO_SUCH_LINK 0x7fffffffU

/* try_hairpin on a socket of this process's network namespace, the trial
 * links deleted after it; results[0] hairpin, results[1] setup. A start
 * killed between the two leaves them behind: EEXIST then, and they are
 * deleted and tried again. */
static void hairpin_trial(int results[2])
{
	struct mnl_socket *nl = nl_open(NETLINK_ROUTE);
	if (nl == NULL) {
		results[0] = -1;
		results[1] = errno ? errno : EIO;
		return;
	}
	/* First the request alone, for a link that does not exist. Linux looks
	 * the link up first (rtnl_bridge_setlink, or rtnl_setlink without the
	 * bridge module: ENODEV). gVisor's netstack refuses IFLA_PROTINFO while
	 * parsing the attributes, before any lookup (pkg/sentry/socket/netstack
	 * stack.go SetInterface: EOPNOTSUPP): refused there, it is refused for
	 * every port, and the bridge and port need not be made at all (their
	 * creation is most of the trial's time). */
	if (set_link(nl, NO_SUCH_LINK, LINK_HAIRPIN_OFF, 0) == EOPNOTSUPP) {
		results[0] = EOPNOTSUPP;
		results[1] = 0;
		mnl_socket_close(nl);
		return;
	}
	unsigned port;
	for (int attempt = 0; attempt < 2; attempt++) {
		results[0] = try_hairpin(nl, &results[1], &port);
		int bridge_err = del_link(nl, "k3sb0"), port_err = del_link(nl, "k3sp0");
		if (results[1] != EEXIST || (bridge_err != 0 && port_err != 0))
			break;
	}
	mnl_socket_close(nl);
}

/* In this process and its own network namespace: under gVisor a fork and a
 * child's exit cost about as much as the rest of the init's start, and a
 * throwaway namespace (unshare, then setns back) a millisecond more, for a
 * new network stack. The trial bridge and port live for four requests,
 * before k3s or any CNI plugin runs. setns is asked first, into the
 * namespace the process is already in: Debian's runsc refuses it
 * (EOPNOTSUPP), and where it is refused no CNI plugin can configure a pod's
 * namespace either (they all setns into it), so there is nothing to try.
 * -1 with errno then. */
static int hairpin_here(int results[2])
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	int rc = setns(self, CLONE_NEWNET);
	int saved = errno;
	close(self);
	if (rc != 0) {
		errno = saved;
		return -1;
	}
	hairpin_trial(results);
	return 0;
}

int probe_bridge_hairpin(int *setup_err, bool *no_setns)
{
	int results[2];
	*no_setns = hairpin_here(results) != 0;
	if (*no_setns) {
		*setup_err = errno;
		return -1;
	}
	*setup_err = results[1];
	return results[1] == 0 ? results[0] : -1;
}

void probe_limits(struct probe_limits *l)
{
	memset(l, 0, sizeof *l);
	probe_links(l);
	probe_xt(l);
}
