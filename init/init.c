#include "init.h"

#include <stdio.h>

/* Placeholder until the probe/plan/apply core lands. */
int init_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "k3s-init: not implemented yet\n");
	return 70;
}
