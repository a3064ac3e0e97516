/*
 * The command line and the K3S_INIT_* environment, parsed and validated before
 * anything is changed (a bad value: message naming it, exit 64).
 */
#ifndef K3S_INIT_CLI_H
#define K3S_INIT_CLI_H

#include <stdbool.h>

#define EXIT_USAGE 64      /* bad K3S_INIT_* value or bad arguments */
#define EXIT_REPAIR 71     /* a repair the role cannot start without failed */
#define EXIT_NOEXEC 126    /* the program is not executable */
#define EXIT_NOTFOUND 127  /* the program is not found */
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
	enum role role;
	const char *role_source;  /* why this role: K3S_INIT_ROLE, arguments, config file, default */
	int k8s_minor;            /* from K3S_INIT_K3S_VERSION (v1.MINOR...); -1 when unset */
	const char *data_dir;     /* K3S_DATA_DIR, --data-dir/-d, or the default */
	enum mode modes[MAX_STEPS];
};

/* Parse argv and the environment. Returns 0, or EXIT_USAGE after logging why. */
int cli_parse(struct cli *cli, int argc, char **argv);
/* The value of a k3s flag in the target's arguments (--name V, --name=V), or NULL. */
const char *cli_flag_value(const struct cli *cli, const char *longname, const char *shortname);
/* True when the target's arguments contain `needle` as a substring of some argument. */
bool cli_args_mention(const struct cli *cli, const char *needle);
const char *role_name(enum role role);
const char *mode_name(enum mode mode);
void cli_usage(void);

#endif
