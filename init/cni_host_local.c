#include "cni_host_local.h"

#include <stdio.h>

/* Placeholder until the plugin lands. */
int host_local_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "host-local: not implemented yet\n");
	return 1;
}
