/* The CNI_* environment of one plugin invocation (CNI SPEC.md "Parameters"). */
#ifndef K3S_INIT_CNI_ENV_H
#define K3S_INIT_CNI_ENV_H

#include <stdbool.h>

#include "cni_error.h"

enum cni_command { CNI_CMD_NONE, CNI_CMD_ADD, CNI_CMD_DEL, CNI_CMD_CHECK, CNI_CMD_GC, CNI_CMD_STATUS, CNI_CMD_VERSION };

struct cni_env {
	enum cni_command command;
	const char *command_name;
	const char *container_id;
	const char *netns;
	const char *ifname;
	const char *args; /* CNI_ARGS, "" when unset */
	const char *path;
};

/* Read and validate the environment for the command it names. A missing
 * CNI_COMMAND yields CNI_CMD_NONE without error (the caller prints the about line). */
int cni_env_load(struct cni_env *env, struct cni_error *err);

/* Validators shared with the config parser (pkg/utils/utils.go upstream). */
bool cni_valid_name(const char *s);
int cni_validate_ifname(const char *ifname, struct cni_error *err);

#endif
