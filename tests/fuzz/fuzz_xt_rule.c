/* libFuzzer harness: one line of iptables-restore input, split into words
 * and put through the rule filter the iptables front uses (init/xt_rule.c),
 * with a kernel that lacks every extension whose name starts with an odd
 * byte. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xt_rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool odd_lacks(void *ctx, bool target, const char *name)
{
	(void)ctx;
	(void)target;
	return ((unsigned char)name[0] & 1) != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct xt_line l;
	if (memchr(data, '\n', size) != NULL || xt_split_line(line, size, &l) != 0)
		return 0;
	/* Spans: in order, inside the line, none empty. */
	for (size_t i = 0; i < l.n; i++) {
		if (l.start[i] >= l.end[i] || l.end[i] > size || (i > 0 && l.start[i] <= l.end[i - 1]))
			abort();
	}
	bool keep[XT_LINE_MAX_WORDS];
	const char *missing = NULL;
	enum xt_rule_fate fate = xt_rule_filter(l.word, l.n, keep, odd_lacks, NULL, &missing);
	size_t dropped = 0;
	for (size_t i = 0; i < l.n; i++)
		dropped += !keep[i];
	/* Only a trimmed rule loses words (keep[] says nothing for a rule left
	 * out), and then only whole comment matches. */
	if (fate == XT_RULE_LEFT_OUT ? missing == NULL : (fate == XT_RULE_TRIMMED) != (dropped > 0))
		abort();
	for (size_t i = 0; fate == XT_RULE_TRIMMED && i < l.n; i++) {
		if (!keep[i] && (i == 0 || keep[i - 1]) && strcmp(l.word[i], "-m") != 0 && strcmp(l.word[i], "--match") != 0)
			abort();
	}
	xt_line_free(&l);
	return 0;
}
