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
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "repair.h"

/* 32 random bytes: the strength k3s itself gives the tokens it generates. */
#define TOKEN_BYTES 32
#define POLL_NANOSECONDS 200000000L

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

/* A token file is usable once it is a regular, non-empty file. */
static int token_usable(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		log_error("cannot read cluster token %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("cluster token %s is not a regular file", path);
		return -1;
	}
	return st.st_size > 0 ? 1 : 0;
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
 * sees a half-written token and two servers never both win.
 * Returns 1 when created, 0 when one already existed, -1 on error.
 */
static int create_token(const struct cluster_token_settings *settings, const char *path)
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
	} else if (link(tmp, path) == 0) {
		rc = 1;
	} else if (errno == EEXIST) {
		rc = 0;
	} else {
		log_error("cannot publish the cluster token %s: %s", path, strerror(errno));
	}
	explicit_bzero(token, sizeof token);
	if (close(fd) != 0 && rc >= 0) {
		log_error("cannot write the cluster token %s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (unlink(tmp) != 0)
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

static int server_token(const struct cluster_token_settings *settings, const char *path)
{
	int usable = token_usable(path);
	if (usable < 0)
		return -1;
	if (usable == 0) {
		int created = create_token(settings, path);
		if (created < 0)
			return -1;
		log_info("cluster token: %s %s (0600)", created ? "created" : "reusing", path);
	} else {
		log_info("cluster token: reusing %s", path);
	}
	return export_token_file(path);
}

static long long elapsed_ms(const struct timespec *from, const struct timespec *to)
{
	return (long long)(to->tv_sec - from->tv_sec) * 1000 + (to->tv_nsec - from->tv_nsec) / 1000000;
}

static int agent_token(const struct cluster_token_settings *settings, const char *path)
{
	struct timespec start, now;
	const struct timespec pause = { 0, POLL_NANOSECONDS };
	bool said = false;

	if (clock_gettime(CLOCK_MONOTONIC, &start) != 0) {
		log_error("clock_gettime: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		int usable = token_usable(path);
		if (usable < 0)
			return -1;
		if (usable > 0) {
			log_info("cluster token: using %s", path);
			return export_token_file(path);
		}
		if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) {
			log_error("clock_gettime: %s", strerror(errno));
			return -1;
		}
		if (elapsed_ms(&start, &now) >= (long long)settings->wait_seconds * 1000) {
			log_error("no cluster token at %s after %u s (K3S_INIT_TOKEN_WAIT): start a server "
				  "sharing that volume first, or set K3S_TOKEN or K3S_TOKEN_FILE",
				  path, settings->wait_seconds);
			return -1;
		}
		if (!said) {
			log_info("cluster token: waiting up to %u s for %s", settings->wait_seconds, path);
			said = true;
		}
		nanosleep(&pause, NULL);
	}
}

int cluster_token_apply(const struct cluster_token_settings *settings, bool server_role)
{
	char path[sizeof settings->dir + sizeof(CLUSTER_TOKEN_FILE_NAME) + 1];

	if (env_set("K3S_TOKEN") || env_set("K3S_TOKEN_FILE")) {
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

/* K3S_INIT_TOKEN_* (left to this step by the core): checked with every
 * other setting before any step changes anything; a bad value is exit 64. */
static int cluster_token_validate(void)
{
	struct cluster_token_settings settings;
	return cluster_token_settings_read(&settings);
}

/* Read only. */
static bool cluster_token_needed(const struct ctx *c, char *why, size_t len)
{
	struct cluster_token_settings settings;
	(void)c;
	if (cluster_token_settings_read(&settings) != 0) {
		snprintf(why, len, "bad K3S_INIT_TOKEN_* setting");
		return false;
	}
	if (env_set("K3S_TOKEN") || env_set("K3S_TOKEN_FILE")) {
		snprintf(why, len, "K3S_TOKEN or K3S_TOKEN_FILE is set");
		return false;
	}
	if (!dir_exists(settings.dir)) {
		snprintf(why, len, "no shared token directory %s", settings.dir);
		return false;
	}
	snprintf(why, len, "no token set; shared directory %s", settings.dir);
	return true;
}

static int cluster_token_step_apply(struct ctx *c)
{
	struct cluster_token_settings settings;
	if (cluster_token_settings_read(&settings) != 0)
		return -1;
	return cluster_token_apply(&settings, is_server_role(c->cli->role));
}

const struct step step_cluster_token = {
	.name = "cluster_token",
	.roles = ROLES_ALL,
	/* An agent without its token cannot join; a server without one makes its own. */
	.required = ROLE_BIT(ROLE_AGENT),
	.privileged = false,
	.needed = cluster_token_needed,
	.apply = cluster_token_step_apply,
	.validate = cluster_token_validate,
};
