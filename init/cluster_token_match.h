/*
 * Whether an agent's own K3S_TOKEN is the cluster token that the servers of
 * its compose project share (cluster_token.c publishes it). Without this
 * check a mismatch shows only as k3s agent retrying, refused by the server,
 * for as long as it runs.
 */
#ifndef K3S_INIT_CLUSTER_TOKEN_MATCH_H
#define K3S_INIT_CLUSTER_TOKEN_MATCH_H

#include <stdbool.h>
#include <stddef.h>

/* The password of a server token, the part k3s authenticates: a token is
 * either the password alone or K10<ca-hash>::server:<password> (k3s docs,
 * cli/token.md). False for tokens this check cannot compare: another user
 * than "server" (an agent token) or a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}),
 * which a server accepts besides its own. */
bool server_token_password(const char *token, size_t len, size_t *start, size_t *password_len);

/* K3S_TOKEN against the usable token file at path: 0 when they match or
 * cannot be compared (logged), -1 after logging an error naming both when
 * they differ or the file cannot be read. */
int cluster_token_match_agent(const char *token, const char *path);

#endif
