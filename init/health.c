/*
 * `k3s-init health URL` (see health.h).
 * Only http:// on a numeric address (IPv4, or IPv6 in brackets) or localhost
 * (tcp.c, no name service): the kubelet's healthz endpoint (kubelet
 * --healthz-bind-address, 127.0.0.1:10248) is plain HTTP on loopback.
 * The whole exchange is bounded by HEALTH_TIMEOUT_MS; Docker's HEALTHCHECK
 * --timeout bounds it from outside as well.
 */
#include "health.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "exit_codes.h"
#include "log.h"
#include "tcp.h"

#define HEALTH_TIMEOUT_MS 3000

struct http_target {
	char host[256];    /* as written in the URL, for the Host header */
	char port[8];
	char path[512];
	struct tcp_address addr[TCP_MAX_ADDRESSES];
	int naddr;
};

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
	t->naddr = tcp_literal_addresses(t->host, (unsigned)p, t->addr);
	return t->naddr > 0 ? 0 : -1;
}

static int connect_target(const struct http_target *t, long long deadline)
{
	int fd = tcp_connect_any(t->addr, t->naddr, deadline);
	if (fd < 0)
		log_error("health: cannot connect to %s:%s", t->host, t->port);
	return fd;
}

static int send_all(int fd, const char *data, size_t len, long long deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (tcp_wait(fd, POLLOUT, deadline) != 0)
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
static int read_status(int fd, long long deadline)
{
	char buf[64] = { 0 };
	size_t len = 0;
	while (len < sizeof buf - 1 && memchr(buf, '\n', len) == NULL) {
		ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (tcp_wait(fd, POLLIN, deadline) != 0)
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

	if (argc != 2 || parse_url(argv[1], &t) != 0) {
		log_error("usage: k3s-init health http://HOST[:PORT][/PATH] (got '%s')", argc == 2 ? argv[1] : "");
		return EXIT_USAGE;
	}
	long long now = clock_monotonic_ms();
	if (now < 0)
		return 1;
	long long deadline = now + HEALTH_TIMEOUT_MS;

	int fd = connect_target(&t, deadline);
	if (fd < 0)
		return 1;
	char request[1024];
	int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n",
			 t.path, t.host, t.port);
	int status = -1;
	if (n > 0 && (size_t)n < sizeof request && send_all(fd, request, (size_t)n, deadline) == 0)
		status = read_status(fd, deadline);
	close(fd);
	if (status < 200 || status > 299) {
		log_error("health: %s answered %s%d", argv[1], status < 0 ? "nothing usable " : "", status);
		return 1;
	}
	return 0;
}
