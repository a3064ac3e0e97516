/* What a routed pod network needs of the node beyond its links: IPv4
 * forwarding, and source NAT for pod traffic that leaves the pod subnet. */
#ifndef K3S_INIT_CNI_SNAT_H
#define K3S_INIT_CNI_SNAT_H

#include <netinet/in.h>

#include "cni_error.h"

/* net.ipv4.ip_forward = 1, written only when it is not already. */
int cni_enable_forwarding(struct cni_error *err);
/* Pod traffic from SUBNET/PREFIX to anywhere else leaves with the address
 * this node's routes choose for the outside (rules added once, kept). */
int cni_snat_ensure(struct in_addr subnet, unsigned prefix, struct cni_error *err);

#endif
