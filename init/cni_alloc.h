/* Address allocation within one range set, with upstream host-local's
 * strategy (backend/allocator/allocator.go): round-robin from the address
 * after last_reserved_ip.N, skipping each range's gateway. */
#ifndef K3S_INIT_CNI_ALLOC_H
#define K3S_INIT_CNI_ALLOC_H

#include <stdint.h>

#include "cni_config.h"
#include "cni_store.h"

struct cni_alloc {
	struct cni_ip ip;
	unsigned prefix;
	struct cni_ip gateway;
};

/* Reserve one address of set (the requested one when not NULL) for (id, ifname).
 * entries is the state as read under the lock, for the duplicate check. */
int cni_alloc_get(struct cni_store *store, const struct cni_range_set *set, size_t set_index,
		  const struct cni_store_entry *entries, size_t nentries, const char *id, const char *ifname,
		  const struct cni_ip *requested, struct cni_alloc *out, struct cni_error *err);

/* Allocatable addresses in the set (gateways excluded), saturating. */
uint64_t cni_alloc_capacity(const struct cni_range_set *set);

#endif
