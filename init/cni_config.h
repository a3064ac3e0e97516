/* The network configuration on stdin and its host-local "ipam" section, read
 * with the rules of upstream plugins/ipam/host-local/backend/allocator/config.go. */
#ifndef K3S_INIT_CNI_CONFIG_H
#define K3S_INIT_CNI_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cni_env.h"
#include "cni_error.h"
#include "cni_ip.h"

/* One range: subnet plus inclusive [start, end] and the gateway. */
struct cni_range {
	struct cni_ip subnet; /* network address */
	unsigned prefix;
	struct cni_ip start, end, gateway;
};

/* One address is allocated per range set. */
struct cni_range_set {
	struct cni_range *ranges;
	size_t count;
};

#define CNI_MAX_VERSION 16

struct cni_conf {
	json_t *root;
	char version[CNI_MAX_VERSION];
	const char *name;
	struct cni_range_set *sets;
	size_t nsets;
	json_t *routes; /* normalized route objects, owned */
	json_t *dns;	/* normalized DNS object from ipam.dns, owned, or NULL */
	const char *data_dir;
	const char *resolv_conf; /* NULL when unset */
	struct cni_ip *requested; /* addresses asked for by CNI_ARGS, args, runtimeConfig */
	size_t nrequested;
	json_t *prev_result;	   /* borrowed from root, or NULL */
	json_t *valid_attachments; /* borrowed from root, or NULL */
};

extern const char *const cni_supported_versions[];
extern const size_t cni_nsupported_versions;

/* Compare two dotted versions; -2 when either is not "N.N.N". */
int cni_version_cmp(const char *a, const char *b);

/* Parse stdin for the given command: the skeleton's checks (JSON, name,
 * cniVersion and what the command needs of it), then the ipam section. */
int cni_conf_parse(struct cni_conf *conf, const char *data, size_t len, const struct cni_env *env,
		   struct cni_error *err);
void cni_conf_free(struct cni_conf *conf);

/* Helpers over parsed ranges, shared with the allocator. */
bool cni_range_contains(const struct cni_range *r, const struct cni_ip *ip);
const struct cni_range *cni_set_range_for(const struct cni_range_set *s, const struct cni_ip *ip);
/* "start-end,start-end" as upstream's RangeSet.String() prints it. */
void cni_set_describe(const struct cni_range_set *s, char *out, size_t size);

#endif
