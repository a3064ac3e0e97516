/* libFuzzer harness: the network config parser of the host-local plugin
 * (stdin JSON -> ranges, routes, dns, requested addresses), then the result
 * built from it for its cniVersion, and the prevResult it carries. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cni_config.h"
#include "cni_result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum cni_command cmds[] = { CNI_CMD_ADD, CNI_CMD_CHECK, CNI_CMD_GC, CNI_CMD_STATUS, CNI_CMD_DEL };
	struct cni_env env = { 0 };
	env.command = cmds[size % 5];
	env.container_id = "fuzz";
	env.ifname = "eth0";
	env.args = "IgnoreUnknown=1;IP=10.0.0.5";
	struct cni_conf conf;
	struct cni_error err = { 0 };
	if (cni_conf_parse(&conf, (const char *)data, size, &env, &err) == 0) {
		/* Pretend each set handed out its first address. */
		struct cni_alloc *allocs = calloc(conf.nsets + 1, sizeof *allocs);
		for (size_t i = 0; allocs != NULL && i < conf.nsets; i++) {
			allocs[i].ip = conf.sets[i].ranges[0].start;
			allocs[i].prefix = conf.sets[i].ranges[0].prefix;
			allocs[i].gateway = conf.sets[i].ranges[0].gateway;
			(void)cni_alloc_capacity(&conf.sets[i]);
		}
		json_t *res = allocs ? cni_result_build(&conf, allocs, conf.nsets, conf.dns) : NULL;
		char *text = res ? json_dumps(res, 0) : NULL;
		free(text);
		json_decref(res);
		free(allocs);
		if (conf.prev_result != NULL) {
			struct cni_cidr *ips;
			size_t n;
			struct cni_error perr = { 0 };
			if (cni_result_prev_ips(conf.prev_result, &ips, &n, &perr) == 0)
				free(ips);
		}
	} else if (err.code == CNI_OK || err.msg[0] == '\0') {
		abort(); /* every failure must say what is wrong */
	}
	cni_conf_free(&conf);
	return 0;
}
