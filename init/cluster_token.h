/*
 * The cluster token, shared by the services of one compose project without any
 * fixed secret: a server creates it once in a shared directory, agents wait
 * for it. Either side then exports K3S_TOKEN_FILE for k3s.
 *
 * Settings (environment):
 *   K3S_INIT_TOKEN_DIR   shared directory (absolute; default /var/lib/k3s-sandbox).
 *                        Nothing happens when it does not exist: k3s then makes its
 *                        own token (server) or asks for one (agent).
 *   K3S_INIT_TOKEN_WAIT  seconds an agent waits for the token (0..86400, default 120).
 * Nothing is made when K3S_TOKEN or K3S_TOKEN_FILE is already set; an agent's
 * own K3S_TOKEN is then compared with a shared token file that holds one
 * (cluster_token_match.h).
 * A token file must be a regular file (not a symlink), mode 0600 or
 * stricter, holding printable characters; anything else is refused, an empty
 * one is replaced by a server and waited out by an agent (cluster_token.c).
 */
#ifndef K3S_INIT_CLUSTER_TOKEN_H
#define K3S_INIT_CLUSTER_TOKEN_H

#include <stdbool.h>

#define CLUSTER_TOKEN_DEFAULT_DIR "/var/lib/k3s-sandbox"
#define CLUSTER_TOKEN_FILE_NAME "token"
#define CLUSTER_TOKEN_DEFAULT_WAIT 120

struct cluster_token_settings {
	char dir[256];
	unsigned wait_seconds;
};

/* The variables above, without K3S_INIT_ (cli.c accepts exactly these). */
extern const char *const cluster_token_variables[];

/* Read and validate the settings. Returns 0, or -1 after logging an error that
 * names the variable (the caller exits 64, nothing having been changed). */
int cluster_token_settings_read(struct cluster_token_settings *settings);

/* Server roles: create the token once (or reuse it) and export K3S_TOKEN_FILE.
 * Agents: wait for the token and export K3S_TOKEN_FILE.
 * Returns 0 (done or nothing to do), or -1 after logging an error. */
int cluster_token_apply(const struct cluster_token_settings *settings, bool server_role);

#endif
