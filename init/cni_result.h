/* IPAM results in the shape of each CNI version (SPEC.md "Success";
 * pkg/types/020, 040, 100 upstream), and reading a prevResult back. */
#ifndef K3S_INIT_CNI_RESULT_H
#define K3S_INIT_CNI_RESULT_H

#include <jansson.h>

#include "cni_alloc.h"
#include "cni_config.h"

/* The result for conf's cniVersion; dns may be NULL. NULL on out of memory. */
json_t *cni_result_build(const struct cni_conf *conf, const struct cni_alloc *allocs, size_t n, json_t *dns);
/* Print as upstream does (4-space indent); -1 when stdout fails. */
int cni_result_print(json_t *result);

/* The addresses of a prevResult (ips[].address, or ip4.ip / ip6.ip before
 * 0.3.0). Caller frees *out. */
int cni_result_prev_ips(json_t *prev, struct cni_cidr **out, size_t *count, struct cni_error *err);

/* The DNS settings of a resolv.conf, as upstream host-local's dns.go reads
 * them (nameserver, domain, search, options). */
json_t *cni_resolv_conf_parse(const char *path, struct cni_error *err);

#endif
