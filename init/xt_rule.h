/*
 * One iptables rule, as a kernel without some extensions can hold it: the
 * comment match, which only annotates, is taken out; a rule that needs any
 * other match or target the kernel lacks is left out whole, since what is
 * left of it would match other packets than it says. Used by the iptables
 * front (iptables_front.c) on its arguments and on each rule line of
 * iptables-restore's input.
 */
#ifndef K3S_INIT_XT_RULE_H
#define K3S_INIT_XT_RULE_H

#include <stdbool.h>
#include <stddef.h>

/* True when the kernel lacks the match (target false) or target NAME. */
typedef bool (*xt_lacks_fn)(void *ctx, bool target, const char *name);

enum xt_rule_fate {
	XT_RULE_AS_IS,    /* nothing it needs is missing */
	XT_RULE_TRIMMED,  /* comment matches taken out: keep[] says which words stay */
	XT_RULE_LEFT_OUT, /* it needs the extension *missing names */
};

/* words[0..n): a rule's words, the command (-A CHAIN ...) among them.
 * keep[0..n) is filled in; it means nothing for a rule left out. */
enum xt_rule_fate xt_rule_filter(const char *const *words, size_t n, bool *keep, xt_lacks_fn lacks, void *ctx,
				 const char **missing);

/* A line of iptables-restore input split into words the way iptables-restore
 * splits it (iptables xshared.c add_param_to_argv: blanks separate, double
 * quotes group, a backslash escapes a quote); each word's span in the line
 * is kept, so a trimmed line is the original text of the words that stay. */
#define XT_LINE_MAX_WORDS 128
struct xt_line {
	size_t n;
	const char *word[XT_LINE_MAX_WORDS]; /* unquoted, in text */
	size_t start[XT_LINE_MAX_WORDS], end[XT_LINE_MAX_WORDS];
	char *text; /* heap: the unquoted words, NUL-separated */
};
/* 0, or -1 when the line has more words than fit or memory ran out (the
 * caller passes such a line on as it is). xt_line_free after a 0. */
int xt_split_line(const char *line, size_t len, struct xt_line *out);
void xt_line_free(struct xt_line *l);

#endif
