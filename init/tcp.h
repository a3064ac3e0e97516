/*
 * TCP to an address given as a literal: the health check's URL and the
 * kubeconfig watcher's server. No name service: the binary is static, and a
 * static C library's resolver needs shared NSS modules at run time (glibc) or
 * is not worth its size for this (musl).
 */
#ifndef K3S_INIT_TCP_H
#define K3S_INIT_TCP_H

#include <sys/socket.h>

#define TCP_MAX_ADDRESSES 2

struct tcp_address {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* The addresses of host (localhost: 127.0.0.1, then ::1; an IPv4 literal; an
 * IPv6 literal, bare or in brackets) at port, into out. Their count, or 0
 * when host is none of these. */
int tcp_literal_addresses(const char *host, unsigned port, struct tcp_address out[TCP_MAX_ADDRESSES]);

/* Milliseconds left until deadline (CLOCK_MONOTONIC ms), 0 when past. */
long tcp_ms_left(long long deadline);
/* Wait until fd is ready for events (poll) or the deadline passes. 0 or -1. */
int tcp_wait(int fd, short events, long long deadline);
/* A non-blocking, close-on-exec socket connected to the first of the n
 * addresses that accepts before the deadline; -1 when none does. */
int tcp_connect_any(const struct tcp_address *addresses, int n, long long deadline);

#endif
