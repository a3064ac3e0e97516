#include "cni_link.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <string.h>

#include "netlink.h"

/* One request on a fresh NETLINK_ROUTE socket of this namespace. */
static int transact(struct nlmsghdr *nlh)
{
	struct mnl_socket *nl = nl_open(NETLINK_ROUTE);
	if (nl == NULL)
		return -1;
	int rc = nl_transact(nl, nlh);
	int saved = errno;
	mnl_socket_close(nl);
	errno = saved;
	return rc;
}

#define LINK_REQUEST_SIZE 512

static int link_index(const char *name, unsigned *index)
{
	*index = if_nametoindex(name);
	if (*index == 0) {
		if (errno == 0)
			errno = ENODEV;
		return -1;
	}
	return 0;
}

static struct ifinfomsg *put_link_header(struct nlmsghdr *nlh, int type, unsigned flags)
{
	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = (uint16_t)flags;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	return ifi;
}

/* An RTM_SETLINK or RTM_DELLINK for link NAME, in BUF; NULL with errno
 * (ENODEV) when there is no such link. */
static struct nlmsghdr *link_request(char buf[LINK_REQUEST_SIZE], const char *name, int type, struct ifinfomsg **ifi)
{
	unsigned index;
	if (link_index(name, &index) < 0)
		return NULL;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	*ifi = put_link_header(nlh, type, 0);
	(*ifi)->ifi_index = (int)index;
	return nlh;
}

static int move_to_netns(const char *name, int netns_fd)
{
	char buf[LINK_REQUEST_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_request(buf, name, RTM_SETLINK, &ifi);
	if (nlh == NULL)
		return -1;
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
	return transact(nlh);
}

int cni_link_veth_create(const char *host, const char *peer, int netns_fd, unsigned mtu)
{
	char buf[1024];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	put_link_header(nlh, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	struct nlattr *info = nl_nest_start(nlh, IFLA_LINKINFO);
	/* Without the NUL, as iproute2 sends it (see probe_limits.c). */
	mnl_attr_put_str(nlh, IFLA_INFO_KIND, "veth");
	struct nlattr *data = nl_nest_start(nlh, IFLA_INFO_DATA);
	struct nlattr *peer_nest = nl_nest_start(nlh, VETH_INFO_PEER);
	struct ifinfomsg *pi = mnl_nlmsg_put_extra_header(nlh, sizeof *pi);
	pi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_nest_end(nlh, peer_nest);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	if (transact(nlh) < 0)
		return -1;
	/* Moved in a second request, not with IFLA_NET_NS_FD inside the peer:
	 * netstack's newInterface reads no namespace attribute of the peer. */
	if (move_to_netns(peer, netns_fd) < 0) {
		int saved = errno;
		cni_link_delete(host);
		errno = saved;
		return -1;
	}
	return 0;
}

int cni_link_rename_up(const char *name, const char *new_name)
{
	char buf[LINK_REQUEST_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_request(buf, name, RTM_SETLINK, &ifi);
	if (nlh == NULL)
		return -1;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, new_name);
	if (transact(nlh) < 0)
		return -1;
	return cni_link_up(new_name);
}

int cni_link_up(const char *name)
{
	char buf[LINK_REQUEST_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_request(buf, name, RTM_SETLINK, &ifi);
	if (nlh == NULL)
		return -1;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return transact(nlh);
}

int cni_link_delete(const char *name)
{
	char buf[LINK_REQUEST_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_request(buf, name, RTM_DELLINK, &ifi);
	if (nlh == NULL)
		return errno == ENODEV ? 0 : -1;
	if (transact(nlh) < 0 && errno != ENODEV)
		return -1;
	return 0;
}

int cni_link_addr_add(const char *name, struct in_addr addr, unsigned prefix)
{
	unsigned index;
	if (link_index(name, &index) < 0)
		return -1;
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = index;
	mnl_attr_put(nlh, IFA_LOCAL, sizeof addr, &addr);
	mnl_attr_put(nlh, IFA_ADDRESS, sizeof addr, &addr);
	if (transact(nlh) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int cni_link_route_add(const char *name, struct in_addr dst, unsigned prefix, const struct in_addr *gw)
{
	unsigned index;
	if (link_index(name, &index) < 0)
		return -1;
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof *rt);
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = (unsigned char)prefix;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rt->rtm_type = RTN_UNICAST;
	if (prefix > 0)
		mnl_attr_put(nlh, RTA_DST, sizeof dst, &dst);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, sizeof *gw, gw);
	mnl_attr_put_u32(nlh, RTA_OIF, index);
	if (transact(nlh) < 0 && errno != EEXIST)
		return -1;
	return 0;
}
