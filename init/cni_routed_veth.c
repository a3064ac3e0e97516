/*
 * routed-veth: a CNI main plugin that gives each pod a veth pair and routes
 * to it, with no bridge, for network stacks where the bridge plugin cannot
 * work. gVisor's netstack makes veth pairs and routes, but refuses what the
 * bridge plugin (flannel's delegate) and ptp ask of it: a bridge port's
 * hairpin mode (RTM_SETLINK AF_BRIDGE IFLA_PROTINFO) and a route's preferred
 * source (RTA_PREFSRC); see probe_limits.c. So:
 *   pod side:  <ifname> with the IPAM address as /32, a link route to the
 *              gateway, then the IPAM routes and a default route, through
 *              the gateway;
 *   node side: veth<hash of container ID and ifname>, with the gateway as
 *              /32 and a link route to the pod's address;
 * IPv4 forwarding on, and with "ipMasq": true, source NAT for traffic from
 * the pod subnet to anywhere else (cni_snat.c). Pods on one node reach each
 * other through the node's routes. The address comes from the IPAM plugin
 * of "ipam", run from CNI_PATH. IPv4 only.
 */
#include "cni_routed_veth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni_config.h"
#include "cni_env.h"
#include "cni_error.h"
#include "cni_exec.h"
#include "cni_ip.h"
#include "cni_link.h"
#include "cni_plugin.h"
#include "cni_result.h"
#include "cni_snat.h"
#include "log.h"

/* From 0.3.0 on, results carry interfaces (SPEC.md "Success"). */
static const char *const routed_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
#define NROUTED_VERSIONS (sizeof routed_versions / sizeof routed_versions[0])

struct rv_conf {
	json_t *root;
	const char *data; /* the config as read, passed on to IPAM */
	size_t len;
	char version[CNI_MAX_VERSION];
	const char *ipam_type;
	unsigned mtu; /* 0: the kernel's default */
	bool snat;
};

struct rv_addr {
	struct in_addr ip, gateway, subnet;
	unsigned prefix;
};

static bool routed_version(const char *v)
{
	for (size_t i = 0; v != NULL && i < NROUTED_VERSIONS; i++) {
		if (strcmp(v, routed_versions[i]) == 0)
			return true;
	}
	return false;
}

static int parse_conf(struct rv_conf *c, const char *data, size_t len, struct cni_error *err)
{
	memset(c, 0, sizeof *c);
	c->data = data;
	c->len = len;
	snprintf(c->version, sizeof c->version, "1.1.0");
	json_error_t jerr;
	c->root = json_loadb(data, len, 0, &jerr);
	if (!json_is_object(c->root))
		return cni_fail(err, CNI_ERR_DECODE, "routed-veth: the network config is not a JSON object: %s",
				c->root ? "not an object" : jerr.text);
	const char *version = json_string_value(json_object_get(c->root, "cniVersion"));
	if (!routed_version(version))
		return cni_fail(err, CNI_ERR_INCOMPATIBLE_VERSION,
				"routed-veth: cniVersion %s%s%s is not supported (0.3.0 to 1.1.0 are)", version ? "\"" : "",
				version ? version : "(none)", version ? "\"" : "");
	snprintf(c->version, sizeof c->version, "%s", version);
	if (!cni_valid_name(json_string_value(json_object_get(c->root, "name"))))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "routed-veth: \"name\" is missing or not a valid network name");
	c->ipam_type = json_string_value(json_object_get(json_object_get(c->root, "ipam"), "type"));
	if (c->ipam_type == NULL)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "routed-veth: \"ipam\" needs a string \"type\" (host-local)");
	json_t *mtu = json_object_get(c->root, "mtu");
	if (mtu != NULL && (!json_is_integer(mtu) || json_integer_value(mtu) < 68 || json_integer_value(mtu) > 65535))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "routed-veth: \"mtu\" must be an integer from 68 to 65535");
	c->mtu = mtu ? (unsigned)json_integer_value(mtu) : 0;
	/* flannel sets "ipMasq" on its delegate (cni-plugin flannel_linux.go). */
	json_t *masq = json_object_get(c->root, "ipMasq");
	if (masq != NULL && !json_is_boolean(masq))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "routed-veth: \"ipMasq\" must be true or false");
	c->snat = json_is_true(masq);
	return 0;
}

/* veth + FNV-1a of container ID and ifname: the same attachment always
 * names the same node-side link, so DEL finds it without state. */
static void host_link_name(const struct cni_env *env, const char *prefix, char out[IFNAMSIZ])
{
	uint32_t h = 2166136261u;
	const char *parts[] = { env->container_id, "/", env->ifname };
	for (size_t i = 0; i < 3; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
			h = (h ^ *p) * 16777619u;
	}
	snprintf(out, IFNAMSIZ, "%s%08x", prefix, h);
}

static int parse_v4(const char *text, struct in_addr *out)
{
	return text != NULL && inet_pton(AF_INET, text, out) == 1 ? 0 : -1;
}

/* The one IPv4 address of the IPAM result, with its gateway. */
static int result_address(json_t *res, struct rv_addr *a, struct cni_error *err)
{
	json_t *ips = json_object_get(res, "ips");
	if (json_array_size(ips) != 1)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG,
				"routed-veth: IPAM plugin gave %zu addresses; one IPv4 address is routed", json_array_size(ips));
	json_t *ip = json_array_get(ips, 0);
	struct cni_cidr cidr;
	const char *address = json_string_value(json_object_get(ip, "address"));
	if (address == NULL || !cni_cidr_parse(address, &cidr))
		return cni_fail(err, CNI_ERR_DECODE, "routed-veth: IPAM result has no valid ips[0].address");
	if (cidr.ip.len != 4)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "routed-veth: %s is IPv6; only IPv4 is routed", address);
	memcpy(&a->ip, cidr.ip.b, 4);
	a->prefix = cidr.prefix;
	struct cni_ip net;
	cni_ip_network(&cidr.ip, cidr.prefix, &net);
	memcpy(&a->subnet, net.b, 4);
	if (parse_v4(json_string_value(json_object_get(ip, "gateway")), &a->gateway) < 0)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG,
				"routed-veth: IPAM gave %s no IPv4 gateway; pods are routed through it", address);
	return 0;
}

struct pod_side {
	const char *peer, *ifname;
	const struct rv_addr *addr;
	json_t *routes;
};

static int route_through_gateway(const struct pod_side *p, json_t *route, struct cni_error *err)
{
	struct cni_cidr dst;
	const char *text = json_string_value(json_object_get(route, "dst"));
	if (text == NULL || !cni_cidr_parse(text, &dst))
		return cni_fail(err, CNI_ERR_DECODE, "routed-veth: IPAM result has a route without a valid \"dst\"");
	if (dst.ip.len != 4)
		return 0; /* IPv6 routes: no IPv6 address to use them */
	struct in_addr net, gw = p->addr->gateway;
	memcpy(&net, dst.ip.b, 4);
	const char *gw_text = json_string_value(json_object_get(route, "gw"));
	if (gw_text != NULL && parse_v4(gw_text, &gw) < 0)
		return cni_fail(err, CNI_ERR_DECODE, "routed-veth: route to %s has an invalid gw %s", text, gw_text);
	if (cni_link_route_add(p->ifname, net, dst.prefix, &gw) < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: route %s via %s in the pod: %s", text,
				gw_text ? gw_text : "the gateway", strerror(errno));
	return 0;
}

static bool is_default_v4(json_t *route)
{
	struct cni_cidr dst;
	const char *text = json_string_value(json_object_get(route, "dst"));
	return text != NULL && cni_cidr_parse(text, &dst) && dst.ip.len == 4 && dst.prefix == 0;
}

/* In the pod's namespace. The default route is always there, through the
 * gateway, unless IPAM gives one: flannel's IPAM routes name only the
 * cluster network and leave the default to its delegate (the bridge
 * plugin's isDefaultGateway, which it sets). */
static int setup_pod_side(const struct pod_side *p, struct cni_error *err)
{
	char gw[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &p->addr->gateway, gw, sizeof gw);
	if (cni_link_rename_up(p->peer, p->ifname) < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: %s in the pod as %s: %s", p->peer, p->ifname,
				strerror(errno));
	if (cni_link_addr_add(p->ifname, p->addr->ip, 32) < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: address on %s in the pod: %s", p->ifname,
				strerror(errno));
	if (cni_link_route_add(p->ifname, p->addr->gateway, 32, NULL) < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: route to the gateway %s in the pod: %s", gw,
				strerror(errno));
	bool default_route = false;
	size_t i;
	json_t *route;
	json_array_foreach(p->routes, i, route)
	{
		if (route_through_gateway(p, route, err) < 0)
			return -1;
		default_route |= is_default_v4(route);
	}
	struct in_addr any = { 0 };
	if (!default_route && cni_link_route_add(p->ifname, any, 0, &p->addr->gateway) < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: default route via %s in the pod: %s", gw,
				strerror(errno));
	return 0;
}

static int enter_netns(int fd, const char *what, struct cni_error *err)
{
	if (setns(fd, CLONE_NEWNET) != 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: entering the %s network namespace: %s", what,
				strerror(errno));
	return 0;
}

static int setup_host_side(const char *host, const struct rv_addr *a, const struct rv_conf *c, struct cni_error *err)
{
	if (cni_link_up(host) < 0 || cni_link_addr_add(host, a->gateway, 32) < 0 ||
	    cni_link_route_add(host, a->ip, 32, NULL) < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: setting up %s on the node: %s", host, strerror(errno));
	if (cni_enable_forwarding(err) < 0)
		return -1;
	return c->snat ? cni_snat_ensure(a->subnet, a->prefix, err) : 0;
}

/* The pair, the pod side in the pod's namespace, the node side here. */
static int plumb(const struct cni_env *env, const struct rv_conf *c, const char *host, const struct rv_addr *a,
		 json_t *routes, struct cni_error *err)
{
	char peer[IFNAMSIZ];
	host_link_name(env, "rvtmp", peer);
	int pod_ns = open(env->netns, O_RDONLY | O_CLOEXEC);
	if (pod_ns < 0)
		return cni_fail(err, CNI_ERR_IO, "routed-veth: opening netns %s: %s", env->netns, strerror(errno));
	int self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_ns < 0) {
		int saved = errno;
		close(pod_ns);
		return cni_fail(err, CNI_ERR_IO, "routed-veth: opening /proc/self/ns/net: %s", strerror(saved));
	}
	int rc = 0;
	if (cni_link_veth_create(host, peer, pod_ns, c->mtu) < 0)
		rc = cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: creating veth %s for %s: %s", host, env->netns,
			      strerror(errno));
	if (rc == 0 && (rc = enter_netns(pod_ns, "pod's", err)) == 0) {
		struct pod_side p = { peer, env->ifname, a, routes };
		rc = setup_pod_side(&p, err);
		if (enter_netns(self_ns, "node's", err) < 0) {
			/* Nothing after this could be trusted to act on the node. */
			log_error("routed-veth: cannot return to the node's network namespace: %s", err->msg);
			_exit(cni_error_print(err, c->version));
		}
	}
	if (rc == 0)
		rc = setup_host_side(host, a, c, err);
	close(pod_ns);
	close(self_ns);
	return rc;
}

/* The IPAM result made the plugin's: both links first (after cniVersion),
 * the address on the pod's. NULL on out of memory. */
static json_t *plugin_result(json_t *ipam, const struct cni_env *env, const char *host)
{
	json_t *out = json_object();
	json_t *interfaces = json_pack("[{s:s}, {s:s, s:s}]", "name", host, "name", env->ifname, "sandbox", env->netns);
	json_t *version = json_object_get(ipam, "cniVersion");
	if (out == NULL || interfaces == NULL || (version && json_object_set(out, "cniVersion", version) < 0) ||
	    json_object_set_new(out, "interfaces", interfaces) < 0) {
		json_decref(out);
		return NULL;
	}
	const char *key;
	json_t *value;
	json_object_foreach(ipam, key, value)
	{
		if (strcmp(key, "cniVersion") != 0 && json_object_set(out, key, value) < 0)
			break;
	}
	json_t *ip = json_array_get(json_object_get(out, "ips"), 0);
	if (ip == NULL || json_object_set_new(ip, "interface", json_integer(1)) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static int cmd_add(const struct rv_conf *c, const struct cni_env *env, struct cni_error *err)
{
	json_t *res;
	if (cni_exec_plugin(c->ipam_type, NULL, c->data, c->len, &res, err) < 0)
		return -1;
	char host[IFNAMSIZ];
	host_link_name(env, "veth", host);
	struct rv_addr a;
	int rc = res ? result_address(res, &a, err)
		     : cni_fail(err, CNI_ERR_DECODE, "routed-veth: IPAM plugin %s printed no result", c->ipam_type);
	if (rc == 0)
		rc = plumb(env, c, host, &a, json_object_get(res, "routes"), err);
	json_t *out = rc == 0 ? plugin_result(res, env, host) : NULL;
	if (rc == 0 && out == NULL)
		rc = cni_fail(err, CNI_ERR_INTERNAL, "out of memory building the result");
	if (rc == 0 && cni_result_print(out) < 0)
		rc = cni_fail(err, CNI_ERR_IO, "writing the result to stdout: %s", strerror(errno));
	json_decref(out);
	json_decref(res);
	if (rc < 0) {
		/* As if never added: the pair (its pod side goes with it), the address. */
		struct cni_error ignored = { 0 };
		json_t *none = NULL;
		if (cni_link_delete(host) < 0)
			log_warn("routed-veth: rolling back: deleting %s: %s", host, strerror(errno));
		if (cni_exec_plugin(c->ipam_type, "DEL", c->data, c->len, &none, &ignored) < 0)
			log_warn("routed-veth: rolling back: IPAM DEL: %s", ignored.msg);
		json_decref(none);
	}
	return rc;
}

static int cmd_del(const struct rv_conf *c, const struct cni_env *env, struct cni_error *err)
{
	char host[IFNAMSIZ];
	host_link_name(env, "veth", host);
	if (cni_link_delete(host) < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: deleting %s: %s", host, strerror(errno));
	json_t *res;
	if (cni_exec_plugin(c->ipam_type, NULL, c->data, c->len, &res, err) < 0)
		return -1;
	json_decref(res);
	return 0;
}

static int cmd_check(const struct rv_conf *c, const struct cni_env *env, struct cni_error *err)
{
	char host[IFNAMSIZ];
	host_link_name(env, "veth", host);
	if (if_nametoindex(host) == 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "routed-veth: container %s has no link %s on the node",
				env->container_id, host);
	json_t *res;
	if (cni_exec_plugin(c->ipam_type, NULL, c->data, c->len, &res, err) < 0)
		return -1;
	json_decref(res);
	return 0;
}

static int run(const struct cni_env *env, char *version, struct cni_error *err)
{
	size_t len = 0;
	char *data = cni_read_stdin(&len, err);
	if (data == NULL)
		return -1;
	struct rv_conf c;
	int rc = parse_conf(&c, data, len, err);
	snprintf(version, CNI_MAX_VERSION, "%s", c.version);
	if (rc == 0) {
		json_t *res = NULL;
		switch (env->command) {
		case CNI_CMD_ADD:
			rc = cmd_add(&c, env, err);
			break;
		case CNI_CMD_DEL:
			rc = cmd_del(&c, env, err);
			break;
		case CNI_CMD_CHECK:
			rc = cmd_check(&c, env, err);
			break;
		default: /* GC and STATUS: the addresses are all the state there is */
			rc = cni_exec_plugin(c.ipam_type, NULL, data, len, &res, err);
			json_decref(res);
		}
	}
	json_decref(c.root);
	free(data);
	return rc;
}

int routed_veth_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cni_plugin_main("routed-veth", routed_versions, NROUTED_VERSIONS, run);
}
