/* The links, addresses and routes of a routed veth pair, through rtnetlink
 * requests that both Linux and gVisor's netstack accept. Each call acts in
 * the calling thread's network namespace, with a socket opened there. */
#ifndef K3S_INIT_CNI_LINK_H
#define K3S_INIT_CNI_LINK_H

#include <netinet/in.h>

/* A veth pair HOST and PEER in this namespace, PEER then moved into the
 * namespace NETNS_FD (IFLA_NET_NS_FD: netstack has no IFLA_NET_NS_PID).
 * 0 or -1 with errno. */
int cni_link_veth_create(const char *host, const char *peer, int netns_fd, unsigned mtu);
/* Rename link NAME to NEW_NAME (it must be down), then bring it up. */
int cni_link_rename_up(const char *name, const char *new_name);
int cni_link_up(const char *name);
/* Delete link NAME; 0 also when there is none (errno ENODEV then). */
int cni_link_delete(const char *name);
/* ADDR/PREFIX on link NAME; an address already there is not an error. */
int cni_link_addr_add(const char *name, struct in_addr addr, unsigned prefix);
/* DST/PREFIX through link NAME: via GW when gw is non-NULL, else on the link
 * (scope link). No RTA_PREFSRC: netstack refuses it. An existing equal
 * route is not an error. */
int cni_link_route_add(const char *name, struct in_addr dst, unsigned prefix, const struct in_addr *gw);

#endif
