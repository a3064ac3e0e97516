/*
 * The top-level keys of k3s's config file and its drop-ins, read once, so that
 * "the user already set it" and the role see what k3s will see.
 * k3s pkg/configfilearg/parser.go: the file is $K3S_CONFIG_FILE, else -c /
 * --config, else /etc/rancher/k3s/config.yaml; then the files in <file>.d/
 * named .yaml or .yml, in file-name order. A later `key:` replaces an earlier one; `key+:` appends.
 */
#ifndef K3S_INIT_K3S_CONFIG_H
#define K3S_INIT_K3S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define K3S_CONFIG_DEFAULT "/etc/rancher/k3s/config.yaml"

struct k3s_config_entry {
	char *key;    /* without a trailing '+' */
	char *value;  /* one scalar, or one item of a list */
};

struct k3s_config {
	struct k3s_config_entry *entries; /* in effect, in order */
	size_t count, cap;
};

/* Read `path` and its drop-ins. A missing file is no error (k3s ignores it
 * too). 0, or -1 after logging (out of memory, an unreadable file). */
int k3s_config_load(struct k3s_config *cfg, const char *path);
void k3s_config_free(struct k3s_config *cfg);

/* The last value of key (a scalar key), or NULL. */
const char *k3s_config_value(const struct k3s_config *cfg, const char *key);
/* Whether some value of key (a list key such as kubelet-arg) contains needle. */
bool k3s_config_mentions(const struct k3s_config *cfg, const char *key, const char *needle);
/* YAML 1.1 booleans as Go's yaml parser reads them: 1 true, 0 false, -1 neither. */
int k3s_config_bool(const char *value);

#endif
