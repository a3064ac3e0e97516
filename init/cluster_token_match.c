/*
 * An agent's K3S_TOKEN against the shared cluster token (see
 * cluster_token_match.h).
 */
#include "cluster_token_match.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"

#define TOKEN_MAX_BYTES 4096
#define SECURE_PREFIX "K10"
#define SERVER_USER "server:"

static bool is_bootstrap_token(const char *token, size_t len)
{
	if (len != 23 || token[6] != '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = token[i];
		if (i != 6 && !((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			return false;
	}
	return true;
}

static const char *find_separator(const char *token, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (token[i] == ':' && token[i + 1] == ':')
			return token + i;
	return NULL;
}

bool server_token_password(const char *token, size_t len, size_t *start, size_t *password_len)
{
	size_t from = 0;
	if (len >= sizeof SECURE_PREFIX - 1 && memcmp(token, SECURE_PREFIX, sizeof SECURE_PREFIX - 1) == 0) {
		const char *separator = find_separator(token, len);
		if (separator != NULL) {
			from = (size_t)(separator - token) + 2;
			/* The credentials of a secure token: user:password; only the
			 * server's user is the cluster token. */
			if (len - from < sizeof SERVER_USER - 1 ||
			    memcmp(token + from, SERVER_USER, sizeof SERVER_USER - 1) != 0)
				return false;
			from += sizeof SERVER_USER - 1;
		}
	} else if (is_bootstrap_token(token, len)) {
		return false;
	}
	*start = from;
	*password_len = len - from;
	return *password_len > 0;
}

static void trim(const char *text, size_t len, size_t *start, size_t *end)
{
	*start = strspn(text, " \t\r\n");
	*end = len;
	while (*end > *start && strchr(" \t\r\n", text[*end - 1]) != NULL)
		(*end)--;
}

/* Constant time in the compared length, as for any secret. */
static bool same_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
	if (a_len != b_len)
		return false;
	unsigned char diff = 0;
	for (size_t i = 0; i < a_len; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

enum token_match cluster_token_compare(const char *token, const char *path)
{
	size_t own_from, own_len;
	if (!server_token_password(token, strlen(token), &own_from, &own_len))
		return TOKEN_OWN_NOT_SERVER;
	size_t len = 0;
	char *text = read_file_at(AT_FDCWD, path, O_NOFOLLOW, TOKEN_MAX_BYTES, &len);
	if (text == NULL)
		return TOKEN_UNREADABLE;
	size_t begin, end, shared_from, shared_len;
	trim(text, len, &begin, &end);
	enum token_match result = TOKEN_SHARED_NOT_SERVER;
	if (server_token_password(text + begin, end - begin, &shared_from, &shared_len))
		result = same_bytes(token + own_from, own_len, text + begin + shared_from, shared_len) ? TOKEN_MATCH
													: TOKEN_DIFFERENT;
	explicit_bzero(text, len);
	free(text);
	return result;
}

int cluster_token_match_agent(const char *token, const char *path)
{
	switch (cluster_token_compare(token, path)) {
	case TOKEN_MATCH:
		log_info("cluster token: K3S_TOKEN matches the shared %s", path);
		return 0;
	case TOKEN_OWN_NOT_SERVER:
		log_info("cluster token: K3S_TOKEN is not a server token (an agent or bootstrap token); "
			 "not compared with %s", path);
		return 0;
	case TOKEN_SHARED_NOT_SERVER:
		log_info("cluster token: %s is not a server token; K3S_TOKEN not compared with it", path);
		return 0;
	case TOKEN_UNREADABLE:
		log_error("cluster token: cannot read %s to compare K3S_TOKEN with it: %s", path, strerror(errno));
		return -1;
	case TOKEN_DIFFERENT:
		break;
	}
	log_error("cluster token: K3S_TOKEN is not the token the control-plane shares in %s, so the server "
		  "would refuse this agent; unset K3S_TOKEN to use the shared one, or give the "
		  "control-plane the same (K3S_INIT_CLUSTER_TOKEN=off skips this check)",
		  path);
	return -1;
}
