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
 *         .validate = name_validate, // optional: parse the step's own settings
 *         .variables = name_variables,// optional: their names, after K3S_INIT_
 *     };
 *
 * plus one line STEP(name) in steps.def. That is all: the K3S_INIT_<NAME>
 * variable, its validation, doctor's report and the logging come from the
 * table. A step may add environment variables (plan_setenv, plan_prepend_path)
 * and extra k3s arguments (plan_add_k3s_arg) to the plan; arguments are only
 * passed when the target is `k3s server` or `k3s agent`.
 *
 * A step that reads settings of its own lists their exact names in .variables
 * (cli.c then accepts them and nothing else) and parses them in .validate,
 * which cli_parse calls for every step before anything is changed: a bad value
 * there is exit 64 with nothing touched. The parsed values live in struct cli,
 * so .needed and .apply read them, never the environment again.
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
	/* Optional. Parse and validate the step's own settings into cli; 0, or
	 * -1 after logging the variable that is wrong (-> exit 64 before
	 * anything changes). */
	int (*validate)(struct cli *cli);
	/* Optional, NULL-terminated: the step's own variables, without the
	 * K3S_INIT_ prefix ("TOKEN_DIR"). */
	const char *const *variables;
};

#define STEP(n) extern const struct step step_##n;
#include "steps.def"
#undef STEP

/* The table, in order (plan.c). */
extern const struct step *const steps[];
extern const size_t step_count;
/* The step's switch variable without K3S_INIT_: "host-local" -> "HOST_LOCAL". */
void step_env_name(const struct step *s, char *out, size_t len);

/* Directory the init creates for the files it provides (host-local, iptables links). */
#define K3S_INIT_RUN_DIR "/run/k3s-init"
#define K3S_INIT_BIN_DIR K3S_INIT_RUN_DIR "/bin"

#endif
