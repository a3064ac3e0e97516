#include "netlink.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct mnl_socket *nl_open(int proto)
{
	struct mnl_socket *nl = mnl_socket_open2(proto, SOCK_CLOEXEC);
	if (nl == NULL)
		return NULL;
	/* Not bound: the kernel binds the socket at its first send (netlink's
	 * autobind), which saves mnl_socket_bind's bind and getsockname (two
	 * round trips under gVisor). Its port id stays 0 for libmnl then, and
	 * mnl_cb_run checks no port id; the sequence number still pairs each
	 * answer with its request. */
	struct timeval tv = { .tv_sec = 2, .tv_usec = 0 };
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
		int e = errno;
		mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	return nl;
}

int nl_transact(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	/* A counter is enough: the only replies a socket of this process can
	 * hold are to this process's own requests (a time() seed would cost a
	 * system call per request under gVisor, whose vDSO can fall back to one). */
	static unsigned int seq_counter;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++seq_counter;
	unsigned int seq = nlh->nlmsg_seq;
	unsigned int portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	char buf[8192];
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1; /* EAGAIN: no answer within the timeout */
		}
		/* Data messages go to no callback; an NLMSG_ERROR with error 0 (the
		 * ack) or NLMSG_DONE stops, an error sets errno and returns -1. */
		int rc = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
		if (rc == MNL_CB_ERROR)
			return -1;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

struct nlattr *nl_nest_start(struct nlmsghdr *nlh, uint16_t type)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);
	nest->nla_type = type;
	return nest;
}
