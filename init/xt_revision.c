/*
 * Asking the kernel for an iptables extension (see xt_revision.h). ENOENT
 * means no extension by that name (Linux net/netfilter/x_tables.c
 * xt_find_revision; gVisor pkg/sentry/socket/netfilter/netfilter.go
 * MatchRevision and TargetRevision alike). EPROTONOSUPPORT means the name
 * exists but revision 0 does not (Linux has conntrack 1-3 and mark 1 only):
 * present all the same.
 */
#include "xt_revision.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* uapi linux/netfilter_ipv4/ip_tables.h, linux/netfilter_ipv6/ip6_tables.h
 * and linux/netfilter/x_tables.h (not included: they drag in linux/if.h,
 * which clashes with net/if.h, see probe_net.c). */
#define K3S_IPT_SO_GET_REVISION_MATCH 66
#define K3S_IPT_SO_GET_REVISION_TARGET 67
#define K3S_IP6T_SO_GET_REVISION_MATCH 68
#define K3S_IP6T_SO_GET_REVISION_TARGET 69
struct k3s_xt_get_revision {
	char name[29]; /* XT_EXTENSION_MAXNAMELEN */
	unsigned char revision;
};

int xt_socket(int family)
{
	/* A refusal does not change while the process runs (no capability, or
	 * gVisor without --net-raw): it is remembered, so that the probe, the
	 * iptables-extensions step and doctor ask the kernel once between them,
	 * each asking a round trip into gVisor's sentry. */
	static int refused[2];
	int *memo = &refused[family == AF_INET6];
	if (*memo != 0) {
		errno = *memo;
		return -1;
	}
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0 && (errno == EPERM || errno == EACCES || errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT ||
		       errno == ESOCKTNOSUPPORT))
		*memo = errno;
	return fd;
}

int xt_has(int fd, int family, bool target, const char *name)
{
	struct k3s_xt_get_revision rev;
	memset(&rev, 0, sizeof rev);
	if (snprintf(rev.name, sizeof rev.name, "%s", name) >= (int)sizeof rev.name)
		return ENOENT; /* longer than any extension name can be */
	socklen_t len = sizeof rev;
	int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int opt = family == AF_INET6 ? (target ? K3S_IP6T_SO_GET_REVISION_TARGET : K3S_IP6T_SO_GET_REVISION_MATCH)
				     : (target ? K3S_IPT_SO_GET_REVISION_TARGET : K3S_IPT_SO_GET_REVISION_MATCH);
	if (getsockopt(fd, level, opt, &rev, &len) == 0 || errno == EPROTONOSUPPORT)
		return 0;
	return errno;
}
