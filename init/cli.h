/*
 * The command line and the K3S_INIT_* environment, parsed and validated before
 * anything is changed (a bad value: message naming it, exit 64).
 */
#ifndef K3S_INIT_CLI_H
#define K3S_INIT_CLI_H

#include <stdbool.h>

#include "cluster_token.h"
#include "exit_codes.h"
#include "k3s_config.h"
#include "kubeconfig_export.h"

#define MAX_STEPS 32

enum role { ROLE_SERVER = 0, ROLE_CONTROL_PLANE = 1, ROLE_AGENT = 2 };
#define ROLE_BIT(r) (1u << (r))
/* Roles that run the kubelet, containerd and kube-proxy. */
#define ROLES_AGENT (ROLE_BIT(ROLE_SERVER) | ROLE_BIT(ROLE_AGENT))
#define ROLES_ALL (ROLES_AGENT | ROLE_BIT(ROLE_CONTROL_PLANE))

enum mode { MODE_AUTO = 0, MODE_ON, MODE_OFF };

enum command { CMD_RUN, CMD_DOCTOR, CMD_SUPERVISE, CMD_HELP, CMD_VERSION };

struct cli {
	enum command command;
	char **argv;              /* the target's argv, NULL-terminated (k3s ... or PROGRAM ...) */
	int argc;
	bool is_k3s;              /* argv[0] is k3s */
	const char *subcommand;   /* k3s subcommand (server, agent, ...) or NULL */
	bool supervise;           /* `supervise --` or K3S_INIT_SUPERVISE=1 */
	bool supervise_group;     /* `supervise -g --`: signals go to the child's process group */
	enum role role;
	const char *role_source;  /* why this role: K3S_INIT_ROLE, arguments, config file, default */
	int k8s_minor;            /* from K3S_INIT_K3S_VERSION (v1.MINOR...); -1 when unset */
	const char *data_dir;     /* --data-dir/-d, the config file, K3S_DATA_DIR, or the default */
	const char *config_path;  /* k3s's config file (server and agent only), else NULL */
	enum mode modes[MAX_STEPS];
	/* Parsed once, before anything changes (cli_parse), then only read. */
	struct k3s_config config;                  /* the config file and drop-ins */
	struct cluster_token_settings token;       /* K3S_INIT_TOKEN_* */
	struct kubeconfig_export_settings kubeconfig; /* K3S_INIT_KUBECONFIG_* */
};

/* Parse argv and the environment. Returns 0, or EXIT_USAGE after logging why.
 * cli_free releases what it holds, also after a failure. */
int cli_parse(struct cli *cli, int argc, char **argv);
void cli_free(struct cli *cli);
/* The value of a k3s flag in the target's arguments (--name V, --name=V), or NULL. */
const char *cli_flag_value(const struct cli *cli, const char *longname, const char *shortname);
/* What the user set for a k3s flag: the command line, else the config file
 * (k3s inserts config-file flags before the command line's, so those win). */
const char *cli_user_value(const struct cli *cli, const char *longname, const char *shortname);
/* Whether the user passes `needle` in a list flag (--kubelet-arg, say), on the
 * command line or in the config file. */
bool cli_user_mentions(const struct cli *cli, const char *list_flag, const char *needle);
/* The target is `k3s server`. */
bool cli_is_k3s_server(const struct cli *cli);
/* The target is `k3s server` or `k3s agent`: the commands that read k3s's
 * config file and take the init's extra flags. */
bool cli_is_k3s_server_or_agent(const struct cli *cli);
const char *role_name(enum role role);
const char *mode_name(enum mode mode);
void cli_usage(void);

#endif
