#include "cni_alloc.h"

#include <stdio.h>
#include <string.h>

static void fill(struct cni_alloc *out, const struct cni_ip *ip, const struct cni_range *r)
{
	out->ip = *ip;
	out->prefix = r->prefix;
	out->gateway = r->gateway;
}

static int get_requested(struct cni_store *store, const struct cni_range_set *set, size_t set_index,
			 const char *id, const char *ifname, const struct cni_ip *ip, struct cni_alloc *out,
			 struct cni_error *err)
{
	char text[CNI_IP_TEXT], desc[1024];
	cni_ip_format(ip, text);
	cni_set_describe(set, desc, sizeof desc);
	const struct cni_range *r = cni_set_range_for(set, ip);
	if (r == NULL)
		return cni_fail(err, CNI_ERR_INTERNAL, "failed to allocate for range %zu: %s not in range set %s",
				set_index, text, desc);
	if (cni_ip_equal(ip, &r->gateway))
		return cni_fail(err, CNI_ERR_INTERNAL, "failed to allocate for range %zu: requested ip %s is subnet's gateway",
				set_index, text);
	int got = cni_store_reserve(store, ip, id, ifname, set_index, err);
	if (got < 0)
		return -1;
	if (got == 0)
		return cni_fail(err, CNI_ERR_INTERNAL,
				"failed to allocate for range %zu: requested IP address %s is not available in range set %s",
				set_index, text, desc);
	fill(out, ip, r);
	return 0;
}

/* Step to the next position of the cycle over every range of the set. */
static void advance(const struct cni_range_set *set, size_t *ri, struct cni_ip *cur)
{
	if (cni_ip_equal(cur, &set->ranges[*ri].end)) {
		*ri = (*ri + 1) % set->count;
		*cur = set->ranges[*ri].start;
	} else {
		cni_ip_next(cur);
	}
}

int cni_alloc_get(struct cni_store *store, const struct cni_range_set *set, size_t set_index,
		  const struct cni_store_entry *entries, size_t nentries, const char *id, const char *ifname,
		  const struct cni_ip *requested, struct cni_alloc *out, struct cni_error *err)
{
	if (requested != NULL)
		return get_requested(store, set, set_index, id, ifname, requested, out, err);
	/* The spec forbids a second ADD for one attachment; upstream refuses when
	 * an address of this set already belongs to it (new or old format). */
	for (size_t i = 0; i < nentries; i++) {
		const struct cni_store_entry *e = &entries[i];
		if ((cni_store_entry_matches(e, id, ifname) || cni_store_entry_matches(e, id, NULL)) &&
		    cni_set_range_for(set, &e->ip) != NULL)
			return cni_fail(err, CNI_ERR_INTERNAL,
					"failed to allocate for range %zu: %s has been allocated to %s, duplicate allocation is not allowed",
					set_index, e->name, id);
	}
	size_t ri = 0;
	struct cni_ip cur = set->ranges[0].start;
	struct cni_ip last;
	if (cni_store_last_reserved(store, set_index, &last)) {
		for (size_t i = 0; i < set->count; i++) {
			if (cni_range_contains(&set->ranges[i], &last)) {
				ri = i;
				cur = last;
				advance(set, &ri, &cur);
				break;
			}
		}
	}
	const struct cni_ip first = cur;
	do {
		const struct cni_range *r = &set->ranges[ri];
		if (!cni_ip_equal(&cur, &r->gateway)) {
			int got = cni_store_reserve(store, &cur, id, ifname, set_index, err);
			if (got < 0)
				return -1;
			if (got == 1) {
				fill(out, &cur, r);
				return 0;
			}
		}
		advance(set, &ri, &cur);
	} while (!cni_ip_equal(&cur, &first));
	char desc[1024];
	cni_set_describe(set, desc, sizeof desc);
	return cni_fail(err, CNI_ERR_INTERNAL, "failed to allocate for range %zu: no IP addresses available in range set: %s",
			set_index, desc);
}

uint64_t cni_alloc_capacity(const struct cni_range_set *set)
{
	uint64_t total = 0;
	for (size_t i = 0; i < set->count; i++) {
		const struct cni_range *r = &set->ranges[i];
		uint64_t n = cni_ip_span(&r->start, &r->end);
		if (n != UINT64_MAX && cni_range_contains(r, &r->gateway))
			n--;
		total = total > UINT64_MAX - n ? UINT64_MAX : total + n;
	}
	return total;
}
