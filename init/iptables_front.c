/*
 * iptables, iptables-restore, ip6tables and ip6tables-restore, in front of
 * the real ones, for a kernel whose iptables lacks extensions that kube-proxy
 * and flannel write every rule with. gVisor's netstack has the matches tcp,
 * udp, owner, multiport and mark, and no comment, conntrack, statistic or
 * addrtype; no MARK or MASQUERADE target (pkg/sentry/socket/netfilter). One
 * unknown extension fails a whole iptables-restore, so there kube-proxy
 * loads none of its rules ("Extension comment revision 0 not supported",
 * then "Sync failed"), and no ClusterIP answers.
 *
 * Each rule, in the arguments or on a rule line of iptables-restore's input,
 * goes through xt_rule_filter with the kernel as the judge (xt_revision.c):
 * comment matches are taken out, a rule needing another missing extension
 * is left out. A left-out rule given as arguments (-A, -I, -C, -D, -R) is
 * answered 0 without running anything: it cannot exist in this kernel, and
 * callers that check for it before adding it (kube-proxy EnsureRule: -C,
 * then -I) stop asking. Then the next program of the same name on PATH
 * that is not this binary runs, with the rules as trimmed. Where nothing is
 * missing, every word reaches it unchanged. The iptables-extensions step
 * places it (repair_iptables_extensions.c).
 */
#include "iptables_front.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fsutil.h"
#include "xt_revision.h"
#include "xt_rule.h"

/* kube-proxy's restore of a large cluster is megabytes; far more is a mistake. */
#define RESTORE_INPUT_LIMIT (64u << 20)
#define KNOWN_MAX 32

const char *const iptables_front_names[] = { "iptables", "iptables-restore", "ip6tables", "ip6tables-restore", NULL };

struct kernel_xt {
	int fd; /* -1: cannot ask, so nothing is judged missing */
	int family;
	size_t known;
	struct {
		char name[32];
		bool target, lacks;
	} answers[KNOWN_MAX];
};

static const char *me = "iptables";

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "k3s-init %s: ", me);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

bool iptables_front_name(const char *name)
{
	for (const char *const *n = iptables_front_names; *n; n++) {
		if (strcmp(*n, name) == 0)
			return true;
	}
	return false;
}

/* xt_lacks_fn: asks the kernel once per name and remembers. */
static bool kernel_lacks(void *ctx, bool target, const char *name)
{
	struct kernel_xt *k = ctx;
	if (k->fd < 0)
		return false;
	for (size_t i = 0; i < k->known; i++) {
		if (k->answers[i].target == target && strcmp(k->answers[i].name, name) == 0)
			return k->answers[i].lacks;
	}
	bool lacks = xt_has(k->fd, k->family, target, name) == ENOENT;
	if (k->known < KNOWN_MAX && strlen(name) < sizeof k->answers[0].name) {
		snprintf(k->answers[k->known].name, sizeof k->answers[0].name, "%s", name);
		k->answers[k->known].target = target;
		k->answers[k->known].lacks = lacks;
		k->known++;
	}
	return lacks;
}

static bool is_rule_command(const char *w)
{
	static const char *const commands[] = { "-A", "--append", "-I", "--insert", "-R", "--replace",
						"-D", "--delete", "-C", "--check", NULL };
	for (const char *const *c = commands; *c; c++) {
		if (strcmp(*c, w) == 0)
			return true;
	}
	return false;
}

static int exec_next(char **argv)
{
	char real[PATH_MAX];
	const char *path = getenv("PATH");
	if (path_lookup_skip(me, path, resolves_to_this_binary, real, sizeof real) != 0) {
		say("no other %s on PATH (%s)", me, path ? path : "");
		return 127;
	}
	execv(real, argv);
	say("exec %s: %s", real, strerror(errno));
	return 126;
}

/* iptables/ip6tables: a rule in the arguments. */
static int front_rule_args(int argc, char **argv, struct kernel_xt *k)
{
	bool rule = false;
	for (int i = 1; i < argc; i++)
		rule = rule || is_rule_command(argv[i]);
	if (!rule)
		return exec_next(argv);
	size_t n = (size_t)argc - 1;
	bool *keep = calloc(n ? n : 1, sizeof *keep);
	char **trimmed = calloc((size_t)argc + 1, sizeof *trimmed);
	if (keep == NULL || trimmed == NULL) {
		say("out of memory");
		return 1;
	}
	const char *missing = "";
	enum xt_rule_fate fate = xt_rule_filter((const char *const *)argv + 1, n, keep, kernel_lacks, k, &missing);
	if (fate == XT_RULE_LEFT_OUT)
		return 0; /* no such rule can be in this kernel: none to add, check or delete */
	if (fate == XT_RULE_AS_IS)
		return exec_next(argv);
	size_t out = 0;
	trimmed[out++] = argv[0];
	for (size_t i = 0; i < n; i++) {
		if (keep[i])
			trimmed[out++] = argv[i + 1];
	}
	trimmed[out] = NULL;
	return exec_next(trimmed);
}

/* "-A CHAIN ...", or "[pkts:bytes] -A CHAIN ..." under --counters. */
static bool is_rule_line(const struct xt_line *l)
{
	size_t first = l->n > 0 && l->word[0][0] == '[' ? 1 : 0;
	return first < l->n && is_rule_command(l->word[first]);
}

/* The words of l that keep[] keeps, as the line spelt them, one blank apart. */
static int write_kept_words(int out, const char *line, const struct xt_line *l, const bool *keep)
{
	bool first = true;
	for (size_t i = 0; i < l->n; i++) {
		if (!keep[i])
			continue;
		if ((!first && write_all(out, " ", 1) != 0) ||
		    write_all(out, line + l->start[i], l->end[i] - l->start[i]) != 0)
			return -1;
		first = false;
	}
	return 0;
}

/* One line of restore input (without its newline) onto out: as it is,
 * trimmed, or not at all. */
static int restore_line(int out, const char *line, size_t len, struct kernel_xt *k)
{
	struct xt_line l = { 0 };
	bool keep[XT_LINE_MAX_WORDS];
	const char *missing = "";
	enum xt_rule_fate fate = XT_RULE_AS_IS;
	/* Table, chain and comment lines hold no rule; a line too long to
	 * split goes on as it is. */
	bool may_hold_rule = len > 0 && line[0] != '#' && line[0] != '*' && line[0] != ':';
	if (may_hold_rule && xt_split_line(line, len, &l) == 0 && is_rule_line(&l))
		fate = xt_rule_filter(l.word, l.n, keep, kernel_lacks, k, &missing);
	int rc = 0;
	if (fate == XT_RULE_AS_IS)
		rc = write_all(out, line, len);
	else if (fate == XT_RULE_TRIMMED)
		rc = write_kept_words(out, line, &l, keep);
	if (rc == 0 && fate != XT_RULE_LEFT_OUT)
		rc = write_all(out, "\n", 1);
	xt_line_free(&l);
	return rc;
}

/* The input file of an iptables-restore: its one operand, if any (index),
 * else 0 for standard input. Options taking a value: -W, -T, -M; -w takes
 * an optional one (iptables xshared.c parse_wait_time reads a number that
 * follows it). */
static int restore_operand(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-W") == 0 || strcmp(a, "--wait-interval") == 0 || strcmp(a, "-T") == 0 ||
		    strcmp(a, "--table") == 0 || strcmp(a, "-M") == 0 || strcmp(a, "--modprobe") == 0) {
			i++;
		} else if ((strcmp(a, "-w") == 0 || strcmp(a, "--wait") == 0) && i + 1 < argc &&
			   strspn(argv[i + 1], "0123456789") == strlen(argv[i + 1]) && argv[i + 1][0]) {
			i++;
		} else if (a[0] != '-') {
			return i;
		}
	}
	return 0;
}

static bool asks_no_input(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

/* iptables-restore/ip6tables-restore: the rules come on standard input or
 * from the file operand; what goes on is a memfd given as standard input. */
static int front_restore(int argc, char **argv, struct kernel_xt *k)
{
	if (asks_no_input(argc, argv))
		return exec_next(argv);
	int operand = restore_operand(argc, argv);
	int in = operand ? open(argv[operand], O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (in < 0) {
		say("cannot open %s: %s", argv[operand], strerror(errno));
		return 1;
	}
	size_t len = 0;
	char *text = read_fd_all(in, RESTORE_INPUT_LIMIT, &len);
	if (text == NULL) {
		say("cannot read the rules from %s: %s", operand ? argv[operand] : "standard input", strerror(errno));
		return 1;
	}
	if (operand)
		close(in);
	int out = memfd_create("iptables-restore-input", MFD_CLOEXEC);
	if (out < 0) {
		say("memfd_create: %s", strerror(errno));
		return 1;
	}
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t line_len = nl ? (size_t)(nl - (text + at)) : len - at;
		if (restore_line(out, text + at, line_len, k) != 0) {
			say("cannot hold the rules: %s", strerror(errno));
			return 1;
		}
		at += line_len + 1;
	}
	free(text);
	if (lseek(out, 0, SEEK_SET) != 0 || dup2(out, STDIN_FILENO) < 0) {
		say("cannot pass the rules on: %s", strerror(errno));
		return 1;
	}
	close(out);
	if (operand) { /* read from standard input instead */
		for (int i = operand; i < argc; i++)
			argv[i] = argv[i + 1];
	}
	return exec_next(argv);
}

int iptables_front_main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');
	me = slash ? slash + 1 : argv[0];
	struct kernel_xt k = { .family = strncmp(me, "ip6", 3) == 0 ? AF_INET6 : AF_INET };
	k.fd = xt_socket(k.family);
	int rc = strstr(me, "-restore") ? front_restore(argc, argv, &k) : front_rule_args(argc, argv, &k);
	if (k.fd >= 0)
		close(k.fd);
	return rc;
}
