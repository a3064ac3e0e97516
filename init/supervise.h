/*
 * Supervise mode: the init stays PID 1 (or a child subreaper when it is not
 * PID 1), runs one program as its child, forwards signals to it, reaps every
 * orphan, and exits with the child's status (the contract tini and Docker's
 * --init keep); the choices are explained in supervise.c.
 */
#ifndef K3S_INIT_SUPERVISE_H
#define K3S_INIT_SUPERVISE_H

/* How long, after the main child exited, the processes left in our PID
 * namespace get between SIGTERM and the init's exit (which makes the
 * kernel SIGKILL them). Only when the init is PID 1. */
#define SUPERVISE_GRACE_MS 2000

/* Exit status when the init itself cannot start the child (fork failed). */
#define SUPERVISE_EXIT_INTERNAL 1

#include <stdbool.h>
#include <sys/types.h>

struct supervise_options {
	/* Forward signals to the child's process group (tini -g), not only to
	 * the child: for a shell script whose own children must get them too. */
	bool group;
	/* A child of the init started before the command (the kubeconfig
	 * watcher), or 0: once the command has ended, it is stopped and reaped
	 * if it is still running, so that it cannot outlive the init. */
	pid_t companion;
};

/*
 * Run argv (argv[0] looked up on PATH) as a supervised child; returns the
 * status the init must exit with: the child's exit status, 128+N when it was
 * killed by signal N, 127 when the program is not found, 126 when it cannot be
 * executed, 64 when argv is empty. options may be NULL.
 */
int supervise_run(char *const argv[], const struct supervise_options *options);

#endif
