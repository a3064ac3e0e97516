/*
 * The shared cluster token (see cluster_token.h).
 *
 * Why: the upstream compose file requires K3S_TOKEN from the environment, so
 * every copy of it ends up with the same well-known token. Here a server makes
 * a random one the first time and keeps it in a volume that both services
 * mount; k3s reads it through --token-file (K3S_TOKEN_FILE, k3s
 * pkg/cli/cmds/server.go and agent.go), which it trims of whitespace.
 */
#include "cluster_token.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "cluster_token_match.h"
#include "fsutil.h"
#include "log.h"
#include "repair.h"

/* 32 random bytes: the strength k3s itself gives the tokens it generates. */
#define TOKEN_BYTES 32
#define POLL_MS 200
/* A token is one line; anything much longer is not one. */
#define TOKEN_MAX_BYTES 4096

const char *const cluster_token_variables[] = { "TOKEN_DIR", "TOKEN_WAIT", NULL };

static bool env_set(const char *name)
{
	const char *value = getenv(name);
	return value != NULL && value[0] != '\0';
}

static int parse_seconds(const char *name, const char *value, unsigned max, unsigned *out)
{
	char *end = NULL;
	errno = 0;
	if (value[0] < '0' || value[0] > '9') {
		log_error("%s='%s': expected a whole number of seconds (0..%u)", name, value, max);
		return -1;
	}
	unsigned long parsed = strtoul(value, &end, 10);
	if (errno != 0 || *end != '\0' || parsed > max) {
		log_error("%s='%s': expected a whole number of seconds (0..%u)", name, value, max);
		return -1;
	}
	*out = (unsigned)parsed;
	return 0;
}

int cluster_token_settings_read(struct cluster_token_settings *settings)
{
	const char *dir = getenv("K3S_INIT_TOKEN_DIR");
	const char *wait = getenv("K3S_INIT_TOKEN_WAIT");

	if (dir == NULL || dir[0] == '\0')
		dir = CLUSTER_TOKEN_DEFAULT_DIR;
	/* The file name is appended, so leave room for "/token". */
	if (dir[0] != '/' || strlen(dir) + sizeof("/" CLUSTER_TOKEN_FILE_NAME) > sizeof settings->dir) {
		log_error("K3S_INIT_TOKEN_DIR='%s': expected an absolute path shorter than %zu characters", dir,
			  sizeof settings->dir - sizeof("/" CLUSTER_TOKEN_FILE_NAME));
		return -1;
	}
	memcpy(settings->dir, dir, strlen(dir) + 1);

	settings->wait_seconds = CLUSTER_TOKEN_DEFAULT_WAIT;
	if (wait != NULL && wait[0] != '\0' &&
	    parse_seconds("K3S_INIT_TOKEN_WAIT", wait, 86400, &settings->wait_seconds) != 0)
		return -1;
	return 0;
}

static void token_path(const struct cluster_token_settings *settings, char *path, size_t size)
{
	/* Length checked when the settings were read. */
	snprintf(path, size, "%s/%s", settings->dir, CLUSTER_TOKEN_FILE_NAME);
}

static bool dir_exists(const char *dir)
{
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * What is at <dir>/token, looked at without following a symlink:
 *   TOKEN_ABSENT    nothing
 *   TOKEN_USABLE    a regular file, mode 0600 or stricter, holding a token
 *                   (k3s trims surrounding whitespace; printable ASCII inside)
 *   TOKEN_EMPTY     a regular, private file with nothing but whitespace
 *   TOKEN_BAD       anything else (a symlink, dangling or not, a directory,
 *                   a file others may read, a token with control characters):
 *                   never used, never replaced; `why` says what is wrong
 */
enum token_state { TOKEN_ABSENT, TOKEN_USABLE, TOKEN_EMPTY, TOKEN_BAD };

static enum token_state token_check(const char *path, char *why, size_t why_len)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return TOKEN_ABSENT;
		snprintf(why, why_len, "cannot be read: %s", strerror(errno));
		return TOKEN_BAD;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, why_len, "is a symbolic link (%s)", stat(path, &st) == 0 ? "not followed" : "dangling");
		return TOKEN_BAD;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "is not a regular file");
		return TOKEN_BAD;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, why_len, "has mode %04o: a cluster token must not be readable by others (0600)",
			 (unsigned)(st.st_mode & 07777));
		return TOKEN_BAD;
	}
	size_t len = 0;
	char *text = read_file_at(AT_FDCWD, path, O_NOFOLLOW, TOKEN_MAX_BYTES, &len);
	if (text == NULL) {
		snprintf(why, why_len, "cannot be read: %s", strerror(errno));
		return TOKEN_BAD;
	}
	size_t start = strspn(text, " \t\r\n"), end = len;
	while (end > start && strchr(" \t\r\n", text[end - 1]) != NULL)
		end--;
	enum token_state state = end == start ? TOKEN_EMPTY : TOKEN_USABLE;
	for (size_t i = start; i < end && state == TOKEN_USABLE; i++) {
		if ((unsigned char)text[i] < 0x21 || (unsigned char)text[i] > 0x7e) {
			snprintf(why, why_len, "holds a character that no token has (byte 0x%02x at %zu)",
				 (unsigned char)text[i], i);
			state = TOKEN_BAD;
		}
	}
	explicit_bzero(text, len);
	free(text);
	if (state == TOKEN_EMPTY)
		snprintf(why, why_len, "is empty");
	return state;
}

static int random_hex(char *out, size_t bytes)
{
	unsigned char raw[TOKEN_BYTES];
	static const char digits[] = "0123456789abcdef";
	size_t filled = 0;

	while (filled < bytes) {
		ssize_t n = getrandom(raw + filled, bytes - filled, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("getrandom for the cluster token: %s", strerror(errno));
			return -1;
		}
		filled += (size_t)n;
	}
	for (size_t i = 0; i < bytes; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 0x0f];
	}
	out[2 * bytes] = '\n';
	out[2 * bytes + 1] = '\0';
	explicit_bzero(raw, sizeof raw);
	return 0;
}

/*
 * Write the token to a private temporary file, then publish it with link(),
 * which fails with EEXIST when another server got there first: a reader never
 * sees a half-written token and two servers never both win. With replace
 * (an empty token file is there) it is renamed over that file instead.
 * Returns 1 when created, 0 when one already existed, -1 on error.
 */
static int create_token(const struct cluster_token_settings *settings, const char *path, bool replace)
{
	char tmp[sizeof settings->dir + 32];
	char token[2 * TOKEN_BYTES + 2];
	int fd;

	snprintf(tmp, sizeof tmp, "%s/.token.XXXXXX", settings->dir);
	if (random_hex(token, TOKEN_BYTES) != 0)
		return -1;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot create the cluster token in %s: %s", settings->dir, strerror(errno));
		explicit_bzero(token, sizeof token);
		return -1;
	}
	int rc = -1;
	if (fchmod(fd, 0600) != 0 || write_all(fd, token, strlen(token)) != 0 || fsync(fd) != 0) {
		log_error("cannot write the cluster token %s: %s", tmp, strerror(errno));
	} else if (replace ? rename(tmp, path) == 0 : link(tmp, path) == 0) {
		rc = 1;
	} else if (!replace && errno == EEXIST) {
		rc = 0;
	} else {
		log_error("cannot publish the cluster token %s: %s", path, strerror(errno));
	}
	explicit_bzero(token, sizeof token);
	if (close(fd) != 0 && rc >= 0) {
		log_error("cannot write the cluster token %s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if ((!replace || rc != 1) && unlink(tmp) != 0)
		log_warn("cannot remove %s: %s", tmp, strerror(errno));
	return rc;
}

static int export_token_file(const char *path)
{
	if (setenv("K3S_TOKEN_FILE", path, 1) != 0) {
		log_error("setenv K3S_TOKEN_FILE: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int refuse(const char *path, const char *why)
{
	log_error("cluster token %s %s; refusing it (fix or remove it, or set K3S_TOKEN or K3S_TOKEN_FILE)", path,
		  why);
	return -1;
}

/* A server makes the token when there is none, and replaces an empty one
 * (no cluster can have been made with it); a bad one is refused, since
 * replacing a token the cluster already uses would lock every node out. */
static int server_token(const struct cluster_token_settings *settings, const char *path)
{
	char why[160] = "";
	enum token_state state = token_check(path, why, sizeof why);
	if (state == TOKEN_BAD)
		return refuse(path, why);
	if (state == TOKEN_USABLE) {
		log_info("cluster token: reusing %s", path);
		return export_token_file(path);
	}
	int created = create_token(settings, path, state == TOKEN_EMPTY);
	if (created < 0)
		return -1;
	if (created == 0) {
		/* Another server published one first: check it like any other. */
		state = token_check(path, why, sizeof why);
		if (state != TOKEN_USABLE)
			return refuse(path, state == TOKEN_ABSENT ? "vanished" : why);
		log_info("cluster token: reusing %s, made by another server just now", path);
	} else {
		log_info("cluster token: %s %s (0600)", state == TOKEN_EMPTY ? "replaced the empty" : "created", path);
	}
	return export_token_file(path);
}

/* An agent waits for a usable token; an empty or missing one may still be
 * written, a bad one will not mend itself. */
static int agent_token(const struct cluster_token_settings *settings, const char *path)
{
	long long deadline = clock_monotonic_ms() + (long long)settings->wait_seconds * 1000;
	bool said = false;
	for (;;) {
		char why[160] = "";
		enum token_state state = token_check(path, why, sizeof why);
		if (state == TOKEN_BAD)
			return refuse(path, why);
		if (state == TOKEN_USABLE) {
			log_info("cluster token: using %s", path);
			return export_token_file(path);
		}
		if (clock_monotonic_ms() >= deadline) {
			log_error("no usable cluster token at %s after %u s (K3S_INIT_TOKEN_WAIT; the file %s): start a "
				  "server sharing that volume first, or set K3S_TOKEN or K3S_TOKEN_FILE",
				  path, settings->wait_seconds, state == TOKEN_EMPTY ? "is empty" : "does not exist");
			return -1;
		}
		if (!said) {
			log_info("cluster token: waiting up to %u s for %s", settings->wait_seconds, path);
			said = true;
		}
		clock_sleep_ms(POLL_MS);
	}
}

/* An agent given its own K3S_TOKEN beside a token the servers share: the two
 * are compared (cluster_token_match.c). Read only. */
static bool shared_token_usable(const struct cluster_token_settings *settings, char *path, size_t size)
{
	char why[160] = "";
	if (!env_set("K3S_TOKEN") || !dir_exists(settings->dir))
		return false;
	token_path(settings, path, size);
	return token_check(path, why, sizeof why) == TOKEN_USABLE;
}

int cluster_token_apply(const struct cluster_token_settings *settings, bool server_role)
{
	char path[sizeof settings->dir + sizeof(CLUSTER_TOKEN_FILE_NAME) + 1];

	if (env_set("K3S_TOKEN") || env_set("K3S_TOKEN_FILE")) {
		if (!server_role && shared_token_usable(settings, path, sizeof path))
			return cluster_token_match_agent(getenv("K3S_TOKEN"), path);
		log_debug("cluster token: K3S_TOKEN or K3S_TOKEN_FILE is set; leaving it to k3s");
		return 0;
	}
	if (!dir_exists(settings->dir)) {
		if (server_role)
			log_debug("cluster token: no directory %s; k3s makes its own token", settings->dir);
		else
			log_warn("cluster token: no K3S_TOKEN, no K3S_TOKEN_FILE and no directory %s; "
				 "k3s agent will ask for a token", settings->dir);
		return 0;
	}
	token_path(settings, path, sizeof path);
	return server_role ? server_token(settings, path) : agent_token(settings, path);
}

/* --- the step (repair.h): K3S_INIT_CLUSTER_TOKEN=auto|on|off --------------- */

static bool is_server_role(enum role role)
{
	return role == ROLE_SERVER || role == ROLE_CONTROL_PLANE;
}

/* K3S_INIT_TOKEN_*: parsed with every other setting before any step changes
 * anything; a bad value is exit 64. */
static int cluster_token_validate(struct cli *cli)
{
	return cluster_token_settings_read(&cli->token);
}

/* Read only. */
static bool cluster_token_needed(const struct ctx *c, char *why, size_t len)
{
	char path[sizeof c->cli->token.dir + sizeof(CLUSTER_TOKEN_FILE_NAME) + 1];
	if (!is_server_role(c->cli->role) && shared_token_usable(&c->cli->token, path, sizeof path)) {
		enum token_match match = cluster_token_compare(getenv("K3S_TOKEN"), path);
		snprintf(why, len, "K3S_TOKEN is set beside the shared %s: %s", path,
			 match == TOKEN_DIFFERENT ? "they differ, and the server would refuse this agent"
			 : match == TOKEN_MATCH	  ? "they match"
						  : "not comparable (not both server tokens)");
		return true;
	}
	if (env_set("K3S_TOKEN") || env_set("K3S_TOKEN_FILE")) {
		snprintf(why, len, "K3S_TOKEN or K3S_TOKEN_FILE is set");
		return false;
	}
	if (!dir_exists(c->cli->token.dir)) {
		snprintf(why, len, "no shared token directory %s", c->cli->token.dir);
		return false;
	}
	snprintf(why, len, "no token set; shared directory %s", c->cli->token.dir);
	return true;
}

static int cluster_token_step_apply(struct ctx *c)
{
	return cluster_token_apply(&c->cli->token, is_server_role(c->cli->role));
}

const struct step step_cluster_token = {
	.name = "cluster_token",
	.roles = ROLES_ALL,
	/* An agent without its token cannot join. A server whose shared token
	 * file is unusable must not start either: it would make a token of its
	 * own that no agent sharing the volume has. (No shared directory at
	 * all: the step is not needed, and k3s makes its own token.) */
	.required = ROLES_ALL,
	.privileged = false,
	.needed = cluster_token_needed,
	.apply = cluster_token_step_apply,
	.validate = cluster_token_validate,
	.variables = cluster_token_variables,
};
