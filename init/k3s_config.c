/*
 * Not a YAML parser: a line scan of top-level keys, which is all k3s's config
 * file holds (flag names as keys). Understood: `key: scalar`, quoted scalars,
 * `key: [a, b]`, a block list of `- item` lines under `key:`, `key+:` to
 * append, and comments. Nested maps are skipped (no k3s flag takes one).
 */
#include "k3s_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"

#define MAX_CONFIG_BYTES (1024 * 1024)

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* A scalar: quotes removed, or an unquoted word up to a " #" comment. */
static char *scalar(char *s)
{
	s = trim(s);
	if (*s == '"' || *s == '\'') {
		char *end = strchr(s + 1, *s);
		if (end != NULL) {
			*end = '\0';
			return s + 1;
		}
	}
	for (char *p = s; *p; p++) {
		if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	return trim(s);
}

static int add(struct k3s_config *cfg, const char *key, const char *value)
{
	if (cfg->count == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 16;
		struct k3s_config_entry *grown = realloc(cfg->entries, cap * sizeof *grown);
		if (grown == NULL)
			return -1;
		cfg->entries = grown;
		cfg->cap = cap;
	}
	char *k = strdup(key), *v = strdup(value);
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return -1;
	}
	struct k3s_config_entry *e = &cfg->entries[cfg->count++];
	e->key = k;
	e->value = v;
	return 0;
}

static void drop(struct k3s_config *cfg, const char *key)
{
	size_t kept = 0;
	for (size_t i = 0; i < cfg->count; i++) {
		if (strcmp(cfg->entries[i].key, key) == 0) {
			free(cfg->entries[i].key);
			free(cfg->entries[i].value);
		} else {
			cfg->entries[kept++] = cfg->entries[i];
		}
	}
	cfg->count = kept;
}

/* "[a, b, 'c']" */
static int add_flow_list(struct k3s_config *cfg, const char *key, char *list)
{
	char *end = strrchr(list, ']');
	if (end != NULL)
		*end = '\0';
	char *save = NULL;
	for (char *item = strtok_r(list + 1, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *v = scalar(item);
		if (*v != '\0' && add(cfg, key, v) != 0)
			return -1;
	}
	return 0;
}

/* One top-level "key[+]: rest" line; *list_key is set when a block list may follow. */
static int key_line(struct k3s_config *cfg, char *line, char *list_key, size_t list_key_len)
{
	list_key[0] = '\0';
	char *colon = strchr(line, ':');
	if (colon == NULL)
		return 0;
	*colon = '\0';
	char *key = trim(line), *rest = trim(colon + 1);
	size_t kl = strlen(key);
	bool append = kl > 0 && key[kl - 1] == '+';
	if (append)
		key[--kl] = '\0';
	if (kl == 0 || kl >= list_key_len)
		return 0;
	if (!append)
		drop(cfg, key);
	if (*rest == '\0' || *rest == '#') {
		snprintf(list_key, list_key_len, "%s", key);
		return 0;
	}
	if (*rest == '[')
		return add_flow_list(cfg, key, rest);
	return add(cfg, key, scalar(rest));
}

static int load_text(struct k3s_config *cfg, char *text)
{
	char list_key[128] = "";
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *t = trim(line);
		if (*t == '\0' || *t == '#')
			continue;
		if (line[0] == ' ' || line[0] == '\t' || line[0] == '-') {
			/* A list item belongs to the last key that had no value;
			 * nested map lines ("  name: x") are skipped. */
			if (list_key[0] != '\0' && t[0] == '-' && (t[1] == ' ' || t[1] == '\0') &&
			    add(cfg, list_key, scalar(t + 1)) != 0)
				return -1;
			continue;
		}
		if (key_line(cfg, line, list_key, sizeof list_key) != 0)
			return -1;
	}
	return 0;
}

static int load_file(struct k3s_config *cfg, const char *path)
{
	char *text = read_file_at(AT_FDCWD, path, 0, MAX_CONFIG_BYTES, NULL);
	if (text == NULL) {
		if (errno == ENOENT)
			return 0;
		log_error("k3s config file %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = load_text(cfg, text);
	free(text);
	if (rc != 0)
		log_error("k3s config file %s: out of memory", path);
	else
		log_debug("read k3s config file %s", path);
	return rc;
}

static int yaml_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && ((n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0) ||
				       (n > 4 && strcmp(d->d_name + n - 4, ".yml") == 0));
}

int k3s_config_load(struct k3s_config *cfg, const char *path)
{
	memset(cfg, 0, sizeof *cfg);
	if (load_file(cfg, path) != 0)
		return -1;
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof dir, "%s.d", path) >= sizeof dir)
		return 0;
	struct dirent **names = NULL;
	int n = scandir(dir, &names, yaml_name, alphasort);
	if (n < 0 && errno != ENOENT && errno != ENOTDIR) {
		log_error("k3s config drop-ins %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char file[PATH_MAX];
		if (rc == 0 && (size_t)snprintf(file, sizeof file, "%s/%s", dir, names[i]->d_name) < sizeof file)
			rc = load_file(cfg, file);
		free(names[i]);
	}
	free(names);
	return rc;
}

void k3s_config_free(struct k3s_config *cfg)
{
	for (size_t i = 0; i < cfg->count; i++) {
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
	}
	free(cfg->entries);
	memset(cfg, 0, sizeof *cfg);
}

const char *k3s_config_value(const struct k3s_config *cfg, const char *key)
{
	for (size_t i = cfg->count; i-- > 0;)
		if (strcmp(cfg->entries[i].key, key) == 0)
			return cfg->entries[i].value;
	return NULL;
}

bool k3s_config_mentions(const struct k3s_config *cfg, const char *key, const char *needle)
{
	for (size_t i = 0; i < cfg->count; i++)
		if (strcmp(cfg->entries[i].key, key) == 0 && strstr(cfg->entries[i].value, needle) != NULL)
			return true;
	return false;
}

int k3s_config_bool(const char *v)
{
	static const char *const truthy[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL };
	static const char *const falsy[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL };
	for (int i = 0; truthy[i]; i++)
		if (strcmp(v, truthy[i]) == 0)
			return 1;
	for (int i = 0; falsy[i]; i++)
		if (strcmp(v, falsy[i]) == 0)
			return 0;
	return -1;
}
