/*
 * Signal state of the init and of the program it supervises.
 *
 * The launcher's ignore set is recorded first thing in supervise mode, before
 * anything of the init changes a disposition, so that the supervised child
 * gets it back exactly (pid1.md: one peer resets ignored signals to default,
 * another leaves TSTP/TTIN/TTOU blocked in the child; both are bugs). The exec
 * path does not need it and does not pay its 64 sigaction() calls.
 */
#ifndef K3S_INIT_SIGNALS_H
#define K3S_INIT_SIGNALS_H

#include <signal.h>

/* Every signal the init takes over: all that the C library lets a program
 * block (SIGKILL and SIGSTOP cannot be; the library keeps a few real-time
 * signals for itself and refuses them). */
void signals_handled_set(sigset_t *set);

/* Block every handled signal. Idempotent; the init core may call it first
 * thing so that a SIGTERM arriving during the repairs is kept for the child. */
int signals_block_all(void);

/* SIGCHLD must not be SIG_IGN in the init: the kernel would then reap every
 * child itself and the child's exit status would be lost. */
int signals_prepare_parent(void);

/* In the forked child, before exec: the launcher's ignore set exactly, every
 * other signal at its default action, and an empty blocked mask. */
int signals_reset_for_child(void);

/* Record which signals the launcher left ignored. Idempotent; call it before
 * any disposition is changed (init_main does, for supervise mode). */
void signals_record_launch(void);

/* Whether sig was ignored (SIG_IGN) when the program started. */
int signals_was_ignored(int sig);

#endif
