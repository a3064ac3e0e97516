#include "cni_plugin.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

#ifndef K3S_INIT_VERSION
#define K3S_INIT_VERSION "unknown"
#endif

/* A network config is a few KiB; anything near this is not one. */
#define MAX_STDIN (16u << 20)

void cni_print_about(const char *what, const char *const *versions, size_t count)
{
	fprintf(stderr, "CNI %s plugin (k3s-init %s)\nCNI protocol versions supported: ", what, K3S_INIT_VERSION);
	for (size_t i = 0; i < count; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", versions[i]);
	fputc('\n', stderr);
}

char *cni_read_stdin(size_t *len, struct cni_error *err)
{
	/* Refused from MAX_STDIN bytes on, as before the reader was shared. */
	char *buf = read_fd_all(STDIN_FILENO, MAX_STDIN - 1, len);
	if (buf != NULL)
		return buf;
	if (errno == EFBIG)
		cni_fail(err, CNI_ERR_DECODE, "network config on stdin is larger than %u bytes", MAX_STDIN);
	else if (errno == ENOMEM)
		cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	else
		cni_fail(err, CNI_ERR_IO, "error reading from stdin: %s", strerror(errno));
	return NULL;
}

void cni_version_for_error(const char *data, size_t len, char out[CNI_MAX_VERSION])
{
	snprintf(out, CNI_MAX_VERSION, "%s", "1.1.0");
	json_t *root = data ? json_loadb(data, len, 0, NULL) : NULL;
	const char *v = json_string_value(json_object_get(root, "cniVersion"));
	for (size_t i = 0; v != NULL && i < cni_nsupported_versions; i++) {
		if (strcmp(v, cni_supported_versions[i]) == 0)
			snprintf(out, CNI_MAX_VERSION, "%s", v);
	}
	json_decref(root);
}

int cni_cmd_version(const char *const *versions, size_t count)
{
	/* Answer in the version asked (libcni sends {"cniVersion":"1.1.0"}). */
	char asked[CNI_MAX_VERSION] = "1.1.0";
	if (!isatty(STDIN_FILENO)) {
		struct cni_error ignored = { 0 };
		size_t len = 0;
		char *data = cni_read_stdin(&len, &ignored);
		json_t *root = data ? json_loadb(data, len, 0, NULL) : NULL;
		const char *v = json_string_value(json_object_get(root, "cniVersion"));
		if (v != NULL && cni_version_cmp(v, v) == 0 && strlen(v) < sizeof asked)
			snprintf(asked, sizeof asked, "%s", v);
		json_decref(root);
		free(data);
	}
	json_t *list = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(list, json_string(versions[i]));
	json_t *o = json_pack("{s:s, s:o}", "cniVersion", asked, "supportedVersions", list);
	char *text = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
	int rc = text && fputs(text, stdout) >= 0 && fflush(stdout) == 0 ? 0 : 1;
	free(text);
	json_decref(o);
	return rc;
}

/* The runtime reads the result through a pipe (libcni pkg/invoke/raw_exec.go
 * gives the plugin a pipe as stdout) and may go away, killed or timed out,
 * before it reads. SIGPIPE would then kill the plugin after it reserved the
 * address and before it could give it back; ignored, the write fails with
 * EPIPE and the command rolls back like any other failure. A plugin that
 * execs another one (routed-veth its IPAM) restores the default in the
 * child first, so the ignored disposition goes nowhere else. */
int cni_ignore_sigpipe(struct cni_error *err)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };
	if (sigemptyset(&sa.sa_mask) < 0 || sigaction(SIGPIPE, &sa, NULL) < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "ignoring SIGPIPE: %s", strerror(errno));
	return 0;
}

int cni_plugin_main(const char *what, const char *const *versions, size_t count, cni_run_fn run)
{
	log_configure(getenv("K3S_INIT_LOG"));
	/* A fixed hash seed spares jansson opening /dev/urandom on every call;
	 * the config comes from the runtime, so hash flooding is not a threat. */
	json_object_seed(0x6b33736c);
	struct cni_error err = { 0 };
	struct cni_env env;
	char version[CNI_MAX_VERSION] = "1.1.0";
	if (cni_ignore_sigpipe(&err) < 0)
		return cni_error_print(&err, version);
	if (cni_env_load(&env, &err) < 0) {
		/* The runtime pipes the config in; read it to answer in its version. */
		if (!isatty(STDIN_FILENO)) {
			struct cni_error ignored = { 0 };
			size_t len = 0;
			char *data = cni_read_stdin(&len, &ignored);
			cni_version_for_error(data, len, version);
			free(data);
		}
		return cni_error_print(&err, version);
	}
	if (env.command == CNI_CMD_NONE) {
		cni_print_about(what, versions, count);
		return 0;
	}
	if (env.command == CNI_CMD_VERSION)
		return cni_cmd_version(versions, count);
	if (run(&env, version, &err) < 0)
		return cni_error_print(&err, version);
	return 0;
}
