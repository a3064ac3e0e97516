#include "signals.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "log.h"

/* Dispositions seen at process start; index = signal number. */
static bool launch_ignored[NSIG];
static bool launch_recorded;

void signals_record_launch(void)
{
	if (launch_recorded)
		return;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old;
		/* The C library refuses its reserved real-time signals (glibc
		 * 32-33, musl 32-34) with EINVAL: nothing to record there. */
		if (sigaction(sig, NULL, &old) == 0)
			launch_ignored[sig] = old.sa_handler == SIG_IGN;
	}
	launch_recorded = true;
}

int signals_was_ignored(int sig)
{
	signals_record_launch();
	return sig > 0 && sig < NSIG && launch_ignored[sig];
}

void signals_handled_set(sigset_t *set)
{
	/*
	 * sigfillset() includes the crash signals (SEGV BUS ILL FPE ABRT TRAP
	 * SYS). Blocking them is safe: a fault the init itself causes is
	 * delivered with force_sig_fault(), and the kernel then unblocks the
	 * signal and resets it to SIG_DFL (kernel/signal.c
	 * force_sig_info_to_task), so the init still dies with a core dump;
	 * abort() unblocks SIGABRT itself (glibc and musl). What blocking
	 * changes is that the same signals *sent* with kill() are queued and
	 * forwarded to the child like any other (tini#104: `docker kill -s
	 * ABRT` must reach the program, not vanish at PID 1).
	 */
	sigfillset(set);
}

int signals_block_all(void)
{
	sigset_t set;
	signals_handled_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		log_error("cannot block signals: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int signals_prepare_parent(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* SIG_DFL for SIGCHLD means "ignore the signal" but keep zombies for
	 * waitpid(); SIG_IGN (or SA_NOCLDWAIT) would auto-reap them. */
	if (sigaction(SIGCHLD, &sa, NULL) != 0) {
		log_error("cannot reset SIGCHLD to its default action: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int signals_reset_for_child(void)
{
	int status = 0;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = signals_was_ignored(sig) ? SIG_IGN : SIG_DFL;
		sigemptyset(&sa.sa_mask);
		if (sigaction(sig, &sa, NULL) != 0 && errno != EINVAL) {
			log_error("cannot reset the action of signal %d: %s", sig, strerror(errno));
			status = -1;
		}
	}
	sigset_t empty;
	sigemptyset(&empty);
	if (sigprocmask(SIG_SETMASK, &empty, NULL) != 0) {
		log_error("cannot unblock signals: %s", strerror(errno));
		status = -1;
	}
	return status;
}
