#include "exec_k3s.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "kubeconfig_export.h"
#include "log.h"
#include "supervise.h"

/* k3s ARGS with the plan's arguments right after the subcommand, where k3s
 * itself inserts config-file flags (pkg/configfilearg), so the user's own
 * command-line flags still come later. */
static char **final_argv(const struct cli *cli, const struct plan *plan)
{
	size_t n = (size_t)cli->argc + plan->nargs;
	char **argv = calloc(n + 1, sizeof *argv);
	if (argv == NULL)
		return NULL;
	size_t k = 0;
	int i = 0;
	bool inserted = plan->nargs == 0;
	for (; i < cli->argc; i++) {
		argv[k++] = cli->argv[i];
		if (!inserted && cli->argv[i] == cli->subcommand) {
			for (size_t a = 0; a < plan->nargs; a++)
				argv[k++] = plan->args[a];
			inserted = true;
		}
	}
	for (size_t a = 0; !inserted && a < plan->nargs; a++)
		argv[k++] = plan->args[a];
	argv[k] = NULL;
	return argv;
}

int exec_target(const struct cli *cli, const struct plan *plan)
{
	char **argv = final_argv(cli, plan);
	if (argv == NULL) {
		log_error("out of memory");
		return EXIT_REPAIR;
	}
	if (plan->nargs)
		log_info("extra k3s arguments: %zu added after '%s'", plan->nargs, cli->subcommand);
	if (cli->supervise) {
		log_info("supervising %s (k3s-init stays PID 1%s)", argv[0],
			 cli->supervise_group ? "; signals go to its process group" : "");
		struct supervise_options options = { .group = cli->supervise_group, .companion = plan->watcher };
		int status = supervise_run(argv, &options);
		free(argv);
		return status;
	}
	/* Resolve on PATH first and exec once: execvp would try (and fail)
	 * one execve per PATH entry, and the only execve is to be the target's. */
	char path[PATH_MAX];
	if (strchr(argv[0], '/'))
		snprintf(path, sizeof path, "%s", argv[0]);
	else if (path_lookup(argv[0], getenv("PATH"), path, sizeof path) != 0) {
		log_error("cannot run %s: not found on PATH", argv[0]);
		kubeconfig_export_stop(plan->watcher);
		free(argv);
		return EXIT_NOTFOUND;
	}
	log_debug("exec %s", path);
	execv(path, argv);
	int e = errno;
	log_error("cannot run %s (%s): %s", argv[0], path, strerror(e));
	/* Nothing will write the kubeconfig now: the watcher must not wait
	 * for it (nor print a ready line) behind the init's exit status. */
	kubeconfig_export_stop(plan->watcher);
	free(argv);
	return e == ENOENT || e == ENOTDIR ? EXIT_NOTFOUND : EXIT_NOEXEC;
}
