/*
 * `k3s-init health URL` (see health.h).
 * Only http:// on a numeric address (IPv4, or IPv6 in brackets) or localhost:
 * the kubelet's healthz endpoint (kubelet --healthz-bind-address,
 * 127.0.0.1:10248) is plain HTTP on loopback. No name service: the binary is
 * static, and a static C library's resolver needs shared NSS modules at run
 * time (glibc) or is not worth its size for this (musl).
 * The whole exchange is bounded by HEALTH_TIMEOUT_MS; Docker's HEALTHCHECK
 * --timeout bounds it from outside as well.
 */
#include "health.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exit_codes.h"
#include "log.h"

#define HEALTH_TIMEOUT_MS 3000

struct http_target {
	char host[256];    /* as written in the URL, for the Host header */
	char port[8];
	char path[512];
	struct sockaddr_storage addr[2]; /* localhost: 127.0.0.1, then ::1 */
	socklen_t addr_len[2];
	int naddr;
};

static void add_address(struct http_target *t, int family, const void *bytes, unsigned port)
{
	struct sockaddr_storage *ss = &t->addr[t->naddr];
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		memcpy(&v4->sin_addr, bytes, sizeof v4->sin_addr);
		t->addr_len[t->naddr++] = sizeof *v4;
	} else {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		memcpy(&v6->sin6_addr, bytes, sizeof v6->sin6_addr);
		t->addr_len[t->naddr++] = sizeof *v6;
	}
}

/* localhost, an IPv4 literal or a bracketed IPv6 literal. */
static int parse_host(struct http_target *t, unsigned port)
{
	struct in_addr v4;
	struct in6_addr v6;
	size_t n = strlen(t->host);
	t->naddr = 0;
	if (strcmp(t->host, "localhost") == 0) {
		inet_pton(AF_INET, "127.0.0.1", &v4);
		inet_pton(AF_INET6, "::1", &v6);
		add_address(t, AF_INET, &v4, port);
		add_address(t, AF_INET6, &v6, port);
		return 0;
	}
	if (inet_pton(AF_INET, t->host, &v4) == 1) {
		add_address(t, AF_INET, &v4, port);
		return 0;
	}
	char inner[256];
	if (n > 2 && t->host[0] == '[' && t->host[n - 1] == ']') {
		snprintf(inner, sizeof inner, "%.*s", (int)(n - 2), t->host + 1);
		if (inet_pton(AF_INET6, inner, &v6) == 1) {
			add_address(t, AF_INET6, &v6, port);
			return 0;
		}
	}
	return -1;
}

static int parse_url(const char *url, struct http_target *t)
{
	const char *rest = url + strlen("http://");
	if (strncmp(url, "http://", strlen("http://")) != 0)
		return -1;
	for (const char *p = url; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f)
			return -1;
	const char *slash = strchr(rest, '/');
	size_t hostport = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *path = slash ? slash : "/";
	/* The port follows the last ':' after a bracketed IPv6 literal. */
	const char *close = rest[0] == '[' ? memchr(rest, ']', hostport) : NULL;
	const char *from = close ? close : rest;
	const char *colon = memchr(from, ':', hostport - (size_t)(from - rest));
	size_t host_len = colon ? (size_t)(colon - rest) : hostport;
	size_t port_len = colon ? hostport - host_len - 1 : 2;
	const char *port = colon ? colon + 1 : "80";

	if (host_len == 0 || host_len >= sizeof t->host || port_len == 0 || port_len >= sizeof t->port ||
	    strlen(path) >= sizeof t->path || strspn(port, "0123456789") < port_len)
		return -1;
	memcpy(t->host, rest, host_len);
	t->host[host_len] = '\0';
	memcpy(t->port, port, port_len);
	t->port[port_len] = '\0';
	memcpy(t->path, path, strlen(path) + 1);
	unsigned long p = strtoul(t->port, NULL, 10);
	if (p == 0 || p > 65535)
		return -1;
	return parse_host(t, (unsigned)p);
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;
	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return 0;
	long left = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return left > 0 ? left : 0;
}

static int wait_fd(int fd, short events, const struct timespec *deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, (int)ms_left(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 ? 0 : -1;
	}
}

static int connect_target(const struct http_target *t, const struct timespec *deadline)
{
	int fd = -1;
	for (int i = 0; i < t->naddr && fd < 0; i++) {
		fd = socket(t->addr[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		int err = 0;
		socklen_t len = sizeof err;
		if (connect(fd, (const struct sockaddr *)&t->addr[i], t->addr_len[i]) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		log_error("health: cannot connect to %s:%s", t->host, t->port);
	return fd;
}

static int send_all(int fd, const char *data, size_t len, const struct timespec *deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) != 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The status code from "HTTP/1.x NNN ...", or -1. */
static int read_status(int fd, const struct timespec *deadline)
{
	char buf[64] = { 0 };
	size_t len = 0;
	while (len < sizeof buf - 1 && memchr(buf, '\n', len) == NULL) {
		ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLIN, deadline) != 0)
				return -1;
			continue;
		}
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	int status = -1;
	if (strncmp(buf, "HTTP/1.", strlen("HTTP/1.")) != 0 || sscanf(buf + 8, " %3d", &status) != 1)
		return -1;
	return status;
}

int health_main(int argc, char **argv)
{
	struct http_target t;
	struct timespec deadline;

	if (argc != 2 || parse_url(argv[1], &t) != 0) {
		log_error("usage: k3s-init health http://HOST[:PORT][/PATH] (got '%s')", argc == 2 ? argv[1] : "");
		return EXIT_USAGE;
	}
	if (clock_gettime(CLOCK_MONOTONIC, &deadline) != 0)
		return 1;
	deadline.tv_sec += HEALTH_TIMEOUT_MS / 1000;

	int fd = connect_target(&t, &deadline);
	if (fd < 0)
		return 1;
	char request[1024];
	int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n",
			 t.path, t.host, t.port);
	int status = -1;
	if (n > 0 && (size_t)n < sizeof request && send_all(fd, request, (size_t)n, &deadline) == 0)
		status = read_status(fd, &deadline);
	close(fd);
	if (status < 200 || status > 299) {
		log_error("health: %s answered %s%d", argv[1], status < 0 ? "nothing usable " : "", status);
		return 1;
	}
	return 0;
}
