#include "cni_result.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *ip_text(const struct cni_ip *ip)
{
	char t[CNI_IP_TEXT];
	cni_ip_format(ip, t);
	return json_string(t);
}

static json_t *cidr_text(const struct cni_ip *ip, unsigned prefix)
{
	char t[CNI_IP_TEXT];
	cni_cidr_format(ip, prefix, t);
	return json_string(t);
}

static bool route_is_v4(json_t *route)
{
	struct cni_cidr c;
	return cni_cidr_parse(json_string_value(json_object_get(route, "dst")), &c) && c.ip.len == 4;
}

/* 0.1.0 / 0.2.0: the first address of each family, routes split by family
 * of their destination (types/040 convertTo02x upstream). */
static int build_legacy(json_t *res, const struct cni_conf *conf, const struct cni_alloc *allocs, size_t n)
{
	json_t *fam[2] = { NULL, NULL };
	for (size_t i = 0; i < n; i++) {
		int f = allocs[i].ip.len == 4 ? 0 : 1;
		if (fam[f] != NULL)
			continue;
		fam[f] = json_object();
		if (fam[f] == NULL || json_object_set_new(res, f ? "ip6" : "ip4", fam[f]) < 0)
			return -1;
		json_object_set_new(fam[f], "ip", cidr_text(&allocs[i].ip, allocs[i].prefix));
		json_object_set_new(fam[f], "gateway", ip_text(&allocs[i].gateway));
	}
	size_t i;
	json_t *route;
	json_array_foreach(conf->routes, i, route)
	{
		json_t *target = fam[route_is_v4(route) ? 0 : 1];
		if (target == NULL)
			continue;
		json_t *list = json_object_get(target, "routes");
		if (list == NULL) {
			list = json_array();
			if (list == NULL || json_object_set_new(target, "routes", list) < 0)
				return -1;
		}
		json_t *copy = json_pack("{s:O}", "dst", json_object_get(route, "dst"));
		if (copy == NULL || json_array_append_new(list, copy) < 0)
			return -1;
		if (json_object_get(route, "gw"))
			json_object_set(copy, "gw", json_object_get(route, "gw"));
	}
	return 0;
}

static int build_current(json_t *res, const struct cni_conf *conf, const struct cni_alloc *allocs, size_t n)
{
	/* 0.3.x and 0.4.0 tag each address with its family; 1.0.0 dropped it. */
	bool tagged = cni_version_cmp(conf->version, "1.0.0") < 0;
	json_t *ips = json_array();
	if (ips == NULL || json_object_set_new(res, "ips", ips) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		if (o == NULL || json_array_append_new(ips, o) < 0)
			return -1;
		if (tagged)
			json_object_set_new(o, "version", json_string(allocs[i].ip.len == 4 ? "4" : "6"));
		json_object_set_new(o, "address", cidr_text(&allocs[i].ip, allocs[i].prefix));
		json_object_set_new(o, "gateway", ip_text(&allocs[i].gateway));
	}
	if (json_array_size(conf->routes) > 0 && json_object_set(res, "routes", conf->routes) < 0)
		return -1;
	return 0;
}

json_t *cni_result_build(const struct cni_conf *conf, const struct cni_alloc *allocs, size_t n, json_t *dns)
{
	json_t *res = json_object();
	if (res == NULL)
		return NULL;
	json_object_set_new(res, "cniVersion", json_string(conf->version));
	int rc = cni_version_cmp(conf->version, "0.3.0") < 0 ? build_legacy(res, conf, allocs, n)
							     : build_current(res, conf, allocs, n);
	/* Upstream always prints "dns", as {} when empty. */
	json_t *d = dns ? json_copy(dns) : json_object();
	if (rc < 0 || d == NULL || json_object_set_new(res, "dns", d) < 0) {
		json_decref(res);
		return NULL;
	}
	return res;
}

int cni_result_print(json_t *result)
{
	char *text = json_dumps(result, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	if (text == NULL)
		return -1;
	int rc = fputs(text, stdout) < 0 || fflush(stdout) != 0 ? -1 : 0;
	free(text);
	return rc;
}

static int prev_add(json_t *addr, struct cni_cidr **out, size_t *count, struct cni_error *err)
{
	struct cni_cidr c;
	if (!json_is_string(addr) || !cni_cidr_parse(json_string_value(addr), &c))
		return cni_fail(err, CNI_ERR_DECODE, "prevResult: an address is not a CIDR");
	char bare[CNI_IP_TEXT];
	cni_ip_format(&c.ip, bare);
	cni_ip_parse(bare, &c.ip); /* IPv4-mapped forms compare as IPv4 */
	struct cni_cidr *grown = realloc(*out, (*count + 1) * sizeof *grown);
	if (grown == NULL)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	*out = grown;
	(*out)[(*count)++] = c;
	return 0;
}

static int prev_collect(json_t *prev, struct cni_cidr **out, size_t *count, struct cni_error *err)
{
	*out = NULL;
	*count = 0;
	if (!json_is_object(prev))
		return cni_fail(err, CNI_ERR_DECODE, "prevResult must be an object");
	json_t *ips = json_object_get(prev, "ips");
	if (ips != NULL && !json_is_null(ips)) {
		if (!json_is_array(ips))
			return cni_fail(err, CNI_ERR_DECODE, "prevResult: \"ips\" must be an array");
		size_t i;
		json_t *o;
		json_array_foreach(ips, i, o)
		{
			if (!json_is_object(o))
				return cni_fail(err, CNI_ERR_DECODE, "prevResult: ips[%zu] must be an object", i);
			if (prev_add(json_object_get(o, "address"), out, count, err) < 0)
				return -1;
		}
	}
	static const char *const legacy[] = { "ip4", "ip6" };
	for (size_t i = 0; i < 2; i++) {
		json_t *o = json_object_get(prev, legacy[i]);
		if (o == NULL || json_is_null(o))
			continue;
		if (!json_is_object(o))
			return cni_fail(err, CNI_ERR_DECODE, "prevResult: \"%s\" must be an object", legacy[i]);
		if (prev_add(json_object_get(o, "ip"), out, count, err) < 0)
			return -1;
	}
	return 0;
}

int cni_result_prev_ips(json_t *prev, struct cni_cidr **out, size_t *count, struct cni_error *err)
{
	if (prev_collect(prev, out, count, err) == 0)
		return 0;
	free(*out);
	*out = NULL;
	*count = 0;
	return -1;
}

static int append_words(json_t *dns, const char *key, char *rest)
{
	json_t *list = json_object_get(dns, key);
	if (list == NULL) {
		list = json_array();
		if (list == NULL || json_object_set_new(dns, key, list) < 0)
			return -1;
	}
	for (char *save = NULL, *w = strtok_r(rest, " \t\r\n\v\f", &save); w; w = strtok_r(NULL, " \t\r\n\v\f", &save)) {
		if (json_array_append_new(list, json_string(w)) < 0)
			return -1;
	}
	return 0;
}

static int resolv_line(json_t *dns, char *line)
{
	char *save = NULL;
	char *key = strtok_r(line, " \t\r\n\v\f", &save);
	if (key == NULL || key[0] == '#' || key[0] == ';')
		return 0;
	char *rest = save ? save : (char *)"";
	char probe[1024];
	snprintf(probe, sizeof probe, "%s", rest);
	char *psave = NULL;
	char *first = strtok_r(probe, " \t\r\n\v\f", &psave);
	if (first == NULL)
		return 0; /* fewer than two fields: ignored upstream */
	if (strcmp(key, "nameserver") == 0) {
		json_t *list = json_object_get(dns, "nameservers");
		if (list == NULL) {
			list = json_array();
			if (list == NULL || json_object_set_new(dns, "nameservers", list) < 0)
				return -1;
		}
		return json_array_append_new(list, json_string(first));
	}
	if (strcmp(key, "domain") == 0)
		return json_object_set_new(dns, "domain", json_string(first));
	if (strcmp(key, "search") == 0)
		return append_words(dns, "search", rest);
	if (strcmp(key, "options") == 0)
		return append_words(dns, "options", rest);
	return 0;
}

json_t *cni_resolv_conf_parse(const char *path, struct cni_error *err)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		cni_fail(err, CNI_ERR_IO, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	json_t *dns = json_object();
	char line[1024];
	while (dns != NULL && fgets(line, sizeof line, f) != NULL) {
		if (resolv_line(dns, line) < 0) {
			json_decref(dns);
			dns = NULL;
		}
	}
	if (dns == NULL)
		cni_fail(err, CNI_ERR_INTERNAL, "out of memory (or text not UTF-8) reading %s", path);
	else if (ferror(f)) {
		cni_fail(err, CNI_ERR_IO, "read %s: %s", path, strerror(errno));
		json_decref(dns);
		dns = NULL;
	}
	fclose(f);
	return dns;
}
