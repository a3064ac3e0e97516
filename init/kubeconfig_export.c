/*
 * Kubeconfig export (see kubeconfig_export.h).
 *
 * Why: k3s writes its kubeconfig inside the container, pointing at
 * https://127.0.0.1:<port> (k3s pkg/cli/server/server.go), and the upstream
 * compose file bind-mounts /output with mode 666 so that the host user can read
 * a root-owned file (k3s#1381, k3d#1613). Here a small watcher copies it to the
 * mounted directory with mode 0600, owned by whoever owns that directory, once
 * the API port accepts connections, and prints one ready line (k3s#12598: no
 * "setup complete" signal exists; testcontainers' log line never appears
 * without an agent).
 * The watcher does no execve: it is a fork of the init that k3s, exec'd as
 * PID 1, inherits as a child and reaps (k3s pkg/cli/cmds/log_linux.go).
 */
#include "kubeconfig_export.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "repair.h"

#define POLL_NANOSECONDS 250000000L
#define MAX_KUBECONFIG_BYTES (1024 * 1024)

static int copy_setting(char *dst, size_t size, const char *name, const char *value)
{
	if (strlen(value) >= size) {
		log_error("%s: longer than %zu characters", name, size - 1);
		return -1;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* A server URL goes verbatim into YAML: allow only what a URL needs, so that
 * nothing can break out of the scalar. */
static int validate_server(const char *name, const char *value)
{
	const char *host = value + strlen("https://");
	if (strncmp(value, "https://", strlen("https://")) != 0 || host[0] == '\0' || host[0] == '/' ||
	    host[0] == ':') {
		log_error("%s='%s': expected https://HOST[:PORT]", name, value);
		return -1;
	}
	for (const char *p = value; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr(".-_:/[]%", *p) != NULL)) {
			log_error("%s='%s': character '%c' is not allowed in a server URL", name, value, *p);
			return -1;
		}
	}
	return 0;
}

static int read_server(char *dst, size_t size, const char *name, const char *fallback)
{
	const char *value = getenv(name);
	if (value == NULL || value[0] == '\0')
		value = fallback;
	if (validate_server(name, value) != 0)
		return -1;
	return copy_setting(dst, size, name, value);
}

static int read_wait(unsigned *out)
{
	const char *value = getenv("K3S_INIT_KUBECONFIG_WAIT");
	char *end = NULL;

	*out = KUBECONFIG_DEFAULT_WAIT;
	if (value == NULL || value[0] == '\0')
		return 0;
	errno = 0;
	unsigned long parsed = strtoul(value, &end, 10);
	if (value[0] < '0' || value[0] > '9' || errno != 0 || *end != '\0' || parsed < 1 || parsed > 86400) {
		log_error("K3S_INIT_KUBECONFIG_WAIT='%s': expected a whole number of seconds (1..86400)", value);
		return -1;
	}
	*out = (unsigned)parsed;
	return 0;
}

int kubeconfig_export_settings_read(struct kubeconfig_export_settings *settings)
{
	const char *dir = getenv("K3S_INIT_KUBECONFIG_DIR");
	const char *source = getenv("K3S_KUBECONFIG_OUTPUT");
	struct stat st;

	memset(settings, 0, sizeof *settings);
	if (read_server(settings->server, sizeof settings->server, "K3S_INIT_KUBECONFIG_SERVER",
			KUBECONFIG_DEFAULT_SERVER) != 0 ||
	    read_server(settings->internal_server, sizeof settings->internal_server,
			"K3S_INIT_KUBECONFIG_INTERNAL_SERVER", KUBECONFIG_DEFAULT_INTERNAL_SERVER) != 0 ||
	    read_wait(&settings->wait_seconds) != 0)
		return -1;
	if (source == NULL || source[0] == '\0')
		source = KUBECONFIG_DEFAULT_SOURCE;
	if (copy_setting(settings->source, sizeof settings->source, "K3S_KUBECONFIG_OUTPUT", source) != 0)
		return -1;
	if (dir == NULL || dir[0] == '\0')
		return 0;
	/* Room for "/.kubeconfig-internal.yaml.XXXXXX". */
	if (dir[0] != '/' || strlen(dir) > sizeof settings->dir - 40) {
		log_error("K3S_INIT_KUBECONFIG_DIR='%s': expected an absolute path shorter than %zu characters", dir,
			  sizeof settings->dir - 40);
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_error("K3S_INIT_KUBECONFIG_DIR='%s': not a directory (mount one there, e.g. -v \"$PWD/kubeconfig:%s\")",
			  dir, dir);
		return -1;
	}
	settings->enabled = true;
	return copy_setting(settings->dir, sizeof settings->dir, "K3S_INIT_KUBECONFIG_DIR", dir);
}

char *kubeconfig_with_server(const char *text, const char *server)
{
	size_t lines = 1;
	for (const char *p = text; *p != '\0'; p++)
		lines += *p == '\n';
	/* Each rewritten line grows by at most the URL and a newline. */
	size_t cap = strlen(text) + lines * (strlen(server) + 16) + 1;
	char *out = malloc(cap);
	if (out == NULL)
		return NULL;

	size_t len = 0;
	unsigned replaced = 0;
	const char *line = text;
	while (*line != '\0') {
		const char *eol = strchr(line, '\n');
		size_t line_len = eol ? (size_t)(eol - line) + 1 : strlen(line);
		size_t indent = strspn(line, " \t");
		if (indent < line_len && strncmp(line + indent, "server:", strlen("server:")) == 0) {
			int n = snprintf(out + len, cap - len, "%.*sserver: %s\n", (int)indent, line, server);
			if (n < 0 || (size_t)n >= cap - len) {
				free(out);
				return NULL;
			}
			len += (size_t)n;
			replaced++;
		} else {
			memcpy(out + len, line, line_len);
			len += line_len;
		}
		line += line_len;
	}
	out[len] = '\0';
	if (replaced == 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The whole file, or NULL when it is missing, empty, unfinished or unreadable. */
static char *read_kubeconfig(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = malloc(MAX_KUBECONFIG_BYTES + 1);
	size_t len = 0;
	if (buf != NULL) {
		for (;;) {
			ssize_t n = read(fd, buf + len, MAX_KUBECONFIG_BYTES - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
			if (len == MAX_KUBECONFIG_BYTES)
				break;
		}
		buf[len] = '\0';
	}
	close(fd);
	/* k3s writes the file in one go; one that does not end in a newline is
	 * still being written. */
	if (buf != NULL && (len == 0 || buf[len - 1] != '\n' || strstr(buf, "server:") == NULL)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The port of the first "server: https://HOST:PORT" in the text, or 6443. */
static unsigned server_port(const char *text)
{
	const char *server = strstr(text, "server:");
	const char *eol = server ? strchr(server, '\n') : NULL;
	if (server == NULL || eol == NULL)
		return 6443;
	const char *colon = NULL;
	for (const char *p = server + strlen("server:"); p < eol; p++)
		if (*p == ':')
			colon = p;
	if (colon == NULL)
		return 6443;
	unsigned long port = strtoul(colon + 1, NULL, 10);
	return port > 0 && port < 65536 ? (unsigned)port : 6443;
}

static bool port_accepts(unsigned port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
	close(fd);
	return ok;
}

/* Temp file + rename: a reader on the host never sees half a kubeconfig. */
static int write_file(const char *dir, const char *name, const char *text, const struct stat *owner)
{
	char tmp[512], path[512];
	snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name);
	snprintf(path, sizeof path, "%s/%s", dir, name);

	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		log_error("kubeconfig: cannot create a file in %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = -1;
	if (fchmod(fd, 0600) != 0)
		log_error("kubeconfig: chmod %s: %s", tmp, strerror(errno));
	else if (fchown(fd, owner->st_uid, owner->st_gid) != 0)
		log_error("kubeconfig: chown %s to %u:%u (the owner of %s): %s", tmp, (unsigned)owner->st_uid,
			  (unsigned)owner->st_gid, dir, strerror(errno));
	else if (write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0)
		log_error("kubeconfig: write %s: %s", tmp, strerror(errno));
	else
		rc = 0;
	if (close(fd) != 0 && rc == 0) {
		log_error("kubeconfig: write %s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		log_error("kubeconfig: rename %s to %s: %s", tmp, path, strerror(errno));
		rc = -1;
	}
	if (rc != 0 && unlink(tmp) != 0)
		log_warn("kubeconfig: cannot remove %s: %s", tmp, strerror(errno));
	return rc;
}

static int export_as(const struct kubeconfig_export_settings *settings, const char *text, const char *name,
		     const char *server, const struct stat *owner)
{
	char *rewritten = kubeconfig_with_server(text, server);
	if (rewritten == NULL) {
		log_error("kubeconfig: no server line in %s", settings->source);
		return -1;
	}
	int rc = write_file(settings->dir, name, rewritten, owner);
	free(rewritten);
	return rc;
}

static long long elapsed_ms(const struct timespec *from, const struct timespec *to)
{
	return (long long)(to->tv_sec - from->tv_sec) * 1000 + (to->tv_nsec - from->tv_nsec) / 1000000;
}

/* Wait for k3s's kubeconfig and an open API port; NULL after the deadline. */
static char *wait_for_api(const struct kubeconfig_export_settings *settings)
{
	const struct timespec pause = { 0, POLL_NANOSECONDS };
	struct timespec start, now;

	if (clock_gettime(CLOCK_MONOTONIC, &start) != 0)
		return NULL;
	for (;;) {
		char *text = read_kubeconfig(settings->source);
		if (text != NULL && port_accepts(server_port(text))) {
			/* Read again: the port opening is the last step of k3s's start. */
			free(text);
			text = read_kubeconfig(settings->source);
			if (text != NULL)
				return text;
		}
		free(text);
		if (clock_gettime(CLOCK_MONOTONIC, &now) != 0 ||
		    elapsed_ms(&start, &now) >= (long long)settings->wait_seconds * 1000)
			return NULL;
		nanosleep(&pause, NULL);
	}
}

int kubeconfig_export_run(const struct kubeconfig_export_settings *settings)
{
	struct stat owner;
	char *text = wait_for_api(settings);

	if (text == NULL) {
		log_error("kubeconfig: %s did not appear or the API port did not open within %u s "
			  "(K3S_INIT_KUBECONFIG_WAIT); nothing written to %s",
			  settings->source, settings->wait_seconds, settings->dir);
		return -1;
	}
	int rc = -1;
	if (stat(settings->dir, &owner) != 0)
		log_error("kubeconfig: stat %s: %s", settings->dir, strerror(errno));
	else if (export_as(settings, text, "kubeconfig.yaml", settings->server, &owner) == 0 &&
		 export_as(settings, text, "kubeconfig-internal.yaml", settings->internal_server, &owner) == 0)
		rc = 0;
	free(text);
	if (rc == 0) {
		/* Printed even when K3S_INIT_LOG=quiet: wait strategies match this line. */
		dprintf(STDERR_FILENO, "k3s-init: ready: Kubernetes API at %s; kubeconfig written to %s/kubeconfig.yaml\n",
			settings->server, settings->dir);
	}
	return rc;
}

int kubeconfig_export_start(const struct kubeconfig_export_settings *settings)
{
	if (!settings->enabled)
		return 0;
	pid_t pid = fork();
	if (pid < 0) {
		log_error("kubeconfig: fork the watcher: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		log_info("kubeconfig: will write %s/kubeconfig.yaml (server %s) when the API answers", settings->dir,
			 settings->server);
		return 0;
	}
	/* The child: no signal mask or handlers of the init's, so that the
	 * container's stop signal ends it like any other process. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	_exit(kubeconfig_export_run(settings) == 0 ? 0 : 1);
}

/* --- the step (repair.h): K3S_INIT_EXPORT_KUBECONFIG=auto|on|off ----------- */

/* K3S_INIT_KUBECONFIG_* (left to this step by the core): checked with every
 * other setting before any step changes anything; a bad value is exit 64. */
static int export_kubeconfig_validate(void)
{
	struct kubeconfig_export_settings settings;
	return kubeconfig_export_settings_read(&settings);
}

/* Read only. */
static bool export_kubeconfig_needed(const struct ctx *c, char *why, size_t len)
{
	struct kubeconfig_export_settings settings;
	(void)c;
	if (kubeconfig_export_settings_read(&settings) != 0) {
		snprintf(why, len, "bad K3S_INIT_KUBECONFIG_* setting");
		return false;
	}
	if (!settings.enabled) {
		snprintf(why, len, "K3S_INIT_KUBECONFIG_DIR not set");
		return false;
	}
	snprintf(why, len, "copy %s to %s when the API answers", settings.source, settings.dir);
	return true;
}

static int export_kubeconfig_apply(struct ctx *c)
{
	struct kubeconfig_export_settings settings;
	(void)c;
	if (kubeconfig_export_settings_read(&settings) != 0)
		return -1;
	if (!settings.enabled) {
		log_warn("export_kubeconfig: forced on but K3S_INIT_KUBECONFIG_DIR is not set; nothing to do");
		return 0;
	}
	return kubeconfig_export_start(&settings);
}

const struct step step_export_kubeconfig = {
	.name = "export_kubeconfig",
	.roles = ROLE_BIT(ROLE_SERVER) | ROLE_BIT(ROLE_CONTROL_PLANE),
	.required = 0,
	.privileged = false,
	.needed = export_kubeconfig_needed,
	.apply = export_kubeconfig_apply,
	.validate = export_kubeconfig_validate,
};
