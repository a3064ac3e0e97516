/* IPv4/IPv6 address arithmetic and text forms for the host-local plugin. */
#ifndef K3S_INIT_CNI_IP_H
#define K3S_INIT_CNI_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An address of either family; IPv4 lives in b[0..3], len says which. */
struct cni_ip {
	uint8_t len; /* 4 or 16 */
	uint8_t b[16];
};

struct cni_cidr {
	struct cni_ip ip; /* as written (host bits kept) */
	unsigned prefix;
};

/* Longest text form: a full IPv6 address plus "/128". */
#define CNI_IP_TEXT 48

/* Parse a bare address. IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4, as
 * upstream host-local's canonicalizeIP (backend/allocator/range.go) does. */
bool cni_ip_parse(const char *text, struct cni_ip *out);
/* Parse "address/prefix"; the address keeps its host bits. */
bool cni_cidr_parse(const char *text, struct cni_cidr *out);
/* Canonical text as Go's net.IP.String() prints it (RFC 5952 for IPv6),
 * which names the state files, so both plugins must agree on it. */
void cni_ip_format(const struct cni_ip *ip, char out[CNI_IP_TEXT]);
void cni_cidr_format(const struct cni_ip *ip, unsigned prefix, char out[CNI_IP_TEXT]);

int cni_ip_cmp(const struct cni_ip *a, const struct cni_ip *b);
bool cni_ip_equal(const struct cni_ip *a, const struct cni_ip *b);
/* Add one (wrapping); returns false on wrap-around. */
bool cni_ip_next(struct cni_ip *ip);
/* Network address and last address of ip/prefix. */
void cni_ip_network(const struct cni_ip *ip, unsigned prefix, struct cni_ip *out);
void cni_ip_last(const struct cni_ip *ip, unsigned prefix, struct cni_ip *out);
bool cni_ip_in_subnet(const struct cni_ip *ip, const struct cni_ip *net, unsigned prefix);
/* Number of addresses in [a, b] (a <= b, same family), saturating at UINT64_MAX. */
uint64_t cni_ip_span(const struct cni_ip *a, const struct cni_ip *b);

#endif
