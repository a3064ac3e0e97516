/*
 * Forwarding and source NAT for routed-veth. The bridge plugin's ipMasq and
 * flannel masquerade pod traffic (the MASQUERADE target), which gVisor's
 * netstack does not have (pkg/sentry/socket/netfilter/targets.go registers
 * no MASQUERADE). Its SNAT target is there, but only for TCP and UDP rules
 * (pkg/sentry/socket/netfilter/snat.go: "snatTargetMakerV4: bad proto"), so
 * there is one rule per protocol, to the address that the node's own routes
 * pick for the outside. ICMP from pods leaves unNATed.
 */
#include "cni_snat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

int cni_enable_forwarding(struct cni_error *err)
{
	char now[4] = "";
	int fd = open(IP_FORWARD, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, now, sizeof now - 1);
		now[n > 0 ? n : 0] = '\0';
		close(fd);
		if (now[0] == '1')
			return 0;
	}
	fd = open(IP_FORWARD, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write_all(fd, "1\n", 2) != 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return cni_fail(err, CNI_ERR_IO, "enabling IPv4 forwarding (%s): %s", IP_FORWARD, strerror(saved));
	}
	close(fd);
	return 0;
}

/* The source address of a packet to an outside address (TEST-NET-1 stands
 * for "anywhere outside"): a connected UDP socket sends nothing. */
static int outside_source(struct in_addr *src, struct cni_error *err)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	inet_pton(AF_INET, "192.0.2.1", &to.sin_addr);
	struct sockaddr_in me;
	socklen_t len = sizeof me;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) != 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &len) != 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return cni_fail(err, CNI_ERR_INTERNAL, "snat: no route out of this node to take an address from: %s",
				strerror(saved));
	}
	close(fd);
	*src = me.sin_addr;
	return 0;
}

/* iptables ARGS...; its exit status, or -1 with errno when it cannot run.
 * Its stdout is ours (the CNI result), so it goes to stderr, or with QUIET
 * (a -C that is expected to fail) nowhere. */
static int run_iptables(char *const argv[], bool quiet)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int out = quiet ? open("/dev/null", O_WRONLY | O_CLOEXEC) : STDERR_FILENO;
		if (out < 0 || dup2(out, STDOUT_FILENO) < 0 || (quiet && dup2(out, STDERR_FILENO) < 0))
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "routed-veth: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Pods start in parallel: without a lock two ADDs could both find a rule
 * missing and both add it. Not iptables' own lock (/run/xtables.lock): each
 * iptables run below takes that one. */
#define SNAT_LOCK "/run/routed-veth.lock"

static int lock_rules(struct cni_error *err)
{
	int fd = open(SNAT_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cni_fail(err, CNI_ERR_IO, "snat: opening " SNAT_LOCK ": %s", strerror(errno));
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int saved = errno;
			close(fd);
			return cni_fail(err, CNI_ERR_IO, "snat: locking " SNAT_LOCK ": %s", strerror(saved));
		}
	}
	return fd;
}

static int ensure_rules(struct in_addr subnet, unsigned prefix, struct cni_error *err)
{
	struct in_addr src;
	if (outside_source(&src, err) < 0)
		return -1;
	char net[INET_ADDRSTRLEN + 4], to[INET_ADDRSTRLEN];
	char net_ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &subnet, net_ip, sizeof net_ip);
	snprintf(net, sizeof net, "%s/%u", net_ip, prefix);
	inet_ntop(AF_INET, &src, to, sizeof to);
	static const char *const protocols[] = { "tcp", "udp" };
	for (size_t i = 0; i < 2; i++) {
		char *argv[] = { "iptables", "-w", "5", "-t", "nat", "-C", "POSTROUTING", "-s", net, "!", "-d", net, "-p",
				 (char *)protocols[i], "-j", "SNAT", "--to-source", to, NULL };
		int rc = run_iptables(argv, true);
		if (rc == 0)
			continue; /* already there */
		argv[5] = "-A";
		rc = rc < 0 ? rc : run_iptables(argv, false);
		if (rc != 0)
			return cni_fail(err, CNI_ERR_INTERNAL,
					"snat: iptables -t nat -A POSTROUTING -s %s ! -d %s -p %s -j SNAT --to-source %s %s %d",
					net, net, protocols[i], to, rc < 0 ? "could not run:" : "exited with status",
					rc < 0 ? errno : rc);
	}
	return 0;
}

int cni_snat_ensure(struct in_addr subnet, unsigned prefix, struct cni_error *err)
{
	int lock = lock_rules(err);
	if (lock < 0)
		return -1;
	int rc = ensure_rules(subnet, prefix, err);
	close(lock);
	return rc;
}
