/*
 * The shape every repair step has, and the context they share.
 *
 * A step is one file (repair_<name>.c, or k3s_flags.c for the extra k3s
 * flags) defining
 *
 *     const struct step step_<name> = {
 *         .name = "name",         // K3S_INIT_<NAME>=auto|on|off (upper case, '-' -> '_')
 *         .roles = ROLES_AGENT,   // roles for which auto applies it
 *         .required = ROLES_AGENT,// roles that cannot start if it fails (exit 71)
 *         .privileged = true,     // needs CAP_SYS_ADMIN (doctor checks)
 *         .needed = name_needed,  // read only: is it needed? says why in `why`
 *         .apply = name_apply,    // do it (idempotent); 0, or -1 after logging
 *         .validate = name_validate, // optional: check the step's own settings
 *     };
 *
 * plus one line STEP(name) in steps.def. That is all: the K3S_INIT_<NAME>
 * variable, its validation, doctor's report and the logging come from the
 * table. A step may add environment variables (plan_setenv, plan_prepend_path)
 * and extra k3s arguments (plan_add_k3s_arg) to the plan; arguments are only
 * passed when the target is `k3s server` or `k3s agent`.
 *
 * A step that reads settings of its own (K3S_INIT_TOKEN_*, K3S_INIT_KUBECONFIG_*
 * are reserved for such steps and not checked by cli.c) validates them in
 * .validate, which cli_parse calls for every step before anything is changed:
 * a bad value there is exit 64 with nothing touched.
 */
#ifndef K3S_INIT_REPAIR_H
#define K3S_INIT_REPAIR_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "plan.h"
#include "probe.h"

struct ctx {
	struct probe *probe;      /* repairs update it with what they changed */
	const struct cli *cli;    /* arguments and K3S_INIT_* settings, validated */
	struct plan *plan;        /* environment and k3s arguments to add */
	enum mode mode;           /* this step's K3S_INIT_<NAME> */
};

struct step {
	const char *name;
	unsigned roles;
	unsigned required;
	bool privileged;
	/* Read only. Returns true when the step should run; `why` says what was found. */
	bool (*needed)(const struct ctx *c, char *why, size_t why_len);
	/* Idempotent. Logs one line saying what it did. 0, or -1 after logging why. */
	int (*apply)(struct ctx *c);
	/* Optional. Validate the step's own settings; 0, or -1 after logging the
	 * variable that is wrong (-> exit 64 before anything changes). */
	int (*validate)(void);
};

#define STEP(n) extern const struct step step_##n;
#include "steps.def"
#undef STEP

/* The table, in order (plan.c). */
extern const struct step *const steps[];
extern const size_t step_count;

/* Directory the init creates for the files it provides (host-local, iptables links). */
#define K3S_INIT_RUN_DIR "/run/k3s-init"
#define K3S_INIT_BIN_DIR K3S_INIT_RUN_DIR "/bin"

#endif
