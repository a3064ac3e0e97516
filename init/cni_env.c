#include "cni_env.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum cni_command cmd;
} commands[] = {
	{ "ADD", CNI_CMD_ADD }, { "DEL", CNI_CMD_DEL },		  { "CHECK", CNI_CMD_CHECK },
	{ "GC", CNI_CMD_GC },   { "STATUS", CNI_CMD_STATUS }, { "VERSION", CNI_CMD_VERSION },
};

/* Which variables each command needs. Upstream's skeleton (pkg/skel/skel.go)
 * also insists on CNI_PATH for everything but VERSION, so a runtime that works
 * with the real plugin works with this one. */
enum { NEED_CONTAINERID = 1, NEED_NETNS = 2, NEED_IFNAME = 4, NEED_PATH = 8 };

static unsigned needs(enum cni_command cmd)
{
	switch (cmd) {
	case CNI_CMD_ADD:
	case CNI_CMD_CHECK:
		return NEED_CONTAINERID | NEED_NETNS | NEED_IFNAME | NEED_PATH;
	case CNI_CMD_DEL:
		return NEED_CONTAINERID | NEED_IFNAME | NEED_PATH;
	case CNI_CMD_GC:
	case CNI_CMD_STATUS:
		return NEED_PATH;
	default:
		return 0;
	}
}

/* ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ : container IDs and network names. */
bool cni_valid_name(const char *s)
{
	if (s == NULL || s[0] == '\0')
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (p == s || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

int cni_validate_ifname(const char *ifname, struct cni_error *err)
{
	if (ifname[0] == '\0')
		return cni_fail(err, CNI_ERR_INVALID_ENV, "interface name is empty");
	if (strlen(ifname) > 15) {
		cni_fail(err, CNI_ERR_INVALID_ENV, "interface name is too long");
		cni_error_details(err, "interface name should be less than 16 characters");
		return -1;
	}
	if (strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
		return cni_fail(err, CNI_ERR_INVALID_ENV, "interface name is . or ..");
	/* Go's unicode.IsSpace over ASCII plus the two Latin-1 spaces (U+0085, U+00A0 in UTF-8). */
	for (const unsigned char *p = (const unsigned char *)ifname; *p; p++) {
		bool space = *p == ' ' || (*p >= '\t' && *p <= '\r') ||
			     (p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0));
		if (*p == '/' || *p == ':' || space)
			return cni_fail(err, CNI_ERR_INVALID_ENV,
					"interface name contains / or : or whitespace characters");
	}
	return 0;
}

static const char *getenv_or_empty(const char *name)
{
	const char *v = getenv(name);
	return v ? v : "";
}

int cni_env_load(struct cni_env *env, struct cni_error *err)
{
	memset(env, 0, sizeof *env);
	env->command_name = getenv_or_empty("CNI_COMMAND");
	env->container_id = getenv_or_empty("CNI_CONTAINERID");
	env->netns = getenv_or_empty("CNI_NETNS");
	env->ifname = getenv_or_empty("CNI_IFNAME");
	env->args = getenv_or_empty("CNI_ARGS");
	env->path = getenv_or_empty("CNI_PATH");
	if (env->command_name[0] == '\0')
		return 0;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(env->command_name, commands[i].name) == 0)
			env->command = commands[i].cmd;
	}
	unsigned need = needs(env->command);
	/* Upstream validates before listing what is missing; keep its order. */
	if ((need & NEED_CONTAINERID) && env->container_id[0] != '\0' && !cni_valid_name(env->container_id)) {
		cni_fail(err, CNI_ERR_INVALID_ENV, "invalid characters in containerID");
		cni_error_details(err, "%s", env->container_id);
		return -1;
	}
	if ((need & NEED_IFNAME) && env->ifname[0] != '\0' && cni_validate_ifname(env->ifname, err) < 0)
		return -1;
	char missing[128] = "";
	const struct {
		unsigned bit;
		const char *name;
		const char *value;
	} vars[] = {
		{ NEED_CONTAINERID, "CNI_CONTAINERID", env->container_id },
		{ NEED_NETNS, "CNI_NETNS", env->netns },
		{ NEED_IFNAME, "CNI_IFNAME", env->ifname },
		{ NEED_PATH, "CNI_PATH", env->path },
	};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		if ((need & vars[i].bit) && vars[i].value[0] == '\0') {
			if (missing[0] != '\0')
				strcat(missing, ",");
			strcat(missing, vars[i].name);
		}
	}
	if (missing[0] != '\0')
		return cni_fail(err, CNI_ERR_INVALID_ENV, "required env variables [%s] missing", missing);
	if (env->command == CNI_CMD_NONE)
		return cni_fail(err, CNI_ERR_INVALID_ENV, "unknown CNI_COMMAND: %s", env->command_name);
	return 0;
}
