/* iptables, iptables-restore, ip6tables and ip6tables-restore, in front of
 * the real ones (see iptables_front.c). */
#ifndef K3S_INIT_IPTABLES_FRONT_H
#define K3S_INIT_IPTABLES_FRONT_H

#include <stdbool.h>

/* The names it answers to, NULL-terminated. */
extern const char *const iptables_front_names[];
/* Whether argv[0]'s base name is one this front answers to. */
bool iptables_front_name(const char *name);
int iptables_front_main(int argc, char **argv);

#endif
