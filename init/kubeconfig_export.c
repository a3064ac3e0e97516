/*
 * Kubeconfig export (see kubeconfig_export.h).
 *
 * Why: k3s writes its kubeconfig inside the container, pointing at
 * https://127.0.0.1:<port> (k3s pkg/cli/server/server.go), and the upstream
 * compose file bind-mounts /output with mode 666 so that the host user can read
 * a root-owned file (k3s#1381, k3d#1613). Here a small watcher copies it to the
 * mounted directory with mode 0600, owned by whoever owns that directory, once
 * the API is ready, and prints one ready line (k3s#12598: no "setup complete"
 * signal exists; testcontainers' log line never appears without an agent).
 *
 * "Ready" is the API server's /readyz answering ok, not port 6443 accepting a
 * connection: k3s opens 6443 (its supervisor listener) seconds before the API
 * server behind it answers, so kubectl run on a port-based ready line fails.
 * /readyz needs the kubeconfig's client certificate over TLS (k3s runs the API
 * server with anonymous-auth=false), which the init cannot speak without a TLS
 * library, so the watcher asks k3s's own kubectl with that kubeconfig, the
 * check the images' HEALTHCHECK makes; a cheap connect to the kubeconfig's
 * host and port comes first, so kubectl only starts once something listens.
 * The watcher is a fork of the init that k3s, exec'd as PID 1, inherits as a
 * child and reaps (k3s pkg/cli/cmds/log_linux.go).
 */
#include "kubeconfig_export.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "repair.h"
#include "tcp.h"

#define POLL_MS 250
/* Between two kubectl runs, once the API's port accepts. Each run starts
 * k3s's large binary, but only in the second or two between the port opening
 * and the API being ready. With a real API server (tests/fixtures/real-parts)
 * the ready line came 0.5 s sooner with 250 ms than with 1000 ms: median of
 * five starts 3.98 s against 4.48 s from docker run, the extra runs'
 * cost included. */
#define READYZ_POLL_MS 250
/* A kubectl that has not answered by then is killed (it has --request-timeout). */
#define READYZ_LIMIT_MS 15000
#define MAX_KUBECONFIG_BYTES (1024 * 1024)
/* A connect to an address that drops packets would otherwise hang for the
 * kernel's SYN retries. */
#define CONNECT_LIMIT_MS 1000

const char *const kubeconfig_export_variables[] = {
	"KUBECONFIG_DIR", "KUBECONFIG_SERVER", "KUBECONFIG_INTERNAL_SERVER", "KUBECONFIG_WAIT", NULL,
};

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

	kubeconfig_export_settings_free(settings);
	memset(settings, 0, sizeof *settings);
	settings->dir_fd = -1;
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
	if (copy_setting(settings->dir, sizeof settings->dir, "K3S_INIT_KUBECONFIG_DIR", dir) != 0)
		return -1;
	/* Opened once, here: the watcher writes through this descriptor up to
	 * K3S_INIT_KUBECONFIG_WAIT seconds later, whatever the path then names.
	 * O_NOFOLLOW: a symlink planted at the mount point is refused. */
	settings->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (settings->dir_fd < 0) {
		log_error("K3S_INIT_KUBECONFIG_DIR='%s': %s (mount a directory there, e.g. -v \"$PWD/kubeconfig:%s\")",
			  dir, errno == ENOTDIR || errno == ELOOP ? "not a directory" : strerror(errno), dir);
		return -1;
	}
	settings->enabled = true;
	return 0;
}

void kubeconfig_export_settings_free(struct kubeconfig_export_settings *settings)
{
	if (settings->enabled && settings->dir_fd >= 0)
		close(settings->dir_fd);
	settings->dir_fd = -1;
	settings->enabled = false;
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
	size_t len = 0;
	char *buf = read_file_at(AT_FDCWD, path, 0, MAX_KUBECONFIG_BYTES, &len);
	/* k3s writes the file in one go; one that does not end in a newline is
	 * still being written. */
	if (buf != NULL && (len == 0 || buf[len - 1] != '\n' || strstr(buf, "server:") == NULL)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Host and port of the first "server: https://HOST[:PORT]" in the text
 * (k3s writes its bind address there, 127.0.0.1 unless --bind-address). */
static void server_address(const char *text, char *host, size_t host_len, char *port, size_t port_len)
{
	snprintf(host, host_len, "127.0.0.1");
	snprintf(port, port_len, "6443");
	const char *server = strstr(text, "server:");
	if (server == NULL)
		return;
	const char *p = server + strlen("server:");
	p += strspn(p, " \t\"'");
	if (strncmp(p, "https://", 8) != 0)
		return;
	p += 8;
	size_t n = strcspn(p, "/\"' \t\r\n");
	const char *end = p + n, *colon = NULL;
	if (*p == '[') { /* [IPv6]:port */
		const char *close = memchr(p, ']', n);
		if (close == NULL)
			return;
		snprintf(host, host_len, "%.*s", (int)(close - p - 1), p + 1);
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(p, ':', n);
		snprintf(host, host_len, "%.*s", (int)((colon ? colon : end) - p), p);
	}
	if (colon != NULL && end - colon > 1 && (size_t)(end - colon - 1) < port_len)
		snprintf(port, port_len, "%.*s", (int)(end - colon - 1), colon + 1);
}

/* Something listens at the kubeconfig's server (tried for up to a second).
 * A name other than localhost is not looked up here (tcp.c): kubectl will
 * tell. */
static bool server_listens(const char *text)
{
	char host[256], port[8];
	server_address(text, host, sizeof host, port, sizeof port);
	struct tcp_address addresses[TCP_MAX_ADDRESSES];
	int n = tcp_literal_addresses(host, (unsigned)strtoul(port, NULL, 10), addresses);
	if (n == 0)
		return true;
	int fd = tcp_connect_any(addresses, n, clock_monotonic_ms() + CONNECT_LIMIT_MS);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* In the child: stdio to /dev/null, then k3s kubectl ... get --raw=/readyz. */
__attribute__((noreturn)) static void exec_readyz(const char *k3s, const char *kubeconfig)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	char *const argv[] = { (char *)"k3s", (char *)"kubectl", (char *)"--kubeconfig", (char *)kubeconfig,
			       (char *)"--request-timeout=5s", (char *)"get", (char *)"--raw=/readyz", NULL };
	execv(k3s, argv);
	_exit(127);
}

/* k3s kubectl get --raw=/readyz with the kubeconfig: 0 when it says ok. */
static bool api_ready(const char *k3s, const char *kubeconfig)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("kubeconfig: fork for the readiness check: %s", strerror(errno));
		return false;
	}
	if (pid == 0)
		exec_readyz(k3s, kubeconfig);
	long long deadline = clock_monotonic_ms() + READYZ_LIMIT_MS;
	int wstatus = 0;
	for (;;) {
		pid_t done = waitpid(pid, &wstatus, WNOHANG);
		if (done == pid)
			break;
		if (done < 0 && errno != EINTR)
			return false;
		if (clock_monotonic_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
				;
			return false;
		}
		clock_sleep_ms(50);
	}
	return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
}

/* An unpredictable name for a temporary file (mkostemp has no *at form). */
static int temp_name(char *out, size_t len, const char *name)
{
	unsigned char raw[6];
	if (getrandom(raw, sizeof raw, GRND_NONBLOCK) != (ssize_t)sizeof raw)
		return -1;
	snprintf(out, len, ".%s.%02x%02x%02x%02x%02x%02x", name, raw[0], raw[1], raw[2], raw[3], raw[4], raw[5]);
	return 0;
}

/* Temp file + rename, both relative to the directory opened at start: a
 * reader on the host never sees half a kubeconfig. */
static int write_file(const struct kubeconfig_export_settings *settings, const char *name, const char *text,
		      const struct stat *owner)
{
	const char *dir = settings->dir;
	char tmp[128];
	int fd = -1;
	for (int attempt = 0; fd < 0 && attempt < 8; attempt++) {
		if (temp_name(tmp, sizeof tmp, name) != 0)
			break;
		fd = openat(settings->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		log_error("kubeconfig: cannot create a file in %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = -1;
	if (fchmod(fd, 0600) != 0)
		log_error("kubeconfig: chmod %s/%s: %s", dir, tmp, strerror(errno));
	else if (fchown(fd, owner->st_uid, owner->st_gid) != 0)
		log_error("kubeconfig: chown %s/%s to %u:%u (the owner of %s): %s", dir, tmp,
			  (unsigned)owner->st_uid, (unsigned)owner->st_gid, dir, strerror(errno));
	else if (write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0)
		log_error("kubeconfig: write %s/%s: %s", dir, tmp, strerror(errno));
	else
		rc = 0;
	if (close(fd) != 0 && rc == 0) {
		log_error("kubeconfig: write %s/%s: %s", dir, tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && renameat(settings->dir_fd, tmp, settings->dir_fd, name) != 0) {
		log_error("kubeconfig: rename %s/%s to %s: %s", dir, tmp, name, strerror(errno));
		rc = -1;
	}
	if (rc != 0 && unlinkat(settings->dir_fd, tmp, 0) != 0)
		log_warn("kubeconfig: cannot remove %s/%s: %s", dir, tmp, strerror(errno));
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
	int rc = write_file(settings, name, rewritten, owner);
	free(rewritten);
	return rc;
}

/* Wait for k3s's kubeconfig and a ready API; NULL after the deadline. */
static char *wait_for_api(const struct kubeconfig_export_settings *settings, const char *k3s)
{
	long long deadline = clock_monotonic_ms() + (long long)settings->wait_seconds * 1000;
	for (;;) {
		char *text = read_kubeconfig(settings->source);
		bool listening = text != NULL && server_listens(text);
		if (listening && api_ready(k3s, settings->source)) {
			/* Read again: k3s may have rewritten it meanwhile. */
			char *again = read_kubeconfig(settings->source);
			if (again != NULL) {
				free(text);
				return again;
			}
		}
		free(text);
		if (clock_monotonic_ms() >= deadline)
			return NULL;
		clock_sleep_ms(listening ? READYZ_POLL_MS : POLL_MS);
	}
}

int kubeconfig_export_run(const struct kubeconfig_export_settings *settings, const char *k3s)
{
	struct stat owner;
	char *text = wait_for_api(settings, k3s);

	if (text == NULL) {
		log_error("kubeconfig: %s did not appear or the API did not become ready (%s kubectl get "
			  "--raw=/readyz) within %u s (K3S_INIT_KUBECONFIG_WAIT); nothing written to %s",
			  settings->source, k3s, settings->wait_seconds, settings->dir);
		return -1;
	}
	int rc = -1;
	if (fstat(settings->dir_fd, &owner) != 0)
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

pid_t kubeconfig_export_start(const struct kubeconfig_export_settings *settings, const char *k3s)
{
	if (!settings->enabled)
		return 0;
	pid_t pid = fork();
	if (pid < 0) {
		log_error("kubeconfig: fork the watcher: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		log_info("kubeconfig: will write %s/kubeconfig.yaml (server %s) when the API is ready", settings->dir,
			 settings->server);
		return pid;
	}
	/* The child: no signal mask or handlers of the init's, so that the
	 * container's stop signal ends it like any other process. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	_exit(kubeconfig_export_run(settings, k3s) == 0 ? 0 : 1);
}

void kubeconfig_export_stop(pid_t watcher)
{
	if (watcher <= 0)
		return;
	if (kill(watcher, SIGTERM) != 0 && errno != ESRCH)
		log_warn("kubeconfig: cannot stop the watcher %d: %s", (int)watcher, strerror(errno));
	while (waitpid(watcher, NULL, 0) < 0 && errno == EINTR)
		;
	log_debug("kubeconfig: watcher %d stopped", (int)watcher);
}

/* --- the step (repair.h): K3S_INIT_EXPORT_KUBECONFIG=auto|on|off ----------- */

/* K3S_INIT_KUBECONFIG_*: parsed with every other setting before any step
 * changes anything; a bad value is exit 64. */
static int export_kubeconfig_validate(struct cli *cli)
{
	return kubeconfig_export_settings_read(&cli->kubeconfig);
}

/* Read only. */
static bool export_kubeconfig_needed(const struct ctx *c, char *why, size_t len)
{
	const struct kubeconfig_export_settings *settings = &c->cli->kubeconfig;
	if (!settings->enabled) {
		snprintf(why, len, "K3S_INIT_KUBECONFIG_DIR not set");
		return false;
	}
	/* Only k3s server writes a kubeconfig: any other program would get a
	 * watcher that waits in vain and a ready line that lies. */
	if (!cli_is_k3s_server(c->cli)) {
		snprintf(why, len, "the target is not k3s server");
		return false;
	}
	snprintf(why, len, "copy %s to %s when the API is ready", settings->source, settings->dir);
	return true;
}

static int export_kubeconfig_apply(struct ctx *c)
{
	const struct kubeconfig_export_settings *settings = &c->cli->kubeconfig;
	if (!settings->enabled) {
		log_warn("export_kubeconfig: forced on but K3S_INIT_KUBECONFIG_DIR is not set; nothing to do");
		return 0;
	}
	if (!cli_is_k3s_server(c->cli)) {
		log_warn("export_kubeconfig: forced on but the target is not k3s server; nothing to do");
		return 0;
	}
	const char *k3s = c->probe->k3s_path[0] ? c->probe->k3s_path : c->cli->argv[0];
	pid_t watcher = kubeconfig_export_start(settings, k3s);
	if (watcher < 0)
		return -1;
	c->plan->watcher = watcher;
	return 0;
}

const struct step step_export_kubeconfig = {
	.name = "export_kubeconfig",
	.roles = ROLE_BIT(ROLE_SERVER) | ROLE_BIT(ROLE_CONTROL_PLANE),
	.required = 0,
	.privileged = false,
	.needed = export_kubeconfig_needed,
	.apply = export_kubeconfig_apply,
	.validate = export_kubeconfig_validate,
	.variables = kubeconfig_export_variables,
};
