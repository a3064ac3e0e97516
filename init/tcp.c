#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

static void set_address(struct tcp_address *a, int family, const void *bytes, unsigned port)
{
	memset(a, 0, sizeof *a);
	if (family == AF_INET) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		memcpy(&v4->sin_addr, bytes, sizeof v4->sin_addr);
		a->len = sizeof *v4;
	} else {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		memcpy(&v6->sin6_addr, bytes, sizeof v6->sin6_addr);
		a->len = sizeof *v6;
	}
}

int tcp_literal_addresses(const char *host, unsigned port, struct tcp_address out[TCP_MAX_ADDRESSES])
{
	struct in_addr v4;
	struct in6_addr v6;
	if (strcmp(host, "localhost") == 0) {
		inet_pton(AF_INET, "127.0.0.1", &v4);
		inet_pton(AF_INET6, "::1", &v6);
		set_address(&out[0], AF_INET, &v4, port);
		set_address(&out[1], AF_INET6, &v6, port);
		return 2;
	}
	if (inet_pton(AF_INET, host, &v4) == 1) {
		set_address(&out[0], AF_INET, &v4, port);
		return 1;
	}
	char bare[64];
	size_t n = strlen(host);
	if (n > 2 && host[0] == '[' && host[n - 1] == ']')
		snprintf(bare, sizeof bare, "%.*s", (int)(n - 2), host + 1);
	else
		snprintf(bare, sizeof bare, "%s", host);
	if (inet_pton(AF_INET6, bare, &v6) == 1) {
		set_address(&out[0], AF_INET6, &v6, port);
		return 1;
	}
	return 0;
}

long tcp_ms_left(long long deadline)
{
	long long now = clock_monotonic_ms();
	return now < 0 || now >= deadline ? 0 : (long)(deadline - now);
}

int tcp_wait(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, (int)tcp_ms_left(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 ? 0 : -1;
	}
}

int tcp_connect_any(const struct tcp_address *addresses, int n, long long deadline)
{
	for (int i = 0; i < n; i++) {
		int fd = socket(addresses[i].ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		int err = 0;
		socklen_t len = sizeof err;
		if (connect(fd, (const struct sockaddr *)&addresses[i].ss, addresses[i].len) == 0)
			return fd;
		if (errno == EINPROGRESS && tcp_wait(fd, POLLOUT, deadline) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			return fd;
		close(fd);
	}
	return -1;
}
