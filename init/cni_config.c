#include "cni_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cni_supported_versions[] = { "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
const size_t cni_nsupported_versions = sizeof cni_supported_versions / sizeof cni_supported_versions[0];

static bool parse_version(const char *v, unsigned out[3])
{
	char tail;
	return v != NULL && sscanf(v, "%u.%u.%u%c", &out[0], &out[1], &out[2], &tail) == 3;
}

int cni_version_cmp(const char *a, const char *b)
{
	unsigned x[3], y[3];
	if (!parse_version(a, x) || !parse_version(b, y))
		return -2;
	for (int i = 0; i < 3; i++) {
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	}
	return 0;
}

static bool version_supported(const char *v)
{
	for (size_t i = 0; i < cni_nsupported_versions; i++) {
		if (strcmp(v, cni_supported_versions[i]) == 0)
			return true;
	}
	return false;
}

/* --- ranges ------------------------------------------------------------ */

bool cni_range_contains(const struct cni_range *r, const struct cni_ip *ip)
{
	return cni_ip_in_subnet(ip, &r->subnet, r->prefix) && cni_ip_cmp(ip, &r->start) >= 0 &&
	       cni_ip_cmp(ip, &r->end) <= 0;
}

const struct cni_range *cni_set_range_for(const struct cni_range_set *s, const struct cni_ip *ip)
{
	for (size_t i = 0; i < s->count; i++) {
		if (cni_range_contains(&s->ranges[i], ip))
			return &s->ranges[i];
	}
	return NULL;
}

static void range_describe(const struct cni_range *r, char *out, size_t size)
{
	char a[CNI_IP_TEXT], b[CNI_IP_TEXT];
	cni_ip_format(&r->start, a);
	cni_ip_format(&r->end, b);
	snprintf(out, size, "%s-%s", a, b);
}

void cni_set_describe(const struct cni_range_set *s, char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s->count && n + 1 < size; i++) {
		char one[2 * CNI_IP_TEXT + 2];
		range_describe(&s->ranges[i], one, sizeof one);
		n += (size_t)snprintf(out + n, size - n, "%s%s", i ? "," : "", one);
	}
}

/* An optional string member; a present non-string is a config error. */
static int opt_string(json_t *obj, const char *key, const char *where, const char **out, struct cni_error *err)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: \"%s\" must be a string", where, key);
	*out = json_string_value(v);
	return 0;
}

static int opt_ip(json_t *obj, const char *key, const char *where, struct cni_ip *out, bool *present,
		  struct cni_error *err)
{
	const char *text;
	*present = false;
	if (opt_string(obj, key, where, &text, err) < 0)
		return -1;
	if (text == NULL)
		return 0;
	if (!cni_ip_parse(text, out))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: invalid IP address in \"%s\": %s", where, key, text);
	*present = true;
	return 0;
}

/* Range.Canonicalize in upstream range.go: defaults and sanity, same messages. */
static int range_parse(json_t *obj, const char *where, struct cni_range *r, struct cni_error *err)
{
	if (!json_is_object(obj))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: a range must be an object", where);
	const char *subnet_text;
	if (opt_string(obj, "subnet", where, &subnet_text, err) < 0)
		return -1;
	if (subnet_text == NULL)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: missing \"subnet\"", where);
	struct cni_cidr c;
	if (!cni_cidr_parse(subnet_text, &c))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: invalid CIDR address: %s", where, subnet_text);
	char shown[CNI_IP_TEXT];
	cni_cidr_format(&c.ip, c.prefix, shown);
	unsigned bits = c.ip.len * 8u;
	if (c.prefix > bits - 2)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: Network %s too small to allocate from", where, shown);
	struct cni_ip probe;
	char probe_text[CNI_IP_TEXT];
	cni_ip_format(&c.ip, probe_text);
	if (cni_ip_parse(probe_text, &probe) && probe.len != c.ip.len)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: IPNet IP and Mask version mismatch", where);
	cni_ip_network(&c.ip, c.prefix, &r->subnet);
	r->prefix = c.prefix;
	if (!cni_ip_equal(&r->subnet, &c.ip)) {
		char net[CNI_IP_TEXT];
		cni_ip_format(&r->subnet, net);
		return cni_fail(err, CNI_ERR_INVALID_CONFIG,
				"%s: Network has host bits set. For a subnet mask of length %u the network address is %s",
				where, c.prefix, net);
	}
	bool has;
	if (opt_ip(obj, "gateway", where, &r->gateway, &has, err) < 0)
		return -1;
	if (!has) {
		r->gateway = r->subnet;
		cni_ip_next(&r->gateway);
	}
	/* While start/end are being set, containment only checks the subnet and
	 * whatever bound is already known, as upstream's Contains does with nils. */
	memset(&r->start, 0, sizeof r->start);
	r->start.len = r->subnet.len;
	cni_ip_last(&r->subnet, r->prefix, &r->end);
	if (opt_ip(obj, "rangeStart", where, &r->start, &has, err) < 0)
		return -1;
	if (has) {
		if (!cni_ip_in_subnet(&r->start, &r->subnet, r->prefix)) {
			char s[CNI_IP_TEXT];
			cni_ip_format(&r->start, s);
			return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: RangeStart %s not in network %s", where, s, shown);
		}
	} else {
		r->start = r->subnet;
		cni_ip_next(&r->start);
	}
	if (opt_ip(obj, "rangeEnd", where, &r->end, &has, err) < 0)
		return -1;
	if (has) {
		if (!cni_range_contains(r, &r->end)) {
			char e[CNI_IP_TEXT];
			cni_ip_format(&r->end, e);
			return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: RangeEnd %s not in network %s", where, e, shown);
		}
	} else {
		cni_ip_last(&r->subnet, r->prefix, &r->end);
		if (r->end.len == 4)
			r->end.b[3]--; /* skip the broadcast address */
		/* Upstream checks an explicit rangeEnd against rangeStart (Contains
		 * above) but not this default: a rangeStart on the broadcast address
		 * then lies above the end, and its allocator (RangeIter.Next, which
		 * stops only when it meets RangeEnd) hands out the broadcast and walks
		 * on out of the subnet. */
		if (cni_ip_cmp(&r->start, &r->end) > 0) {
			char s[CNI_IP_TEXT], e[CNI_IP_TEXT];
			cni_ip_format(&r->start, s);
			cni_ip_format(&r->end, e);
			return cni_fail(err, CNI_ERR_INVALID_CONFIG,
					"%s: RangeStart %s is above the default RangeEnd %s of network %s", where, s, e,
					shown);
		}
	}
	return 0;
}

static bool ranges_overlap(const struct cni_range *a, const struct cni_range *b)
{
	if (a->start.len != b->start.len)
		return false;
	return cni_range_contains(a, &b->start) || cni_range_contains(a, &b->end) || cni_range_contains(b, &a->start) ||
	       cni_range_contains(b, &a->end);
}

static bool sets_overlap(const struct cni_range_set *a, const struct cni_range_set *b)
{
	for (size_t i = 0; i < a->count; i++) {
		for (size_t j = 0; j < b->count; j++) {
			if (ranges_overlap(&a->ranges[i], &b->ranges[j]))
				return true;
		}
	}
	return false;
}

static int set_parse(json_t *arr, size_t idx, struct cni_range_set *set, struct cni_error *err)
{
	char where[64];
	snprintf(where, sizeof where, "invalid range set %zu", idx);
	if (!json_is_array(arr))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: a range set must be an array of ranges", where);
	if (json_array_size(arr) == 0)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: empty range set", where);
	set->count = json_array_size(arr);
	set->ranges = calloc(set->count, sizeof *set->ranges);
	if (set->ranges == NULL)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < set->count; i++) {
		if (range_parse(json_array_get(arr, i), where, &set->ranges[i], err) < 0)
			return -1;
		if (set->ranges[i].start.len != set->ranges[0].start.len)
			return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: mixed address families", where);
	}
	for (size_t i = 0; i < set->count; i++) {
		for (size_t j = i + 1; j < set->count; j++) {
			if (ranges_overlap(&set->ranges[i], &set->ranges[j])) {
				char a[128], b[128];
				range_describe(&set->ranges[i], a, sizeof a);
				range_describe(&set->ranges[j], b, sizeof b);
				return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s: subnets %s and %s overlap", where, a, b);
			}
		}
	}
	return 0;
}

/* Upstream order: runtimeConfig.ipRanges, then the legacy top-level range,
 * then "ranges". */
static int collect_sets(struct cni_conf *conf, json_t *ipam, struct cni_error *err)
{
	json_t *runtime_ranges = json_object_get(json_object_get(conf->root, "runtimeConfig"), "ipRanges");
	json_t *ranges = json_object_get(ipam, "ranges");
	json_t *legacy_subnet = json_object_get(ipam, "subnet");
	if (runtime_ranges != NULL && !json_is_null(runtime_ranges) && !json_is_array(runtime_ranges))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "runtimeConfig.ipRanges must be an array of range sets");
	if (ranges != NULL && !json_is_null(ranges) && !json_is_array(ranges))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "ipam.ranges must be an array of range sets");
	size_t nrt = json_is_array(runtime_ranges) ? json_array_size(runtime_ranges) : 0;
	size_t nlegacy = legacy_subnet != NULL && !json_is_null(legacy_subnet) ? 1 : 0;
	size_t nranges = json_is_array(ranges) ? json_array_size(ranges) : 0;
	size_t total = nrt + nlegacy + nranges;
	if (total == 0)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "no IP ranges specified");
	if (total > 1024)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "too many range sets (%zu)", total);
	conf->sets = calloc(total, sizeof *conf->sets);
	if (conf->sets == NULL)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	conf->nsets = total;
	size_t k = 0;
	for (size_t i = 0; i < nrt; i++, k++) {
		if (set_parse(json_array_get(runtime_ranges, i), k, &conf->sets[k], err) < 0)
			return -1;
	}
	if (nlegacy) {
		json_t *one = json_pack("[O]", ipam);
		int rc = one ? set_parse(one, k, &conf->sets[k], err) : cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
		json_decref(one);
		if (rc < 0)
			return -1;
		k++;
	}
	for (size_t i = 0; i < nranges; i++, k++) {
		if (set_parse(json_array_get(ranges, i), k, &conf->sets[k], err) < 0)
			return -1;
	}
	return 0;
}

static int check_sets(struct cni_conf *conf, struct cni_error *err)
{
	unsigned v4 = 0, v6 = 0;
	for (size_t i = 0; i < conf->nsets; i++) {
		if (conf->sets[i].ranges[0].start.len == 4)
			v4++;
		else
			v6++;
	}
	if ((v4 > 1 || v6 > 1) && cni_version_cmp(conf->version, "0.3.0") < 0)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "CNI version %s does not support more than 1 address per family",
				conf->version);
	for (size_t i = 0; i + 1 < conf->nsets; i++) {
		for (size_t j = i + 1; j < conf->nsets; j++) {
			if (sets_overlap(&conf->sets[i], &conf->sets[j]))
				return cni_fail(err, CNI_ERR_INVALID_CONFIG, "range set %zu overlaps with %zu", i, j);
		}
	}
	return 0;
}

/* --- routes and dns ---------------------------------------------------- */

static int route_parse(json_t *in, size_t idx, json_t *out_list, struct cni_error *err)
{
	if (!json_is_object(in))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "ipam.routes[%zu] must be an object", idx);
	json_t *dst = json_object_get(in, "dst");
	struct cni_cidr c;
	if (!json_is_string(dst) || !cni_cidr_parse(json_string_value(dst), &c))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "ipam.routes[%zu]: \"dst\" must be a CIDR", idx);
	char text[CNI_IP_TEXT];
	cni_cidr_format(&c.ip, c.prefix, text);
	json_t *r = json_object();
	if (r == NULL || json_array_append_new(out_list, r) < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	json_object_set_new(r, "dst", json_string(text));
	json_t *gw = json_object_get(in, "gw");
	if (gw != NULL && !json_is_null(gw)) {
		struct cni_ip ip;
		if (!json_is_string(gw) || !cni_ip_parse(json_string_value(gw), &ip))
			return cni_fail(err, CNI_ERR_INVALID_CONFIG, "ipam.routes[%zu]: \"gw\" must be an IP address", idx);
		cni_ip_format(&ip, text);
		json_object_set_new(r, "gw", json_string(text));
	}
	/* Route attributes of spec 1.1.0 (pkg/types Route); zero means unset for
	 * the first three, as Go's omitempty prints them. */
	static const char *const ints[] = { "mtu", "advmss", "priority", "table", "scope" };
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		json_t *v = json_object_get(in, ints[i]);
		if (v == NULL || json_is_null(v))
			continue;
		if (!json_is_integer(v))
			return cni_fail(err, CNI_ERR_INVALID_CONFIG, "ipam.routes[%zu]: \"%s\" must be an integer", idx,
					ints[i]);
		if (i < 3 && json_integer_value(v) == 0)
			continue;
		json_object_set_new(r, ints[i], json_integer(json_integer_value(v)));
	}
	return 0;
}

static int routes_parse(struct cni_conf *conf, json_t *ipam, struct cni_error *err)
{
	conf->routes = json_array();
	if (conf->routes == NULL)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	json_t *routes = json_object_get(ipam, "routes");
	if (routes == NULL || json_is_null(routes))
		return 0;
	if (!json_is_array(routes))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "ipam.routes must be an array");
	size_t i;
	json_t *r;
	json_array_foreach(routes, i, r)
	{
		if (route_parse(r, i, conf->routes, err) < 0)
			return -1;
	}
	return 0;
}

static int string_list(json_t *in, const char *what, json_t *out, struct cni_error *err)
{
	if (!json_is_array(in))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s must be an array of strings", what);
	size_t i;
	json_t *v;
	json_array_foreach(in, i, v)
	{
		if (!json_is_string(v))
			return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s must be an array of strings", what);
	}
	if (json_array_size(in) > 0)
		json_object_set(out, what + strlen("ipam.dns."), in);
	return 0;
}

/* ipam.dns is not read by upstream host-local, which only knows resolvConf;
 * copying it lets a config carry DNS without a file on the host. */
static int dns_parse(struct cni_conf *conf, json_t *ipam, struct cni_error *err)
{
	json_t *dns = json_object_get(ipam, "dns");
	if (dns == NULL || json_is_null(dns))
		return 0;
	if (!json_is_object(dns))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "ipam.dns must be an object");
	conf->dns = json_object();
	if (conf->dns == NULL)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	json_t *v;
	if ((v = json_object_get(dns, "nameservers")) && string_list(v, "ipam.dns.nameservers", conf->dns, err) < 0)
		return -1;
	if ((v = json_object_get(dns, "search")) && string_list(v, "ipam.dns.search", conf->dns, err) < 0)
		return -1;
	if ((v = json_object_get(dns, "options")) && string_list(v, "ipam.dns.options", conf->dns, err) < 0)
		return -1;
	if ((v = json_object_get(dns, "domain")) != NULL) {
		if (!json_is_string(v))
			return cni_fail(err, CNI_ERR_INVALID_CONFIG, "ipam.dns.domain must be a string");
		if (json_string_length(v) > 0)
			json_object_set(conf->dns, "domain", v);
	}
	return 0;
}

/* --- requested addresses ----------------------------------------------- */

static int add_requested(struct cni_conf *conf, const char *text, int code, const char *what, struct cni_error *err)
{
	struct cni_ip ip;
	struct cni_cidr c;
	/* plugins' pkg/ip.IP accepts a bare address or address/prefix. */
	if (cni_cidr_parse(text, &c)) {
		char bare[CNI_IP_TEXT];
		cni_ip_format(&c.ip, bare);
		cni_ip_parse(bare, &ip);
	} else if (!cni_ip_parse(text, &ip)) {
		return cni_fail(err, code, "%s: invalid IP address: %s", what, text);
	}
	if (conf->nrequested >= 256)
		return cni_fail(err, code, "%s: too many requested addresses", what);
	struct cni_ip *grown = realloc(conf->requested, (conf->nrequested + 1) * sizeof *grown);
	if (grown == NULL)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	conf->requested = grown;
	conf->requested[conf->nrequested++] = ip;
	return 0;
}

/* CNI_ARGS "K=V;K=V": IP= asks for an address; unknown keys are an error
 * unless IgnoreUnknown is true (pkg/types/args.go LoadArgs). */
static int cni_args_parse(struct cni_conf *conf, const char *args, struct cni_error *err)
{
	if (args == NULL || args[0] == '\0')
		return 0;
	char *copy = strdup(args);
	if (copy == NULL)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	int rc = 0;
	bool ignore_unknown = false;
	char unknown[256] = "";
	char *save = NULL;
	/* strtok_r would merge empty pairs; upstream rejects them. */
	for (char *pair = copy; pair != NULL && rc == 0; pair = save) {
		save = strchr(pair, ';');
		if (save != NULL)
			*save++ = '\0';
		char *eq = strchr(pair, '=');
		if (eq == NULL || strchr(eq + 1, '=') != NULL) {
			rc = cni_fail(err, CNI_ERR_INVALID_ENV, "ARGS: invalid pair \"%s\"", pair);
			break;
		}
		*eq = '\0';
		const char *value = eq + 1;
		if (strcmp(pair, "IP") == 0) {
			rc = add_requested(conf, value, CNI_ERR_INVALID_ENV, "CNI_ARGS IP", err);
		} else if (strcmp(pair, "IgnoreUnknown") == 0) {
			if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0 || strcmp(value, "True") == 0)
				ignore_unknown = true;
			else if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0 || strcmp(value, "False") == 0)
				ignore_unknown = false;
			else
				rc = cni_fail(err, CNI_ERR_INVALID_ENV, "ARGS: error parsing value of pair \"IgnoreUnknown=%s\"",
					      value);
		} else if (strlen(unknown) + strlen(pair) + 2 < sizeof unknown) {
			if (unknown[0] != '\0')
				strcat(unknown, " ");
			strcat(unknown, pair);
		}
	}
	free(copy);
	if (rc == 0 && unknown[0] != '\0' && !ignore_unknown)
		rc = cni_fail(err, CNI_ERR_INVALID_ENV, "ARGS: unknown args [%s]", unknown);
	return rc;
}

static int ip_list(struct cni_conf *conf, json_t *list, const char *what, struct cni_error *err)
{
	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s must be an array of addresses", what);
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v))
			return cni_fail(err, CNI_ERR_INVALID_CONFIG, "%s must be an array of addresses", what);
		if (add_requested(conf, json_string_value(v), CNI_ERR_INVALID_CONFIG, what, err) < 0)
			return -1;
	}
	return 0;
}

/* --- the whole config -------------------------------------------------- */

/* What pkg/skel checks before any plugin code runs. */
static int skeleton_checks(struct cni_conf *conf, const char *data, size_t len, enum cni_command cmd,
			   struct cni_error *err)
{
	json_error_t jerr;
	conf->root = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
	if (conf->root == NULL)
		return cni_fail(err, CNI_ERR_DECODE, "error unmarshall network config: %s", jerr.text);
	if (!json_is_object(conf->root))
		return cni_fail(err, CNI_ERR_DECODE, "error unmarshall network config: not a JSON object");
	json_t *name = json_object_get(conf->root, "name");
	if (name != NULL && !json_is_null(name) && !json_is_string(name))
		return cni_fail(err, CNI_ERR_DECODE, "error unmarshall network config: \"name\" must be a string");
	conf->name = json_is_string(name) ? json_string_value(name) : "";
	if (conf->name[0] == '\0')
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "missing network name");
	if (!cni_valid_name(conf->name)) {
		cni_fail(err, CNI_ERR_INVALID_CONFIG, "invalid characters found in network name");
		cni_error_details(err, "%s", conf->name);
		return -1;
	}
	json_t *ver = json_object_get(conf->root, "cniVersion");
	if (ver != NULL && !json_is_null(ver) && !json_is_string(ver))
		return cni_fail(err, CNI_ERR_DECODE, "\"cniVersion\" must be a string");
	const char *v = json_is_string(ver) && json_string_length(ver) > 0 ? json_string_value(ver) : "0.1.0";
	snprintf(conf->version, sizeof conf->version, "%s", strlen(v) < sizeof conf->version ? v : "?");
	if (!version_supported(v)) {
		cni_fail(err, CNI_ERR_INCOMPATIBLE_VERSION, "incompatible CNI versions");
		char list[128] = "";
		for (size_t i = 0; i < cni_nsupported_versions; i++) {
			strcat(list, i ? " \"" : "\"");
			strcat(list, cni_supported_versions[i]);
			strcat(list, "\"");
		}
		cni_error_details(err, "config is \"%.40s\", plugin supports [%s]", v, list);
		/* The error result then names a version the runtime understands. */
		snprintf(conf->version, sizeof conf->version, "%s", "1.1.0");
		return -1;
	}
	static const struct {
		enum cni_command cmd;
		const char *name, *min;
	} gates[] = { { CNI_CMD_CHECK, "CHECK", "0.4.0" }, { CNI_CMD_GC, "GC", "1.1.0" }, { CNI_CMD_STATUS, "STATUS", "1.1.0" } };
	for (size_t i = 0; i < sizeof gates / sizeof gates[0]; i++) {
		if (cmd == gates[i].cmd && cni_version_cmp(conf->version, gates[i].min) < 0)
			return cni_fail(err, CNI_ERR_INCOMPATIBLE_VERSION, "config version does not allow %s", gates[i].name);
	}
	return 0;
}

static int ipam_parse(struct cni_conf *conf, const struct cni_env *env, struct cni_error *err)
{
	json_t *ipam = json_object_get(conf->root, "ipam");
	if (ipam == NULL || json_is_null(ipam))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "IPAM config missing 'ipam' key");
	if (!json_is_object(ipam))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "\"ipam\" must be an object");
	if (cni_args_parse(conf, env->args, err) < 0)
		return -1;
	json_t *args = json_object_get(conf->root, "args");
	if (args != NULL && !json_is_null(args) && !json_is_object(args))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "\"args\" must be an object");
	json_t *cni_args = json_object_get(args, "cni");
	if (cni_args != NULL && !json_is_null(cni_args) && !json_is_object(cni_args))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "\"args.cni\" must be an object");
	if (ip_list(conf, json_object_get(cni_args, "ips"), "args.cni.ips", err) < 0)
		return -1;
	json_t *runtime = json_object_get(conf->root, "runtimeConfig");
	if (runtime != NULL && !json_is_null(runtime) && !json_is_object(runtime))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "\"runtimeConfig\" must be an object");
	if (ip_list(conf, json_object_get(runtime, "ips"), "runtimeConfig.ips", err) < 0)
		return -1;
	if (collect_sets(conf, ipam, err) < 0 || check_sets(conf, err) < 0)
		return -1;
	if (routes_parse(conf, ipam, err) < 0 || dns_parse(conf, ipam, err) < 0)
		return -1;
	if (opt_string(ipam, "dataDir", "ipam", &conf->data_dir, err) < 0 ||
	    opt_string(ipam, "resolvConf", "ipam", &conf->resolv_conf, err) < 0)
		return -1;
	if (conf->data_dir == NULL || conf->data_dir[0] == '\0')
		conf->data_dir = "/var/lib/cni/networks";
	if (conf->resolv_conf != NULL && conf->resolv_conf[0] == '\0')
		conf->resolv_conf = NULL;
	return 0;
}

int cni_conf_parse(struct cni_conf *conf, const char *data, size_t len, const struct cni_env *env,
		   struct cni_error *err)
{
	memset(conf, 0, sizeof *conf);
	snprintf(conf->version, sizeof conf->version, "%s", "1.1.0");
	if (skeleton_checks(conf, data, len, env->command, err) < 0)
		return -1;
	if (ipam_parse(conf, env, err) < 0)
		return -1;
	json_t *prev = json_object_get(conf->root, "prevResult");
	if (prev != NULL && !json_is_null(prev)) {
		if (!json_is_object(prev))
			return cni_fail(err, CNI_ERR_DECODE, "prevResult must be an object");
		conf->prev_result = prev;
	}
	json_t *valid = json_object_get(conf->root, "cni.dev/valid-attachments");
	if (valid != NULL && !json_is_null(valid)) {
		if (!json_is_array(valid))
			return cni_fail(err, CNI_ERR_INVALID_CONFIG, "cni.dev/valid-attachments must be an array");
		conf->valid_attachments = valid;
	}
	return 0;
}

void cni_conf_free(struct cni_conf *conf)
{
	for (size_t i = 0; i < conf->nsets; i++)
		free(conf->sets[i].ranges);
	free(conf->sets);
	free(conf->requested);
	json_decref(conf->routes);
	json_decref(conf->dns);
	json_decref(conf->root);
	memset(conf, 0, sizeof *conf);
}
