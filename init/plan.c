#include "plan.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"
#include "repair.h"

#define STEP(n) &step_##n,
const struct step *const steps[] = {
#include "steps.def"
};
#undef STEP
const size_t step_count = sizeof steps / sizeof steps[0];

_Static_assert(sizeof steps / sizeof steps[0] <= MAX_STEPS, "raise MAX_STEPS in cli.h");

void step_env_name(const struct step *s, char *out, size_t len)
{
	size_t i = 0;
	for (; s->name[i] && i + 1 < len; i++)
		out[i] = s->name[i] == '-' ? '_' : (char)toupper((unsigned char)s->name[i]);
	out[i] = '\0';
}

void plan_init(struct plan *plan, bool args_allowed)
{
	memset(plan, 0, sizeof *plan);
	plan->args_allowed = args_allowed;
}

enum decision plan_decide(size_t index, const struct ctx *c, char *why, size_t why_len)
{
	const struct step *s = steps[index];
	why[0] = '\0';
	switch (c->cli->modes[index]) {
	case MODE_OFF: {
		char var[64];
		step_env_name(s, var, sizeof var);
		snprintf(why, why_len, "turned off (K3S_INIT_%s=off)", var);
		return DECIDE_SKIP_OFF;
	}
	case MODE_ON: {
		char found[PLAN_WHY];
		bool needed = s->needed(c, found, sizeof found);
		snprintf(why, why_len, "forced on (%s%s)", needed ? "" : "detection: not needed: ", found);
		return DECIDE_RUN;
	}
	case MODE_AUTO:
		break;
	}
	if ((s->roles & ROLE_BIT(c->cli->role)) == 0) {
		snprintf(why, why_len, "not for role %s", role_name(c->cli->role));
		return DECIDE_SKIP_ROLE;
	}
	return s->needed(c, why, why_len) ? DECIDE_RUN : DECIDE_NOT_NEEDED;
}

bool plan_required(size_t index, const struct ctx *c)
{
	return (steps[index]->required & ROLE_BIT(c->cli->role)) != 0;
}

const char *decision_name(enum decision d)
{
	switch (d) {
	case DECIDE_SKIP_ROLE: return "skip";
	case DECIDE_SKIP_OFF: return "off";
	case DECIDE_NOT_NEEDED: return "ok";
	case DECIDE_RUN: return "repair";
	}
	return "?";
}

int plan_setenv(struct plan *plan, const char *name, const char *value)
{
	(void)plan;
	if (setenv(name, value, 1) != 0) {
		log_error("setenv %s: %s", name, strerror(errno));
		return -1;
	}
	log_debug("environment: %s=%s", name, value);
	return 0;
}

int plan_prepend_path(struct plan *plan, const char *dir)
{
	const char *old = getenv("PATH");
	if (old == NULL || *old == '\0')
		old = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	size_t dl = strlen(dir);
	if (strncmp(old, dir, dl) == 0 && (old[dl] == ':' || old[dl] == '\0'))
		return 0;
	size_t len = dl + 1 + strlen(old) + 1;
	char *path = malloc(len);
	if (path == NULL) {
		log_error("out of memory");
		return -1;
	}
	snprintf(path, len, "%s:%s", dir, old);
	int rc = plan_setenv(plan, "PATH", path);
	free(path);
	return rc;
}

int plan_link_names_first(struct plan *plan, const char *step, const char *dir, const char *const *names,
			  const char *target)
{
	if (mkdir_p(dir, 0755) != 0) {
		log_error("%s: mkdir %s: %s", step, dir, strerror(errno));
		return -1;
	}
	for (int i = 0; names[i]; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (symlink_replace(path, target) != 0) {
			log_error("%s: link %s -> %s: %s", step, path, target, strerror(errno));
			return -1;
		}
	}
	return plan_prepend_path(plan, dir);
}

int plan_add_k3s_arg(struct plan *plan, const char *arg)
{
	if (!plan->args_allowed) {
		log_info("not adding %s: the target is not k3s server or agent", arg);
		return 0;
	}
	for (size_t i = 0; i < plan->nargs; i++)
		if (strcmp(plan->args[i], arg) == 0)
			return 0;
	if (plan->nargs >= PLAN_MAX_ARGS) {
		log_error("too many extra k3s arguments (max %d)", PLAN_MAX_ARGS);
		return -1;
	}
	plan->args[plan->nargs] = strdup(arg);
	if (plan->args[plan->nargs] == NULL) {
		log_error("out of memory");
		return -1;
	}
	plan->nargs++;
	return 0;
}

void plan_free(struct plan *plan)
{
	for (size_t i = 0; i < plan->nargs; i++)
		free(plan->args[i]);
	plan->nargs = 0;
}
