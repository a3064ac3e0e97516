/* One netlink request and its acknowledgement, through libmnl. */
#ifndef K3S_INIT_NETLINK_H
#define K3S_INIT_NETLINK_H

#include <libmnl/libmnl.h>

/* Open and bind a netlink socket of `proto`, with a receive timeout so that a
 * peer that never answers cannot hang PID 1. NULL with errno on failure. */
struct mnl_socket *nl_open(int proto);
/* Send `nlh` (NLM_F_ACK is added: gVisor answers nothing without it) and read
 * replies until the acknowledgement. 0, or -1 with errno (the kernel's error). */
int nl_transact(struct mnl_socket *nl, struct nlmsghdr *nlh);

/* A nested attribute as iproute2 sends it, without NLA_F_NESTED: gVisor's
 * netlink parser does not mask the flag and takes IFLA_LINKINFO|NESTED for
 * an unknown attribute (EOPNOTSUPP). */
struct nlattr *nl_nest_start(struct nlmsghdr *nlh, uint16_t type);

#endif
