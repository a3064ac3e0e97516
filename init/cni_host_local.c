/*
 * host-local: a CNI IPAM plugin that hands out addresses from configured
 * ranges and records them on disk, compatible with containernetworking's
 * plugins/ipam/host-local (same config, same results, same state files), so
 * k3s finds a working host-local even where its bundled one is hidden.
 * Every command runs under the network's flock and either completes or gives
 * back every address it took and every file it changed (the network
 * directory and its lock stay: see cni_store.h).
 */
#include "cni_host_local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni_alloc.h"
#include "cni_config.h"
#include "cni_env.h"
#include "cni_error.h"
#include "cni_plugin.h"
#include "cni_result.h"
#include "cni_store.h"
#include "log.h"

/* --- ADD --------------------------------------------------------------- */

/* The first requested address that falls in the set, taken off the list. */
static const struct cni_ip *take_requested(struct cni_conf *conf, bool *used, const struct cni_range_set *set)
{
	for (size_t i = 0; i < conf->nrequested; i++) {
		if (!used[i] && cni_set_range_for(set, &conf->requested[i]) != NULL) {
			used[i] = true;
			return &conf->requested[i];
		}
	}
	return NULL;
}

static int check_all_requested_used(const struct cni_conf *conf, const bool *used, struct cni_error *err)
{
	char list[1024] = "";
	for (size_t i = 0; i < conf->nrequested; i++) {
		if (used[i])
			continue;
		char t[CNI_IP_TEXT];
		cni_ip_format(&conf->requested[i], t);
		if (strlen(list) + strlen(t) + 2 < sizeof list) {
			strcat(list, " ");
			strcat(list, t);
		}
	}
	if (list[0] != '\0')
		return cni_fail(err, CNI_ERR_INTERNAL, "failed to allocate all requested IPs:%s", list);
	return 0;
}

static int allocate_all(struct cni_store *store, struct cni_conf *conf, const struct cni_env *env,
			struct cni_alloc *allocs, struct cni_error *err)
{
	struct cni_store_entry *entries;
	size_t nentries;
	if (cni_store_list(store, &entries, &nentries, err) < 0)
		return -1;
	bool *used = calloc(conf->nrequested + 1, sizeof *used);
	int rc = used ? 0 : cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; rc == 0 && i < conf->nsets; i++) {
		const struct cni_ip *want = take_requested(conf, used, &conf->sets[i]);
		rc = cni_alloc_get(store, &conf->sets[i], i, entries, nentries, env->container_id, env->ifname, want,
				   &allocs[i], err);
	}
	if (rc == 0)
		rc = check_all_requested_used(conf, used, err);
	free(used);
	cni_store_list_free(entries, nentries);
	return rc;
}

static int cmd_add(struct cni_conf *conf, const struct cni_env *env, struct cni_error *err)
{
	json_t *dns = NULL;
	if (conf->resolv_conf != NULL && (dns = cni_resolv_conf_parse(conf->resolv_conf, err)) == NULL)
		return -1;
	if (conf->dns != NULL) {
		json_decref(dns);
		dns = json_incref(conf->dns);
	}
	struct cni_alloc *allocs = calloc(conf->nsets, sizeof *allocs);
	struct cni_store store;
	int rc = allocs ? cni_store_open(&store, conf->data_dir, conf->name, true, err)
			: cni_fail(err, CNI_ERR_INTERNAL, "out of memory");
	if (rc < 0) {
		free(allocs);
		json_decref(dns);
		return -1;
	}
	json_t *result = NULL;
	rc = allocate_all(&store, conf, env, allocs, err);
	if (rc == 0) {
		result = cni_result_build(conf, allocs, conf->nsets, dns);
		if (result == NULL)
			rc = cni_fail(err, CNI_ERR_INTERNAL, "out of memory building the result");
	}
	/* The result goes out while the lock is held: if it cannot be written,
	 * the runtime never learns the addresses, so they are given back. */
	if (rc == 0 && cni_result_print(result) < 0)
		rc = cni_fail(err, CNI_ERR_IO, "writing the result to stdout: %s", strerror(errno));
	cni_store_close(&store, rc < 0);
	json_decref(result);
	json_decref(dns);
	free(allocs);
	return rc;
}

/* --- DEL, CHECK, GC, STATUS -------------------------------------------- */

static int open_and_list(struct cni_store *store, const struct cni_conf *conf, struct cni_store_entry **entries,
			 size_t *n, struct cni_error *err)
{
	if (cni_store_open(store, conf->data_dir, conf->name, true, err) < 0)
		return -1;
	if (cni_store_list(store, entries, n, err) < 0) {
		cni_store_close(store, false);
		return -1;
	}
	return 0;
}

/* Like upstream's ReleaseByID: this attachment's files; the old ID-only files
 * of the container when none matched (and, because upstream repeats the
 * release once per range set, also after a match when there are several). */
static int cmd_del(struct cni_conf *conf, const struct cni_env *env, struct cni_error *err)
{
	struct cni_store store;
	struct cni_store_entry *entries;
	size_t n;
	if (open_and_list(&store, conf, &entries, &n, err) < 0)
		return -1;
	int rc = 0;
	size_t released = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (cni_store_entry_matches(&entries[i], env->container_id, env->ifname)) {
			rc = cni_store_remove(&store, &entries[i], err);
			released++;
		}
	}
	if (released == 0 || conf->nsets > 1) {
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (cni_store_entry_matches(&entries[i], env->container_id, NULL))
				rc = cni_store_remove(&store, &entries[i], err);
		}
	}
	cni_store_list_free(entries, n);
	cni_store_close(&store, rc < 0);
	return rc;
}

static bool in_any_set(const struct cni_conf *conf, const struct cni_ip *ip)
{
	for (size_t i = 0; i < conf->nsets; i++) {
		if (cni_set_range_for(&conf->sets[i], ip) != NULL)
			return true;
	}
	return false;
}

static int check_prev(const struct cni_conf *conf, const struct cni_env *env, const struct cni_store_entry *entries,
		      size_t n, struct cni_error *err)
{
	struct cni_cidr *ips;
	size_t nips;
	if (cni_result_prev_ips(conf->prev_result, &ips, &nips, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nips; i++) {
		char t[CNI_IP_TEXT];
		cni_ip_format(&ips[i].ip, t);
		if (!in_any_set(conf, &ips[i].ip)) {
			rc = cni_fail(err, CNI_ERR_INTERNAL, "host-local: address %s in prevResult is in no range of network %s",
				      t, conf->name);
			break;
		}
		bool found = false;
		for (size_t j = 0; j < n && !found; j++) {
			found = cni_ip_equal(&entries[j].ip, &ips[i].ip) &&
				(cni_store_entry_matches(&entries[j], env->container_id, env->ifname) ||
				 cni_store_entry_matches(&entries[j], env->container_id, NULL));
		}
		if (!found)
			rc = cni_fail(err, CNI_ERR_INTERNAL, "host-local: address %s in prevResult is not allocated to %s/%s", t,
				      env->container_id, env->ifname);
	}
	free(ips);
	return rc;
}

static int cmd_check(struct cni_conf *conf, const struct cni_env *env, struct cni_error *err)
{
	struct cni_store store;
	struct cni_store_entry *entries;
	size_t n;
	if (open_and_list(&store, conf, &entries, &n, err) < 0)
		return -1;
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = cni_store_entry_matches(&entries[i], env->container_id, env->ifname) ||
		      cni_store_entry_matches(&entries[i], env->container_id, NULL);
	int rc = any ? 0
		     : cni_fail(err, CNI_ERR_INTERNAL, "host-local: Failed to find address added by container %s",
				env->container_id);
	if (rc == 0 && conf->prev_result != NULL)
		rc = check_prev(conf, env, entries, n, err);
	cni_store_list_free(entries, n);
	cni_store_close(&store, false);
	return rc;
}

static int attachment_valid(json_t *valid, const struct cni_store_entry *e, struct cni_error *err)
{
	size_t i;
	json_t *a;
	json_array_foreach(valid, i, a)
	{
		const char *id = json_string_value(json_object_get(a, "containerID"));
		const char *ifname = json_string_value(json_object_get(a, "ifname"));
		if (!json_is_object(a) || id == NULL || ifname == NULL)
			return cni_fail(err, CNI_ERR_INVALID_CONFIG,
					"cni.dev/valid-attachments[%zu] needs string \"containerID\" and \"ifname\"", i);
		if (cni_store_entry_matches(e, id, ifname) || cni_store_entry_matches(e, id, NULL))
			return 1;
	}
	return 0;
}

static int cmd_gc(struct cni_conf *conf, struct cni_error *err)
{
	if (conf->valid_attachments == NULL)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "GC needs \"cni.dev/valid-attachments\"");
	struct cni_store store;
	struct cni_store_entry *entries;
	size_t n;
	if (open_and_list(&store, conf, &entries, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = attachment_valid(conf->valid_attachments, &entries[i], err);
		if (rc == 0) {
			log_debug("host-local: GC releases %s (%s)", entries[i].name, entries[i].id);
			rc = cni_store_remove(&store, &entries[i], err);
		} else if (rc == 1) {
			rc = 0;
		}
	}
	cni_store_list_free(entries, n);
	cni_store_close(&store, rc < 0);
	return rc;
}

/* Available when every range set still has a free address (ADD needs one
 * from each). Reads only: a missing directory means nothing is allocated. */
static int cmd_status(struct cni_conf *conf, struct cni_error *err)
{
	struct cni_store store;
	struct cni_store_entry *entries = NULL;
	size_t n = 0;
	int opened = cni_store_open(&store, conf->data_dir, conf->name, false, err);
	if (opened < 0)
		return -1;
	if (opened == 0 && cni_store_list(&store, &entries, &n, err) < 0) {
		cni_store_close(&store, false);
		return -1;
	}
	int rc = 0;
	for (size_t s = 0; rc == 0 && s < conf->nsets; s++) {
		const struct cni_range_set *set = &conf->sets[s];
		uint64_t used = 0;
		for (size_t i = 0; i < n; i++) {
			const struct cni_range *r = cni_set_range_for(set, &entries[i].ip);
			if (r != NULL && !cni_ip_equal(&entries[i].ip, &r->gateway))
				used++;
		}
		if (cni_alloc_capacity(set) <= used) {
			char desc[1024];
			cni_set_describe(set, desc, sizeof desc);
			rc = cni_fail(err, CNI_ERR_NOT_AVAILABLE, "no IP addresses available in range set: %s", desc);
		}
	}
	cni_store_list_free(entries, n);
	cni_store_close(&store, false); /* read only: nothing to undo */
	return rc;
}

static int run(const struct cni_env *env, char *out_version, struct cni_error *err)
{
	size_t len = 0;
	char *data = cni_read_stdin(&len, err);
	if (data == NULL)
		return -1;
	struct cni_conf conf;
	int rc = cni_conf_parse(&conf, data, len, env, err);
	snprintf(out_version, CNI_MAX_VERSION, "%s", conf.version);
	if (rc == 0) {
		switch (env->command) {
		case CNI_CMD_ADD:
			rc = cmd_add(&conf, env, err);
			break;
		case CNI_CMD_DEL:
			rc = cmd_del(&conf, env, err);
			break;
		case CNI_CMD_CHECK:
			rc = cmd_check(&conf, env, err);
			break;
		case CNI_CMD_GC:
			rc = cmd_gc(&conf, err);
			break;
		case CNI_CMD_STATUS:
			rc = cmd_status(&conf, err);
			break;
		default:
			rc = cni_fail(err, CNI_ERR_INVALID_ENV, "unknown CNI_COMMAND: %s", env->command_name);
		}
	}
	cni_conf_free(&conf);
	free(data);
	return rc;
}

int host_local_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cni_plugin_main("host-local", cni_supported_versions, cni_nsupported_versions, run);
}
