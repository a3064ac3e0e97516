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

enum token_match {
	TOKEN_MATCH,		 /* the same password */
	TOKEN_DIFFERENT,	 /* the server would refuse token */
	TOKEN_OWN_NOT_SERVER,	 /* token is an agent or bootstrap token */
	TOKEN_SHARED_NOT_SERVER, /* the file holds no server token */
	TOKEN_UNREADABLE,	 /* the file cannot be read (errno) */
};

/* token against the token file at path; read only, nothing logged (doctor
 * reports it as the step's reason). */
enum token_match cluster_token_compare(const char *token, const char *path);

/* The same at start: 0 when they match or cannot be compared (logged), -1
 * after logging an error naming the file when they differ or it cannot be
 * read. */
int cluster_token_match_agent(const char *token, const char *path);

#endif
