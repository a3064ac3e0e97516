/*
 * k3s-init: one binary, several names (multi-call by argv[0]).
 *   host-local  -> a CNI IPAM plugin compatible with containernetworking's host-local
 *   routed-veth -> a CNI main plugin: a routed veth pair per pod, no bridge
 *                  (for gVisor's netstack; see cni_routed_veth.c)
 *   runc        -> in front of the real runc: drops the sysctls the kernel
 *                  lacks from a container's spec (gVisor; see runc_front.c)
 *   iptables, iptables-restore, ip6tables, ip6tables-restore
 *               -> in front of the real ones: takes out the comment matches
 *                  and leaves out the rules needing extensions the kernel
 *                  lacks (gVisor; see iptables_front.c)
 *   anything else -> the PID-1 init: probe, repair, exec k3s (see init.c)
 * k3s only needs *a* runnable host-local on its PATH (k3s pkg/daemons/executor
 * LookPath("host-local")), so the init can offer itself under that name.
 */
#include <string.h>

#include "cni_host_local.h"
#include "cni_routed_veth.h"
#include "init.h"
#include "iptables_front.h"
#include "runc_front.h"

static const char *program_name(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	return slash ? slash + 1 : (argv0 ? argv0 : "");
}

int main(int argc, char **argv)
{
	if (strcmp(program_name(argv[0]), "host-local") == 0)
		return host_local_main(argc, argv);
	if (strcmp(program_name(argv[0]), "routed-veth") == 0)
		return routed_veth_main(argc, argv);
	if (strcmp(program_name(argv[0]), "runc") == 0)
		return runc_front_main(argc, argv);
	if (iptables_front_name(program_name(argv[0])))
		return iptables_front_main(argc, argv);
	return init_main(argc, argv);
}
