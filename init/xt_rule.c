/*
 * See xt_rule.h. kube-proxy tags every rule with `-m comment --comment`
 * (k8s.io/kubernetes pkg/proxy/iptables/proxier.go); gVisor's netstack has
 * no comment match, so without this not one of its rules loads ("Extension
 * comment revision 0 not supported"). Its other wants there are conntrack
 * (the KUBE-FORWARD accepts and the jumps for new connections only),
 * statistic (spreading a Service over several endpoints: left out, the
 * last endpoint takes every connection), addrtype (NodePorts), MARK and
 * MASQUERADE (source NAT of traffic from outside the pod network).
 */
#include "xt_rule.h"

#include <stdlib.h>
#include <string.h>

/* iptables' own target extensions (iptables extensions/libxt_*.c,
 * libipt_*.c, libip6t_*.c): any other -j NAME is a chain, or a standard
 * verdict, which every kernel has. */
static const char *const extension_targets[] = {
	"AUDIT",     "CHECKSUM", "CLASSIFY", "CLUSTERIP", "CONNMARK", "CONNSECMARK", "CT",	"DNAT",
	"DNPT",	     "DSCP",	 "ECN",	     "HL",	  "HMARK",    "IDLETIMER",   "LED",	"LOG",
	"MARK",	     "MASQUERADE", "NETMAP", "NFLOG",	  "NFQUEUE",  "NOTRACK",     "RATEEST", "REDIRECT",
	"REJECT",    "SECMARK",	 "SET",	     "SNAT",	  "SNPT",     "SYNPROXY",    "TCPMSS",	"TCPOPTSTRIP",
	"TEE",	     "TOS",	 "TPROXY",   "TRACE",	  "TTL",      "ULOG",	     NULL,
};

static bool is_extension_target(const char *name)
{
	for (const char *const *t = extension_targets; *t; t++) {
		if (strcmp(*t, name) == 0)
			return true;
	}
	return false;
}

static bool is(const char *word, const char *short_form, const char *long_form)
{
	return strcmp(word, short_form) == 0 || strcmp(word, long_form) == 0;
}

enum xt_rule_fate xt_rule_filter(const char *const *words, size_t n, bool *keep, xt_lacks_fn lacks, void *ctx,
				 const char **missing)
{
	enum xt_rule_fate fate = XT_RULE_AS_IS;
	for (size_t i = 0; i < n; i++)
		keep[i] = true;
	for (size_t i = 0; i + 1 < n; i++) {
		const char *name = words[i + 1];
		if (is(words[i], "-m", "--match")) {
			if (!lacks(ctx, false, name)) {
				i++;
				continue;
			}
			if (strcmp(name, "comment") != 0) {
				*missing = name;
				return XT_RULE_LEFT_OUT;
			}
			/* `-m comment` and its one option, exactly: any other word
			 * after it belongs to something else (`-p tcp -m comment
			 * --comment x --dport 80` is tcp's --dport). */
			size_t words_taken = i + 3 < n && strcmp(words[i + 2], "--comment") == 0 ? 4 : 2;
			for (size_t k = 0; k < words_taken; k++)
				keep[i + k] = false;
			i += words_taken - 1;
			fate = XT_RULE_TRIMMED;
		} else if (is(words[i], "-j", "--jump")) {
			if (is_extension_target(name) && lacks(ctx, true, name)) {
				*missing = name;
				return XT_RULE_LEFT_OUT;
			}
			i++;
		}
	}
	return fate;
}

int xt_split_line(const char *line, size_t len, struct xt_line *out)
{
	out->n = 0;
	out->text = malloc(len + 1);
	if (out->text == NULL)
		return -1;
	char *w = out->text;
	size_t i = 0;
	while (i < len) {
		if (line[i] == ' ' || line[i] == '\t') {
			i++;
			continue;
		}
		if (out->n == XT_LINE_MAX_WORDS) {
			xt_line_free(out);
			return -1;
		}
		out->start[out->n] = i;
		out->word[out->n] = w;
		bool quoted = false;
		for (; i < len && (quoted || (line[i] != ' ' && line[i] != '\t')); i++) {
			if (line[i] == '\\' && i + 1 < len && line[i + 1] == '"')
				*w++ = line[++i];
			else if (line[i] == '"')
				quoted = !quoted;
			else
				*w++ = line[i];
		}
		*w++ = '\0';
		out->end[out->n] = i;
		out->n++;
	}
	return 0;
}

void xt_line_free(struct xt_line *l)
{
	free(l->text);
	l->text = NULL;
	l->n = 0;
}
