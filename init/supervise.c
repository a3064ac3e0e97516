/*
 * Supervise mode (the PID-1 contract of supervise.h). The choices:
 *
 * - Signals are taken with sigwaitinfo()/sigtimedwait() on a fully blocked
 *   mask: no asynchronous handler, so no race between a handler and the reap
 *   loop, and no descriptor that could leak into the child. The mask is
 *   blocked before fork(), so a SIGTERM that arrives while the child is being
 *   started stays pending in the init and is forwarded once the child exists;
 *   the child inherits the blocked mask and clears it only right before
 *   exec(), after its ignore set has been restored (signals.c).
 * - Every signal is forwarded to the child (its pid, not its group: the child
 *   leads its own process group and a shell there decides about its jobs;
 *   with -g, as tini -g, to the whole group instead, kill(-pgid)),
 *   except SIGCHLD, signals the init raised against itself (a SIGPIPE from a
 *   write to a closed stderr), and SIGTTIN/SIGTTOU that the terminal driver
 *   sent to the init's own group. Crash signals are forwarded when sent with
 *   kill() (tini#104); real faults in the init still kill it (signals.c).
 *   SIGTSTP/SIGTTIN/SIGTTOU are blocked, so they never stop PID 1.
 * - Reaping: waitpid(-1, WNOHANG) in a loop after every wake-up, recognising
 *   the main child there, because SIGCHLD coalesces (catatonit#4/#5 hung
 *   waiting for a second SIGCHLD that never came when the main child and an
 *   orphan exited together). __WALL also reaps orphans that were started
 *   with a non-SIGCHLD exit signal (clone()).
 * - When the main child has exited and the init is PID 1, the processes left
 *   in the namespace would be SIGKILLed by the kernel the moment the init
 *   exits (tini#180: killed mid-cleanup). They get SIGTERM and up to
 *   SUPERVISE_GRACE_MS to finish; the init exits as soon as the last one is
 *   reaped, or at the deadline, or at once on a second SIGTERM/SIGINT/SIGQUIT.
 *   As a subreaper (not PID 1) the init does not signal anything beyond its
 *   main child: its leftovers are reparented to the next subreaper or init.
 * - TTY: the child gets its own process group and, when stdin is a terminal,
 *   makes it the terminal's foreground group itself (tcsetpgrp() in the
 *   child, while SIGTTOU is still blocked there). The init never calls
 *   setsid() or TIOCNOTTY (dumb-init#136: giving up the controlling terminal
 *   as session leader sends SIGHUP to the foreground group, the child).
 */
#include "supervise.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_evacuate.h"
#include "clock.h"
#include "log.h"
#include "signals.h"

struct supervisor {
	pid_t self;
	pid_t child;
	bool child_done;
	int status; /* the init's exit status once child_done */
	sigset_t handled;
	bool group;       /* forward to the child's process group */
	pid_t companion;  /* see supervise_options; 0 once reaped */
};

static int status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return SUPERVISE_EXIT_INTERNAL;
}

/* In the child: own process group, foreground of the terminal on stdin. */
static void child_take_terminal(void)
{
	if (setpgid(0, 0) != 0)
		log_warn("supervise: cannot give the child its own process group: %s", strerror(errno));
	if (tcsetpgrp(STDIN_FILENO, getpgrp()) == 0)
		return;
	/* No terminal on stdin (a pipe, /dev/null, closed, or a terminal that
	 * is not our controlling one): nothing to hand over. */
	if (errno == ENOTTY || errno == ENXIO || errno == EBADF)
		return;
	log_warn("supervise: cannot make the child the terminal's foreground process group: %s", strerror(errno));
}

__attribute__((noreturn)) static void child_exec(char *const argv[])
{
	child_take_terminal();
	signals_reset_for_child();
	execvp(argv[0], argv);
	int e = errno;
	/* Shell conventions (POSIX 2.8.2): 127 when the command is not found,
	 * 126 when it is found but cannot be executed. */
	bool missing = e == ENOENT || e == ENOTDIR;
	log_error("cannot run '%s': %s", argv[0], missing ? "not found" : strerror(e));
	_exit(missing ? 127 : 126);
}

static void become_subreaper(void)
{
	/* Orphans of the child then come to us instead of to the real PID 1,
	 * so we can reap them (and they show up in our wait loop). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
		log_warn("supervise: cannot become a child subreaper: %s; orphans go to the real init",
			 strerror(errno));
}

/* Reaps every exited child. Returns false when no child is left at all. */
static bool reap(struct supervisor *s)
{
	for (;;) {
		int wstatus;
		pid_t pid = waitpid(-1, &wstatus, WNOHANG | __WALL);
		if (pid == 0)
			return true;
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_warn("supervise: waitpid: %s", strerror(errno));
			return false;
		}
		if (pid == s->child) {
			s->child_done = true;
			s->status = status_of(wstatus);
			log_debug("supervise: child %d ended, exit status %d", (int)pid, s->status);
		} else if (pid == s->companion) {
			s->companion = 0;
			log_debug("supervise: companion %d ended", (int)pid);
		} else {
			log_debug("supervise: reaped orphan %d", (int)pid);
		}
	}
}

static bool should_forward(const struct supervisor *s, const siginfo_t *si)
{
	if (si->si_signo == SIGCHLD)
		return false;
	/* SIGPIPE after a write to a closed stderr, and the like: the kernel
	 * names the init itself as the sender. */
	if (si->si_code == SI_USER && si->si_pid == s->self)
		return false;
	/* Background terminal I/O by the init itself. */
	if ((si->si_signo == SIGTTIN || si->si_signo == SIGTTOU) && si->si_code == SI_KERNEL)
		return false;
	return true;
}

static void forward(const struct supervisor *s, const siginfo_t *si)
{
	if (!should_forward(s, si))
		return;
	int rc;
	/* sigqueue() keeps the value a sender attached (real-time signals); it
	 * has no group form, so with -g a queued signal reaches the group
	 * through kill() without its value, as with tini -g. */
	pid_t target = s->group ? -s->child : s->child;
	if (si->si_code == SI_QUEUE && !s->group)
		rc = sigqueue(s->child, si->si_signo, si->si_value);
	else
		rc = kill(target, si->si_signo);
	if (rc != 0 && errno != ESRCH) /* ESRCH: it is exiting; reaped next */
		log_warn("supervise: cannot forward signal %d to %s%d: %s", si->si_signo, s->group ? "group " : "",
			 (int)s->child, strerror(errno));
	else
		log_debug("supervise: forwarded signal %d to %s%d", si->si_signo, s->group ? "group " : "",
			  (int)s->child);
}

/* The command has ended: a companion still running is stopped and reaped. */
static void stop_companion(struct supervisor *s)
{
	if (s->companion <= 0)
		return;
	if (kill(s->companion, SIGTERM) != 0 && errno != ESRCH)
		log_warn("supervise: cannot stop %d: %s", (int)s->companion, strerror(errno));
	while (waitpid(s->companion, NULL, __WALL) < 0 && errno == EINTR)
		;
	s->companion = 0;
}

/* Waits for the main child, forwarding signals, reaping orphans. */
static void supervise_loop(struct supervisor *s)
{
	while (reap(s), !s->child_done) {
		siginfo_t si;
		int sig = sigwaitinfo(&s->handled, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot happen with a valid set; never spin. */
			log_error("supervise: sigwaitinfo: %s; waiting for the child without forwarding",
				  strerror(errno));
			int wstatus;
			while (waitpid(s->child, &wstatus, 0) < 0)
				if (errno != EINTR)
					return;
			s->child_done = true;
			s->status = status_of(wstatus);
			return;
		}
		forward(s, &si);
	}
}

/* PID 1 only: give what is left in the namespace a chance to finish. */
static void drain_namespace(struct supervisor *s)
{
	if (!reap(s))
		return; /* nobody left */
	if (kill(-1, SIGTERM) != 0) {
		if (errno != ESRCH)
			log_warn("supervise: cannot send SIGTERM to the remaining processes: %s", strerror(errno));
		reap(s);
		return;
	}
	log_info("supervise: main process exited; sent SIGTERM to the remaining processes, waiting up to %d ms",
		 SUPERVISE_GRACE_MS);
	long long deadline = clock_monotonic_ms() + SUPERVISE_GRACE_MS;
	while (reap(s)) {
		long long left = deadline - clock_monotonic_ms();
		if (left <= 0) {
			log_info("supervise: processes still running after %d ms; exiting", SUPERVISE_GRACE_MS);
			return;
		}
		struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
		siginfo_t si;
		int sig = sigtimedwait(&s->handled, &si, &ts);
		if (sig < 0 && errno != EINTR && errno != EAGAIN) {
			log_warn("supervise: sigtimedwait: %s", strerror(errno));
			return;
		}
		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			log_info("supervise: signal %d during shutdown; exiting now", sig);
			return;
		}
	}
}

int supervise_run(char *const argv[], const struct supervise_options *options)
{
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
		log_error("supervise: no command given (usage: k3s-init supervise [-g] -- CMD [ARGS])");
		return 64;
	}
	struct supervisor s = {.self = getpid(), .child = -1, .status = SUPERVISE_EXIT_INTERNAL};
	if (options != NULL) {
		s.group = options->group;
		s.companion = options->companion;
	}
	signals_handled_set(&s.handled);
	signals_record_launch(); /* before signals_prepare_parent changes SIGCHLD */
	if (signals_block_all() != 0)
		return SUPERVISE_EXIT_INTERNAL;
	if (signals_prepare_parent() != 0)
		return SUPERVISE_EXIT_INTERNAL;
	if (s.self != 1)
		become_subreaper();
	/* Before the fork, so that the child starts in the new cgroup. */
	cgroup_evacuate();

	s.child = fork();
	if (s.child < 0) {
		log_error("supervise: cannot start '%s': fork: %s", argv[0], strerror(errno));
		return SUPERVISE_EXIT_INTERNAL;
	}
	if (s.child == 0)
		child_exec(argv);
	/* Also from this side, so the group exists before any signal to it;
	 * EACCES: the child has already exec'd (and set it itself). */
	if (setpgid(s.child, s.child) != 0 && errno != EACCES && errno != ESRCH)
		log_debug("supervise: setpgid(%d): %s", (int)s.child, strerror(errno));
	log_debug("supervise: started '%s' as %d (%s)", argv[0], (int)s.child,
		  s.self == 1 ? "init is PID 1" : "init is a subreaper");

	supervise_loop(&s);
	stop_companion(&s);
	if (s.self == 1)
		drain_namespace(&s);
	else
		reap(&s);
	return s.status;
}
