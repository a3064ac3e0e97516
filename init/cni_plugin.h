/* What every CNI plugin of this binary does the same way: read the network
 * config from stdin, answer VERSION, find the cniVersion an error should
 * carry, and survive a runtime that stops reading (SPEC.md "Protocol"). */
#ifndef K3S_INIT_CNI_PLUGIN_H
#define K3S_INIT_CNI_PLUGIN_H

#include <stddef.h>

#include "cni_config.h"
#include "cni_env.h"
#include "cni_error.h"

/* All of stdin (at most 16 MiB); NULL with err set. Caller frees. */
char *cni_read_stdin(size_t *len, struct cni_error *err);
/* The cniVersion an error result should carry: the config's when it is one
 * of ours, else "1.1.0". */
void cni_version_for_error(const char *data, size_t len, char out[CNI_MAX_VERSION]);
/* The VERSION command: the versions supported, in the version asked. */
int cni_cmd_version(const char *const *versions, size_t count);
/* "CNI <what> plugin (k3s-init <version>)" and the versions, on stderr:
 * what a plugin prints when run without CNI_COMMAND. */
void cni_print_about(const char *what, const char *const *versions, size_t count);
/* SIGPIPE ignored: see the comment in cni_plugin.c. */
int cni_ignore_sigpipe(struct cni_error *err);

/* A plugin's command: read stdin, act, print the result; 0, or -1 with err
 * set and version the cniVersion the error is to carry. */
typedef int (*cni_run_fn)(const struct cni_env *env, char *version, struct cni_error *err);
/* What every plugin's main does around its command: logging, the hash seed,
 * SIGPIPE, the environment (an error answered in the config's version), the
 * about line, VERSION; then run. The process exit status. */
int cni_plugin_main(const char *what, const char *const *versions, size_t count, cni_run_fn run);

#endif
