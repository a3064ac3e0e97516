/*
 * Which iptables matches and targets the kernel has, asked the way iptables
 * itself asks before it loads a rule: getsockopt IPT_SO_GET_REVISION_MATCH /
 * _TARGET (IP6T_ for IPv6) on a raw socket. Used by doctor (probe_limits.c),
 * the iptables-extensions step and the iptables front (iptables_front.c);
 * the probe's legacy check opens its raw socket here too.
 */
#ifndef K3S_INIT_XT_REVISION_H
#define K3S_INIT_XT_REVISION_H

#include <stdbool.h>

/* A raw socket of family AF_INET or AF_INET6 to ask on: a descriptor, or -1
 * with errno (gVisor has raw sockets only with runsc --net-raw). A refusal
 * is asked once per process: later calls give the same errno at once. */
int xt_socket(int family);
/* 0 when the kernel has the match (or, with target, the target) NAME, ENOENT
 * when it has none by that name, or the errno that kept it from answering. */
int xt_has(int fd, int family, bool target, const char *name);

#endif
