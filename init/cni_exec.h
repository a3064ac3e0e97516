/* Running a delegated plugin (an IPAM plugin) as libcni runs plugins: found
 * by its type in CNI_PATH, the network config on its stdin, the caller's
 * CNI_* environment (SPEC.md "Delegated plugins"), its result or error JSON
 * read from its stdout. */
#ifndef K3S_INIT_CNI_EXEC_H
#define K3S_INIT_CNI_EXEC_H

#include <jansson.h>
#include <stddef.h>

#include "cni_error.h"

/* Run plugin TYPE with COMMAND (NULL: the caller's CNI_COMMAND) on CONFIG.
 * 0 with *result the parsed stdout (NULL when it printed nothing), or -1
 * with err set: the plugin's own error code and message when it printed an
 * error result. */
int cni_exec_plugin(const char *type, const char *command, const char *config, size_t len, json_t **result,
		    struct cni_error *err);

#endif
