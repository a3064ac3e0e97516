#include "cni_ip.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool cni_ip_parse(const char *text, struct cni_ip *out)
{
	memset(out, 0, sizeof *out);
	if (text == NULL || strlen(text) >= CNI_IP_TEXT)
		return false;
	if (inet_pton(AF_INET, text, out->b) == 1) {
		out->len = 4;
		return true;
	}
	if (inet_pton(AF_INET6, text, out->b) != 1)
		return false;
	out->len = 16;
	if (memcmp(out->b, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
		memmove(out->b, out->b + 12, 4);
		memset(out->b + 4, 0, 12);
		out->len = 4;
	}
	return true;
}

/* A decimal prefix length without sign or leading zeros. */
static bool parse_prefix(const char *s, unsigned max, unsigned *out)
{
	if (s[0] == '\0' || strlen(s) > 3 || (s[0] == '0' && s[1] != '\0'))
		return false;
	unsigned v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

bool cni_cidr_parse(const char *text, struct cni_cidr *out)
{
	char buf[CNI_IP_TEXT + 8];
	memset(out, 0, sizeof *out);
	if (text == NULL || strlen(text) >= sizeof buf)
		return false;
	strcpy(buf, text);
	char *slash = strchr(buf, '/');
	if (slash == NULL)
		return false;
	*slash = '\0';
	/* Keep the family as written: "::ffff:10.0.0.0/104" stays IPv6 here so
	 * that the prefix length is checked against 128, like Go's ParseCIDR. */
	if (inet_pton(AF_INET, buf, out->ip.b) == 1)
		out->ip.len = 4;
	else if (inet_pton(AF_INET6, buf, out->ip.b) == 1)
		out->ip.len = 16;
	else
		return false;
	return parse_prefix(slash + 1, out->ip.len * 8u, &out->prefix);
}

static void format_v6(const uint8_t *b, char *out, size_t size)
{
	unsigned w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
	/* RFC 5952: compress the first longest run of two or more zero groups. */
	int best = -1, best_len = 0;
	for (int i = 0; i < 8;) {
		if (w[i] != 0) {
			i++;
			continue;
		}
		int j = i;
		while (j < 8 && w[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j;
	}
	if (best_len < 2)
		best = -1;
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			n += (size_t)snprintf(out + n, size - n, "::");
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			n += (size_t)snprintf(out + n, size - n, ":");
		n += (size_t)snprintf(out + n, size - n, "%x", w[i]);
	}
}

void cni_ip_format(const struct cni_ip *ip, char out[CNI_IP_TEXT])
{
	if (ip->len == 4)
		snprintf(out, CNI_IP_TEXT, "%u.%u.%u.%u", ip->b[0], ip->b[1], ip->b[2], ip->b[3]);
	else if (memcmp(ip->b, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0)
		snprintf(out, CNI_IP_TEXT, "%u.%u.%u.%u", ip->b[12], ip->b[13], ip->b[14], ip->b[15]);
	else
		format_v6(ip->b, out, CNI_IP_TEXT);
}

void cni_cidr_format(const struct cni_ip *ip, unsigned prefix, char out[CNI_IP_TEXT])
{
	char addr[CNI_IP_TEXT];
	cni_ip_format(ip, addr);
	snprintf(out, CNI_IP_TEXT, "%.39s/%u", addr, prefix % 1000u);
}

int cni_ip_cmp(const struct cni_ip *a, const struct cni_ip *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->b, b->b, a->len);
}

bool cni_ip_equal(const struct cni_ip *a, const struct cni_ip *b)
{
	return cni_ip_cmp(a, b) == 0;
}

bool cni_ip_next(struct cni_ip *ip)
{
	for (int i = ip->len - 1; i >= 0; i--) {
		if (++ip->b[i] != 0)
			return true;
	}
	return false;
}

static uint8_t mask_byte(unsigned prefix, unsigned i)
{
	unsigned bits = i * 8;
	if (prefix >= bits + 8)
		return 0xff;
	if (prefix <= bits)
		return 0;
	return (uint8_t)(0xff << (8 - (prefix - bits)));
}

void cni_ip_network(const struct cni_ip *ip, unsigned prefix, struct cni_ip *out)
{
	*out = *ip;
	for (unsigned i = 0; i < ip->len; i++)
		out->b[i] = ip->b[i] & mask_byte(prefix, i);
}

void cni_ip_last(const struct cni_ip *ip, unsigned prefix, struct cni_ip *out)
{
	*out = *ip;
	for (unsigned i = 0; i < ip->len; i++)
		out->b[i] = (uint8_t)(ip->b[i] | (uint8_t)~mask_byte(prefix, i));
}

bool cni_ip_in_subnet(const struct cni_ip *ip, const struct cni_ip *net, unsigned prefix)
{
	if (ip->len != net->len)
		return false;
	for (unsigned i = 0; i < ip->len; i++) {
		uint8_t m = mask_byte(prefix, i);
		if ((ip->b[i] & m) != (net->b[i] & m))
			return false;
	}
	return true;
}

uint64_t cni_ip_span(const struct cni_ip *a, const struct cni_ip *b)
{
	/* b - a, borrowing byte by byte; any difference above 64 bits saturates. */
	uint8_t d[16] = { 0 };
	int borrow = 0;
	for (int i = a->len - 1; i >= 0; i--) {
		int v = b->b[i] - a->b[i] - borrow;
		borrow = v < 0;
		d[i] = (uint8_t)(v + (borrow ? 256 : 0));
	}
	for (int i = 0; i + 8 < a->len; i++) {
		if (d[i] != 0)
			return UINT64_MAX;
	}
	uint64_t v = 0;
	for (int i = a->len > 8 ? a->len - 8 : 0; i < a->len; i++)
		v = v << 8 | d[i];
	return v == UINT64_MAX ? v : v + 1;
}
