/* Network facts: nf_tables and legacy iptables usable? loopback up? */
#ifndef K3S_INIT_PROBE_NET_H
#define K3S_INIT_PROBE_NET_H

#include "probe.h"

void probe_netfilter(struct probe *p);
enum tri probe_loopback_up(void);

#endif
