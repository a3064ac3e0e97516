/*
 * The init: parse and validate (cli.c), probe (probe.c, read only), then for
 * each step of the table (steps.def) decide and apply, then exec k3s or the
 * named program (exec_k3s.c). No other program runs: every repair is system
 * calls.
 */
#include "init.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "doctor.h"
#include "exec_k3s.h"
#include "health.h"
#include "log.h"
#include "repair.h"
#include "signals.h"

/* One step: decide, then apply where needed. 0, or EXIT_REPAIR when a step
 * the role requires failed. */
static int apply_step(struct ctx *c, size_t i)
{
	const struct step *s = steps[i];
	char why[PLAN_WHY];
	c->mode = c->cli->modes[i];
	enum decision d = plan_decide(i, c, why, sizeof why);
	if (d != DECIDE_RUN) {
		if (d == DECIDE_SKIP_ROLE)
			log_debug("%s: %s: %s", s->name, decision_name(d), why);
		else
			log_info("%s: %s: %s", s->name, decision_name(d), why);
		return 0;
	}
	log_debug("%s: needed: %s", s->name, why);
	if (s->apply(c) == 0)
		return 0;
	if (plan_required(i, c)) {
		log_error("%s: failed, and k3s %s cannot start without it", s->name, role_name(c->cli->role));
		return EXIT_REPAIR;
	}
	/* The step has logged its warning; say why that is not fatal. */
	log_debug("%s: failed; continuing (not required for role %s)", s->name, role_name(c->cli->role));
	return 0;
}

/* Each step's time goes to the debug log: where the start's time goes under
 * gVisor, where one system call costs tens of microseconds (make bench). The
 * clock is read only then: gVisor's vDSO falls back to a real system call
 * where the host's TSC is not trusted (a VM), so that two readings per step
 * cost more than some of the steps. */
static int apply_steps(struct ctx *c)
{
	bool timed = log_get_level() >= LOG_DEBUG;
	for (size_t i = 0; i < step_count; i++) {
		long long started = timed ? clock_monotonic_us() : 0;
		int rc = apply_step(c, i);
		if (timed)
			log_debug("%s: %lld us", steps[i]->name, clock_monotonic_us() - started);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int init_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "health") == 0) /* the images' HEALTHCHECK (health.c) */
		return health_main(argc - 1, argv + 1);
	struct cli cli;
	int rc = cli_parse(&cli, argc, argv);
	if (rc != 0) {
		cli_free(&cli);
		return rc;
	}
	if (cli.command == CMD_HELP || cli.command == CMD_VERSION) {
		if (cli.command == CMD_HELP)
			cli_usage();
		else
			printf("k3s-init %s\n", K3S_INIT_VERSION);
		cli_free(&cli);
		return 0;
	}
	/* Supervise mode: block signals before the repairs, so that a SIGTERM
	 * arriving while they run is kept for the child instead of killing the
	 * init (or, as PID 1, being dropped) (pid1.md). The exec path leaves the
	 * mask alone: k3s inherits it. */
	if (cli.supervise && cli.command != CMD_DOCTOR) {
		signals_record_launch();
		if (signals_block_all() != 0)
			log_warn("supervise: could not block signals before the repairs");
	}
	struct probe probe;
	bool timed = log_get_level() >= LOG_DEBUG;
	long long probe_started = timed ? clock_monotonic_us() : 0;
	probe_run(&probe, &cli);
	if (timed)
		log_debug("probe: %lld us", clock_monotonic_us() - probe_started);
	struct plan plan;
	plan_init(&plan, cli_is_k3s_server_or_agent(&cli));
	struct ctx c = { .probe = &probe, .cli = &cli, .plan = &plan, .mode = MODE_AUTO };
	if (cli.command == CMD_DOCTOR) {
		rc = doctor_run(&c);
	} else {
		log_info("role: %s (%s)%s", role_name(cli.role), cli.role_source, probe.gvisor ? "; gVisor" : "");
		rc = apply_steps(&c);
		if (rc == 0)
			rc = exec_target(&cli, &plan);
	}
	plan_free(&plan);
	cli_free(&cli);
	return rc;
}
