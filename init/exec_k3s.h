/* The hand-over: exec k3s (or the named program) with the plan's additions, or
 * keep the init as PID 1 in supervise mode. */
#ifndef K3S_INIT_EXEC_K3S_H
#define K3S_INIT_EXEC_K3S_H

#include "cli.h"
#include "plan.h"

/* Returns only on failure: the exit status (126, 127), or supervise's status. */
int exec_target(const struct cli *cli, const struct plan *plan);

#endif
