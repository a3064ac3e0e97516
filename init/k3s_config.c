/*
 * Not a YAML parser: a line scan for a top-level `disable-agent: <bool>` key,
 * which is how the control-plane image's drop-in sets it. Nested keys are
 * indented and so never match.
 */
#include "k3s_config.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int parse_bool(char *v)
{
	char *hash = strchr(v, '#');
	if (hash)
		*hash = '\0';
	while (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'')
		v++;
	size_t n = strcspn(v, " \t\"'\r\n");
	v[n] = '\0';
	/* YAML 1.1 truthy spellings that Go's yaml parser accepts for a bool. */
	return strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0 ||
	       strcmp(v, "yes") == 0 || strcmp(v, "on") == 0;
}

static int scan_file(const char *path, int current)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return current;
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		static const char key[] = "disable-agent";
		if (strncmp(line, key, sizeof key - 1) != 0)
			continue;
		char *rest = line + sizeof key - 1;
		while (*rest == ' ' || *rest == '\t')
			rest++;
		if (*rest != ':')
			continue;
		current = parse_bool(rest + 1);
		log_debug("%s: disable-agent: %s", path, current ? "true" : "false");
	}
	fclose(f);
	return current;
}

static int yaml_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' &&
	       ((n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0) ||
		(n > 4 && strcmp(d->d_name + n - 4, ".yml") == 0));
}

int k3s_config_disable_agent(const char *path)
{
	int value = scan_file(path, -1);
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof dir, "%s.d", path) >= sizeof dir)
		return value;
	struct dirent **names = NULL;
	int n = scandir(dir, &names, yaml_name, alphasort);
	for (int i = 0; i < n; i++) {
		char file[PATH_MAX];
		if ((size_t)snprintf(file, sizeof file, "%s/%s", dir, names[i]->d_name) < sizeof file)
			value = scan_file(file, value);
		free(names[i]);
	}
	free(names);
	return value;
}
