#include "probe_net.h"

#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "netlink.h"
#include "xt_revision.h"

/*
 * nf_tables: ask for the rule-set generation (NFT_MSG_GETGEN), the cheapest
 * request nft itself starts with. gVisor has no NETLINK_NETFILTER at all
 * (socket() -> EPROTONOSUPPORT); a kernel without nf_tables answers ENOENT or
 * EOPNOTSUPP; without CAP_NET_ADMIN the answer is EPERM.
 */
static void probe_nft(struct probe *p)
{
	struct mnl_socket *nl = nl_open(NETLINK_NETFILTER);
	if (nl == NULL) {
		p->nft = TRI_NO;
		p->nft_errno = errno;
		return;
	}
	char buf[8192];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (nl_transact(nl, nlh) == 0) {
		p->nft = TRI_YES;
	} else {
		p->nft = TRI_NO;
		p->nft_errno = errno;
	}
	mnl_socket_close(nl);
}

/* uapi linux/netfilter_ipv4/ip_tables.h (not included: it drags in linux/if.h,
 * which clashes with net/if.h). */
#define K3S_IPT_SO_GET_INFO 64
struct k3s_ipt_getinfo {
	char name[32];
	unsigned int valid_hooks;
	unsigned int hook_entry[5];
	unsigned int underflow[5];
	unsigned int num_entries;
	unsigned int size;
};

/*
 * Legacy iptables: /proc/net/ip_tables_names exists once ip_tables is loaded,
 * and lists the tables in use (any line means legacy rules exist, and
 * iptables-detect.sh would pick legacy). Only when it is absent is the kernel
 * asked for the filter table as iptables-legacy does (raw socket +
 * IPT_SO_GET_INFO); that may autoload ip_tables, so it is the last resort.
 * Kernels built without legacy support (the default since Linux 6.17) answer
 * ENOPROTOOPT.
 */
static void probe_legacy(struct probe *p)
{
	char names[256];
	ssize_t n = read_small("/proc/net/ip_tables_names", names, sizeof names);
	if (n >= 0) {
		p->legacy = TRI_YES;
		p->legacy_in_use = n > 0;
		return;
	}
	int fd = xt_socket(AF_INET);
	if (fd < 0) {
		p->legacy = TRI_UNKNOWN;
		p->legacy_errno = errno;
		return;
	}
	struct k3s_ipt_getinfo info;
	memset(&info, 0, sizeof info);
	snprintf(info.name, sizeof info.name, "filter");
	socklen_t len = sizeof info;
	if (getsockopt(fd, IPPROTO_IP, K3S_IPT_SO_GET_INFO, &info, &len) == 0) {
		p->legacy = TRI_YES;
	} else {
		p->legacy_errno = errno;
		p->legacy = (errno == ENOPROTOOPT || errno == ENOENT) ? TRI_NO : TRI_UNKNOWN;
	}
	close(fd);
}

void probe_netfilter(struct probe *p)
{
	probe_nft(p);
	probe_legacy(p);
}

enum tri probe_loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return TRI_UNKNOWN;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	enum tri up = TRI_UNKNOWN;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		up = (ifr.ifr_flags & IFF_UP) ? TRI_YES : TRI_NO;
	else
		log_debug("SIOCGIFFLAGS lo: %s", strerror(errno));
	close(fd);
	return up;
}
