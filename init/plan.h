/*
 * The plan: for each step of the table, whether it runs and why; plus what the
 * steps add for the target (environment variables, extra k3s arguments).
 */
#ifndef K3S_INIT_PLAN_H
#define K3S_INIT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PLAN_MAX_ARGS 16
#define PLAN_WHY 256

struct ctx;

enum decision { DECIDE_SKIP_ROLE, DECIDE_SKIP_OFF, DECIDE_NOT_NEEDED, DECIDE_RUN };

struct plan {
	char *args[PLAN_MAX_ARGS];     /* extra k3s arguments, inserted after the subcommand */
	size_t nargs;
	bool args_allowed;             /* target is `k3s server` or `k3s agent` */
	pid_t watcher;                 /* the kubeconfig watcher, stopped if the exec fails; 0: none */
};

/* Decide step `index` of the table (read only). `why` receives the reason. */
enum decision plan_decide(size_t index, const struct ctx *c, char *why, size_t why_len);
/* Whether the step's failure stops this role (exit 71). */
bool plan_required(size_t index, const struct ctx *c);
void plan_init(struct plan *plan, bool args_allowed);
const char *decision_name(enum decision d);

/* Set a variable for the target (and for this process). 0 or -1 after logging. */
int plan_setenv(struct plan *plan, const char *name, const char *value);
/* Put dir first on PATH unless it is already there. */
int plan_prepend_path(struct plan *plan, const char *dir);
/* Make dir (mkdir -p) with each of names (NULL-terminated) in it a symlink
 * to target, then put dir first on PATH. 0, or -1 after logging, prefixed
 * with step, what failed. */
int plan_link_names_first(struct plan *plan, const char *step, const char *dir, const char *const *names,
			  const char *target);
/* Add an extra k3s argument (copied). Ignored, with a log line, for other targets. */
int plan_add_k3s_arg(struct plan *plan, const char *arg);
void plan_free(struct plan *plan);

#endif
