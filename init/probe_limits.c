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
 * iptables: legacy iptables, the only kind gVisor has, is asked for each
 * match and target revision the way iptables itself asks (getsockopt
 * IPT_SO_GET_REVISION_MATCH / _TARGET on a raw socket): ENOENT means the
 * kernel has none by that name (Linux net/netfilter/x_tables.c
 * xt_find_revision; gVisor netfilter.go MatchRevision alike). gVisor registers tcp, udp, owner, multiport
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

/* uapi linux/netfilter_ipv4/ip_tables.h and linux/netfilter/x_tables.h (not
 * included: they drag in linux/if.h, see probe_net.c). */
#define K3S_IPT_SO_GET_REVISION_MATCH 66
#define K3S_IPT_SO_GET_REVISION_TARGET 67
struct k3s_xt_get_revision {
	char name[29];
	unsigned char revision;
};

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
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0) {
		l->raw_err = errno;
		return;
	}
	l->tried_xt = true;
	for (int i = 0; i < LIMITS_XT; i++) {
		struct k3s_xt_get_revision rev;
		memset(&rev, 0, sizeof rev);
		snprintf(rev.name, sizeof rev.name, "%s", l->xt[i].name);
		socklen_t len = sizeof rev;
		int opt = l->xt[i].target ? K3S_IPT_SO_GET_REVISION_TARGET : K3S_IPT_SO_GET_REVISION_MATCH;
		/* EPROTONOSUPPORT: the name exists, revision 0 does not (Linux
		 * has conntrack 1-3 and mark 1 only): present all the same. */
		if (getsockopt(fd, IPPROTO_IP, opt, &rev, &len) == 0 || errno == EPROTONOSUPPORT)
			continue;
		l->xt[i].err = errno;
		if (errno != ENOENT && l->xt_err == 0)
			l->xt_err = errno;
	}
	close(fd);
}

/* A nested attribute as iproute2 sends it, without NLA_F_NESTED: gVisor's
 * netlink parser does not mask the flag and takes IFLA_LINKINFO|NESTED for
 * an unknown attribute (EOPNOTSUPP). */
static struct nlattr *nest_start(struct nlmsghdr *nlh, uint16_t type)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);
	nest->nla_type = type;
	return nest;
}

/* RTM_NEWLINK for one kind, named k3si0 (veth: peer k3si1). 0 or errno. */
static int try_link(struct mnl_socket *nl, const char *kind)
{
	char buf[4096];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "k3si0");
	struct nlattr *info = nest_start(nlh, IFLA_LINKINFO);
	/* Without the NUL, as iproute2 sends it: gVisor compares the kind with
	 * its terminator and answers EOPNOTSUPP for "bridge\0". */
	mnl_attr_put_str(nlh, IFLA_INFO_KIND, kind);
	if (strcmp(kind, "vxlan") == 0) {
		struct nlattr *data = nest_start(nlh, IFLA_INFO_DATA);
		mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, 1);
		mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(8472)); /* flannel's port */
		mnl_attr_nest_end(nlh, data);
	} else if (strcmp(kind, "veth") == 0) {
		struct nlattr *data = nest_start(nlh, IFLA_INFO_DATA);
		struct nlattr *peer = nest_start(nlh, VETH_INFO_PEER);
		struct ifinfomsg *pi = mnl_nlmsg_put_extra_header(nlh, sizeof *pi);
		pi->ifi_family = AF_UNSPEC;
		mnl_attr_put_strz(nlh, IFLA_IFNAME, "k3si1");
		mnl_attr_nest_end(nlh, peer);
		mnl_attr_nest_end(nlh, data);
	}
	mnl_attr_nest_end(nlh, info);
	if (nl_transact(nl, nlh) == 0)
		return 0;
	return errno;
}

/* In the child: a new network namespace, each kind tried, results written
 * as ints to fd (the first one: 0, or why no kind could be tried). */
__attribute__((noreturn)) static void links_child(int fd)
{
	int results[1 + LIMITS_LINKS] = { 0 };
	static const char *const kinds[LIMITS_LINKS] = { "vxlan", "bridge", "veth" };
	struct mnl_socket *nl = NULL;
	if (unshare(CLONE_NEWNET) != 0 || (nl = nl_open(NETLINK_ROUTE)) == NULL) {
		results[0] = errno ? errno : EIO;
	} else {
		for (int i = 0; i < LIMITS_LINKS; i++) {
			results[1 + i] = try_link(nl, kinds[i]);
			if (results[1 + i] == 0) {
				/* Gone with the namespace anyway; freed at once for the next kind's name. */
				char buf[512];
				struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
				nlh->nlmsg_type = RTM_DELLINK;
				struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
				ifi->ifi_family = AF_UNSPEC;
				mnl_attr_put_strz(nlh, IFLA_IFNAME, "k3si0");
				nl_transact(nl, nlh);
			}
		}
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
	int results[1 + LIMITS_LINKS];
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
		l->links[i].err = results[1 + i];
}

void probe_limits(struct probe_limits *l)
{
	memset(l, 0, sizeof *l);
	probe_links(l);
	probe_xt(l);
}
