/*
 * Arguments and K3S_INIT_* variables. Everything is validated here, before the
 * probe or any repair runs, so that a typo changes nothing (exit 64).
 */
#include "cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "repair.h"

extern char **environ;

#define DEFAULT_DATA_DIR "/var/lib/rancher/k3s"

/* k3s's own subcommands (cmd/k3s/main.go): these mean "run k3s with these arguments". */
static const char *const k3s_subcommands[] = {
	"server", "agent", "kubectl", "crictl", "ctr", "check-config", "etcd-snapshot",
	"secrets-encrypt", "certificate", "token", "completion", "help", NULL,
};

static bool is_subcommand(const char *a)
{
	for (int i = 0; k3s_subcommands[i]; i++)
		if (strcmp(a, k3s_subcommands[i]) == 0)
			return true;
	return false;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

const char *role_name(enum role role)
{
	switch (role) {
	case ROLE_SERVER: return "server";
	case ROLE_CONTROL_PLANE: return "control-plane";
	case ROLE_AGENT: return "agent";
	}
	return "?";
}

const char *mode_name(enum mode mode)
{
	return mode == MODE_ON ? "on" : mode == MODE_OFF ? "off" : "auto";
}

static int parse_mode(const char *v, enum mode *m)
{
	if (v[0] == '\0' || strcmp(v, "auto") == 0)
		*m = MODE_AUTO;
	else if (strcmp(v, "on") == 0)
		*m = MODE_ON;
	else if (strcmp(v, "off") == 0)
		*m = MODE_OFF;
	else
		return -1;
	return 0;
}

/* v1.34.3-k3s3 (also without the v, or just v1.34): the Kubernetes minor. */
static int parse_k3s_version(const char *v)
{
	if (*v == 'v')
		v++;
	char *end;
	long major = strtol(v, &end, 10);
	if (end == v || major != 1 || *end != '.')
		return -1;
	const char *m = end + 1;
	long minor = strtol(m, &end, 10);
	if (end == m || minor < 0 || minor > 1000 || (*end != '\0' && *end != '.' && *end != '-' && *end != '+'))
		return -1;
	return (int)minor;
}

static int check_step_var(struct cli *cli, const char *suffix, const char *value, bool *matched)
{
	for (size_t i = 0; i < step_count; i++) {
		char want[64];
		step_env_name(steps[i], want, sizeof want);
		if (strcmp(suffix, want) != 0)
			continue;
		*matched = true;
		if (parse_mode(value, &cli->modes[i]) != 0) {
			log_error("K3S_INIT_%s=%s: expected auto, on or off", suffix, value);
			return -1;
		}
		return 0;
	}
	return 0;
}

static int check_owned_var(struct cli *cli, const char *suffix, const char *value, bool *matched)
{
	*matched = true;
	if (strcmp(suffix, "LOG") == 0)
		return 0; /* validated first, by log_configure */
	if (strcmp(suffix, "ROLE") == 0) {
		if (value[0] == '\0' || strcmp(value, "server") == 0 ||
		    strcmp(value, "control-plane") == 0 || strcmp(value, "agent") == 0)
			return 0;
		log_error("K3S_INIT_ROLE=%s: expected control-plane, server or agent", value);
		return -1;
	}
	if (strcmp(suffix, "SUPERVISE") == 0) {
		if (value[0] == '\0' || strcmp(value, "0") == 0 || strcmp(value, "1") == 0) {
			cli->supervise = cli->supervise || strcmp(value, "1") == 0;
			return 0;
		}
		log_error("K3S_INIT_SUPERVISE=%s: expected 0 or 1", value);
		return -1;
	}
	if (strcmp(suffix, "K3S_VERSION") == 0) {
		if (value[0] == '\0')
			return 0;
		cli->k8s_minor = parse_k3s_version(value);
		if (cli->k8s_minor >= 0)
			return 0;
		log_error("K3S_INIT_K3S_VERSION=%s: expected a k3s version like v1.34.3-k3s3", value);
		return -1;
	}
	/* A step's own settings (cluster token, kubeconfig export): exact
	 * names only, so that a typo is caught; the step parses the value. */
	for (size_t i = 0; i < step_count; i++)
		for (const char *const *v = steps[i]->variables; v && *v; v++)
			if (strcmp(suffix, *v) == 0)
				return 0;
	*matched = false;
	return 0;
}

static void list_known(char *out, size_t len)
{
	size_t used = (size_t)snprintf(out, len, "LOG ROLE SUPERVISE K3S_VERSION");
	for (size_t i = 0; i < step_count && used < len; i++) {
		char s[64];
		step_env_name(steps[i], s, sizeof s);
		used += (size_t)snprintf(out + used, len - used, " %s", s);
		for (const char *const *v = steps[i]->variables; v && *v && used < len; v++)
			used += (size_t)snprintf(out + used, len - used, " %s", *v);
	}
}

static int check_environment(struct cli *cli)
{
	int bad = 0;
	const char *log_value = getenv("K3S_INIT_LOG");
	if (log_configure(log_value) != 0) {
		log_error("K3S_INIT_LOG=%s: expected quiet, info or debug", log_value);
		bad = 1;
	}
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "K3S_INIT_", 9) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		if (eq == NULL)
			continue;
		char suffix[128];
		size_t n = (size_t)(eq - *e) - 9;
		if (n >= sizeof suffix)
			n = sizeof suffix - 1;
		memcpy(suffix, *e + 9, n);
		suffix[n] = '\0';
		bool matched = false;
		if (check_owned_var(cli, suffix, eq + 1, &matched) != 0 ||
		    (!matched && check_step_var(cli, suffix, eq + 1, &matched) != 0)) {
			bad = 1;
			continue;
		}
		if (!matched) {
			char known[1024];
			list_known(known, sizeof known);
			log_error("unknown variable K3S_INIT_%s (known K3S_INIT_*: %s)", suffix, known);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

const char *cli_flag_value(const struct cli *cli, const char *longname, const char *shortname)
{
	const char *found = NULL;
	for (int i = 1; i < cli->argc; i++) {
		const char *a = cli->argv[i];
		if (strcmp(a, "--") == 0)
			break;
		const char *names[2] = { longname, shortname };
		for (int k = 0; k < 2; k++) {
			if (names[k] == NULL)
				continue;
			/* urfave/cli accepts -name and --name, with " V" or "=V". */
			const char *s = a;
			if (*s != '-')
				continue;
			s += s[1] == '-' ? 2 : 1;
			size_t n = strlen(names[k]);
			if (strncmp(s, names[k], n) != 0)
				continue;
			if (s[n] == '=')
				found = s + n + 1;
			else if (s[n] == '\0' && i + 1 < cli->argc)
				found = cli->argv[i + 1];
		}
	}
	return found;
}

static bool cli_args_mention(const struct cli *cli, const char *needle)
{
	for (int i = 1; i < cli->argc; i++)
		if (strstr(cli->argv[i], needle))
			return true;
	return false;
}

const char *cli_user_value(const struct cli *cli, const char *longname, const char *shortname)
{
	const char *v = cli_flag_value(cli, longname, shortname);
	return v != NULL ? v : k3s_config_value(&cli->config, longname);
}

bool cli_user_mentions(const struct cli *cli, const char *list_flag, const char *needle)
{
	return cli_args_mention(cli, needle) || k3s_config_mentions(&cli->config, list_flag, needle);
}

bool cli_is_k3s_server(const struct cli *cli)
{
	return cli->is_k3s && cli->subcommand != NULL && strcmp(cli->subcommand, "server") == 0;
}

bool cli_is_k3s_server_or_agent(const struct cli *cli)
{
	return cli_is_k3s_server(cli) ||
	       (cli->is_k3s && cli->subcommand != NULL && strcmp(cli->subcommand, "agent") == 0);
}

/* --disable-agent, --disable-agent=true|false */
static int arg_disable_agent(const struct cli *cli)
{
	int value = -1;
	for (int i = 1; i < cli->argc; i++) {
		const char *a = cli->argv[i];
		if (*a != '-')
			continue;
		a += a[1] == '-' ? 2 : 1;
		if (strcmp(a, "disable-agent") == 0)
			value = 1;
		else if (strncmp(a, "disable-agent=", 14) == 0)
			value = strcmp(a + 14, "true") == 0 || strcmp(a + 14, "1") == 0;
	}
	return value;
}

static void derive_role(struct cli *cli)
{
	const char *env = getenv("K3S_INIT_ROLE");
	if (env && *env) {
		cli->role = strcmp(env, "agent") == 0	       ? ROLE_AGENT
			    : strcmp(env, "control-plane") == 0 ? ROLE_CONTROL_PLANE
								: ROLE_SERVER;
		cli->role_source = "K3S_INIT_ROLE";
		return;
	}
	cli->role = ROLE_SERVER;
	cli->role_source = "default: not k3s server or agent, every repair applies";
	if (!cli->is_k3s || cli->subcommand == NULL)
		return;
	if (strcmp(cli->subcommand, "agent") == 0) {
		cli->role = ROLE_AGENT;
		cli->role_source = "arguments: k3s agent";
		return;
	}
	if (strcmp(cli->subcommand, "server") != 0)
		return;
	cli->role_source = "arguments: k3s server";
	int disable = arg_disable_agent(cli);
	if (disable >= 0) {
		cli->role = disable ? ROLE_CONTROL_PLANE : ROLE_SERVER;
		cli->role_source = "arguments: --disable-agent";
		return;
	}
	const char *value = k3s_config_value(&cli->config, "disable-agent");
	if (value != NULL && k3s_config_bool(value) == 1) {
		cli->role = ROLE_CONTROL_PLANE;
		cli->role_source = "config file: disable-agent: true";
	}
}

/* k3s (pkg/configfilearg): $K3S_CONFIG_FILE wins over -c/--config, which
 * wins over the default. Only `server` and `agent` read it. */
static void load_config(struct cli *cli)
{
	if (!cli_is_k3s_server_or_agent(cli))
		return;
	const char *config = getenv("K3S_CONFIG_FILE");
	if (config == NULL || *config == '\0')
		config = cli_flag_value(cli, "config", "c");
	if (config == NULL || *config == '\0')
		config = K3S_CONFIG_DEFAULT;
	cli->config_path = config;
	if (k3s_config_load(&cli->config, config) != 0)
		log_warn("k3s config %s: read only in part; k3s will report the same problem", config);
}

/* The k3s subcommand: the first argument naming one (k3s's own global
 * flags, --debug and --prefer-bundled-bin, take no value, but a value after a
 * flag such as `-v 2` must not be taken for it); else the first argument that
 * is not a flag, as k3s would try it. */
static const char *find_subcommand(const struct cli *cli)
{
	const char *first_word = NULL;
	for (int i = 1; i < cli->argc; i++) {
		const char *a = cli->argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (a[0] == '-')
			continue;
		if (is_subcommand(a))
			return a;
		if (first_word == NULL)
			first_word = a;
	}
	return first_word;
}

static int set_target(struct cli *cli, int argc, char **argv)
{
	/* argv[argc] is NULL (C11 5.1.2.2.1), so the vectors below stay terminated. */
	bool add_k3s = argc == 0 || argv[0][0] == '-' || is_subcommand(argv[0]);
	size_t n = (size_t)argc + (add_k3s ? 1 : 0);
	cli->argv = calloc(n + 1, sizeof *cli->argv);
	if (cli->argv == NULL) {
		log_error("out of memory");
		return -1;
	}
	size_t k = 0;
	if (add_k3s)
		cli->argv[k++] = (char *)"k3s";
	for (int i = 0; i < argc; i++)
		cli->argv[k++] = argv[i];
	cli->argc = (int)n;
	cli->is_k3s = strcmp(base_name(cli->argv[0]), "k3s") == 0;
	if (cli->is_k3s)
		cli->subcommand = find_subcommand(cli);
	return 0;
}

static int parse_args(struct cli *cli, int argc, char **argv)
{
	cli->command = CMD_RUN;
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "--version") == 0)) {
		if (argc > 2) {
			log_error("%s takes no arguments (got '%s')", argv[1], argv[2]);
			return -1;
		}
		cli->command = strcmp(argv[1], "--help") == 0 ? CMD_HELP : CMD_VERSION;
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "doctor") == 0) {
		cli->command = CMD_DOCTOR;
		return set_target(cli, argc - 2, argv + 2);
	}
	if (argc >= 2 && strcmp(argv[1], "supervise") == 0) {
		int at = 2;
		/* -g: like tini -g, signals go to the child's whole process group. */
		if (at < argc && strcmp(argv[at], "-g") == 0) {
			cli->supervise_group = true;
			at++;
		}
		if (at >= argc || strcmp(argv[at], "--") != 0) {
			bool option = at < argc && argv[at][0] == '-';
			log_error("usage: k3s-init supervise [-g] -- COMMAND [ARGS...] (%s%s%s)",
				  option ? "unknown option '" : "missing --", option ? argv[at] : "",
				  option ? "'" : "");
			return -1;
		}
		if (at + 1 >= argc) {
			log_error("usage: k3s-init supervise [-g] -- COMMAND [ARGS...] (missing COMMAND)");
			return -1;
		}
		cli->command = CMD_SUPERVISE;
		cli->supervise = true;
		return set_target(cli, argc - at - 1, argv + at + 1);
	}
	return set_target(cli, argc - 1, argv + 1);
}

/* k3s's precedence: the command line, then the config file (inserted before
 * it), then $K3S_DATA_DIR, then the default. */
static int derive_data_dir(struct cli *cli)
{
	const char *flag = cli->is_k3s ? cli_flag_value(cli, "data-dir", "d") : NULL;
	const char *config = cli->is_k3s ? k3s_config_value(&cli->config, "data-dir") : NULL;
	const char *env = getenv("K3S_DATA_DIR");
	const char *source = "default";
	cli->data_dir = DEFAULT_DATA_DIR;
	if (flag && *flag) {
		cli->data_dir = flag;
		source = "--data-dir";
	} else if (config && *config) {
		cli->data_dir = config;
		source = "data-dir in the config file";
	} else if (env && *env) {
		cli->data_dir = env;
		source = "K3S_DATA_DIR";
	}
	if (cli->data_dir[0] != '/') {
		log_error("k3s data dir '%s' (%s) must be an absolute path", cli->data_dir, source);
		return -1;
	}
	return 0;
}

int cli_parse(struct cli *cli, int argc, char **argv)
{
	memset(cli, 0, sizeof *cli);
	cli->k8s_minor = -1;
	cli->kubeconfig.dir_fd = -1;
	int bad = check_environment(cli) != 0;
	if (parse_args(cli, argc, argv) != 0)
		bad = 1;
	for (size_t i = 0; i < step_count; i++)
		if (steps[i]->validate && steps[i]->validate(cli) != 0)
			bad = 1;
	if (bad)
		return EXIT_USAGE;
	if (cli->command == CMD_HELP || cli->command == CMD_VERSION)
		return 0;
	load_config(cli);
	derive_role(cli);
	return derive_data_dir(cli) == 0 ? 0 : EXIT_USAGE;
}

void cli_free(struct cli *cli)
{
	k3s_config_free(&cli->config);
	kubeconfig_export_settings_free(&cli->kubeconfig);
	free(cli->argv);
	cli->argv = NULL;
}

void cli_usage(void)
{
	printf("usage: k3s-init [K3S-ARGS...]           repair the environment, then exec k3s K3S-ARGS\n"
	       "       k3s-init PROGRAM [ARGS...]        repair, then exec PROGRAM (no k3s flags added)\n"
	       "       k3s-init doctor [K3S-ARGS...]     print what was found and what would be done; change nothing\n"
	       "       k3s-init supervise [-g] -- CMD [ARGS]  repair, then run CMD with k3s-init staying PID 1\n"
	       "                                         (-g: signals go to CMD's whole process group)\n"
	       "       k3s-init --help | --version\n"
	       "Environment: K3S_INIT_<REPAIR>=auto|on|off, K3S_INIT_LOG=quiet|info|debug,\n"
	       "  K3S_INIT_ROLE=control-plane|server|agent, K3S_INIT_SUPERVISE=0|1, K3S_INIT_K3S_VERSION=vX.Y.Z-k3sN\n"
	       "Repairs, in order:");
	for (size_t i = 0; i < step_count; i++) {
		char s[64];
		step_env_name(steps[i], s, sizeof s);
		printf(" %s", s);
	}
	printf("\nSettings of the steps (K3S_INIT_...):");
	for (size_t i = 0; i < step_count; i++)
		for (const char *const *v = steps[i]->variables; v && *v; v++)
			printf(" %s", *v);
	printf("\nExit: 64 bad setting or arguments, 71 a required repair failed, 126/127 program not executable/found;\n"
	       "      doctor: 0 k3s can be expected to start, 1 it cannot (reasons listed).\n");
}
