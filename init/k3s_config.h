/* Just enough of k3s's config file and drop-ins to know the role. */
#ifndef K3S_INIT_K3S_CONFIG_H
#define K3S_INIT_K3S_CONFIG_H

/* Scan `path` and then <path>.d/ (*.yaml, *.yml) in file-name order (k3s
 * pkg/configfilearg/parser.go) for a top-level `disable-agent:` key; the last
 * one wins. 1 when true, 0 when false, -1 when no file sets it. */
int k3s_config_disable_agent(const char *path);

#endif
