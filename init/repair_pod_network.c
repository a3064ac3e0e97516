/*
 * pod-network: where bridge ports refuse hairpin mode (gVisor's netstack:
 * RTM_SETLINK AF_BRIDGE IFLA_PROTINFO is EOPNOTSUPP), the bridge plugin, which
 * flannel delegates to, fails every pod sandbox ("failed to setup hairpin
 * mode for veth...: operation not supported", real kubelet and containerd
 * under runsc). This binary then answers as the routed-veth plugin
 * (cni_routed_veth.c) and k3s is given a flannel CNI config that delegates
 * to it:
 *   - it is placed beside the host-local that k3s found, because k3s takes
 *     the CNI bin dir from there (pkg/agent/config/config.go:
 *     CNIBinDir = filepath.Dir(hostLocal));
 *   - --flannel-cni-conf names the config, which k3s copies as its
 *     10-flannel.conflist (pkg/agent/flannel/setup.go createCNIConf). The
 *     flannel plugin hands its delegate host-local over the node's subnet.
 *     The chain keeps no portmap or bandwidth plugin: portmap's rules use
 *     the comment match and bandwidth a tc qdisc, neither of which netstack
 *     has, and one failing plugin fails the pod. ipMasq is the delegate's:
 *     flannel's own MASQUERADE rules cannot load there.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"
#include "repair.h"

#define POD_NETWORK_CONF K3S_INIT_RUN_DIR "/flannel-cni.conflist"

static const char conflist[] = "{\n"
			       "  \"name\": \"cbr0\",\n"
			       "  \"cniVersion\": \"1.0.0\",\n"
			       "  \"plugins\": [\n"
			       "    {\"type\": \"flannel\", \"delegate\": {\"type\": \"routed-veth\", \"ipMasq\": true}}\n"
			       "  ]\n"
			       "}\n";

static bool pod_network_needed(const struct ctx *c, char *why, size_t len)
{
	const struct probe *p = c->probe;
	if (cli_user_value(c->cli, "flannel-cni-conf", NULL) != NULL) {
		snprintf(why, len, "flannel-cni-conf set by the user (arguments or config file)");
		return false;
	}
	if (p->podnet_hairpin_err < 0) {
		snprintf(why, len, "bridge ports not tried: %s", p->podnet_why);
		return false;
	}
	if (p->podnet_hairpin_err == 0) {
		snprintf(why, len, "bridge ports take hairpin mode: flannel's bridge delegate works");
		return false;
	}
	if (p->host_local[0] == '\0') {
		snprintf(why, len, "bridge ports refuse hairpin mode (%s), but no host-local on PATH gives k3s's CNI bin dir",
			 strerror(p->podnet_hairpin_err));
		return false;
	}
	if (!c->plan->args_allowed) {
		snprintf(why, len, "the target is not k3s server or agent");
		return false;
	}
	snprintf(why, len, "bridge ports refuse hairpin mode (%s): flannel's bridge delegate cannot attach pods",
		 strerror(p->podnet_hairpin_err));
	return true;
}

/* dir/routed-veth beside host-local; 0 or -1 after logging. */
static int place_plugin(const struct ctx *c, char *dest, size_t len)
{
	const char *host_local = c->probe->host_local;
	const char *slash = strrchr(host_local, '/');
	int dir_len = slash ? (int)(slash - host_local) : 0;
	if (slash == NULL || snprintf(dest, len, "%.*s/routed-veth", dir_len, host_local) >= (int)len) {
		log_error("pod-network: no directory to place routed-veth in (host-local is %s)", host_local);
		return -1;
	}
	if (is_this_binary(dest))
		return 0;
	bool may_bind = c->probe->cap_sys_admin;
	enum install_how how;
	if (install_self(dest, may_bind, &how) != 0) {
		log_error("pod-network: cannot place this binary at %s: %s", dest, strerror(errno));
		return -1;
	}
	return 0;
}

static int pod_network_apply(struct ctx *c)
{
	/* Forced on (K3S_INIT_POD_NETWORK=on) still leaves the user's own. */
	const char *user = cli_user_value(c->cli, "flannel-cni-conf", NULL);
	if (user != NULL) {
		log_info("pod-network: kept the user's --flannel-cni-conf=%s", user);
		return 0;
	}
	char plugin[PATH_MAX];
	if (place_plugin(c, plugin, sizeof plugin) != 0)
		return -1;
	if (mkdir_p(K3S_INIT_RUN_DIR, 0755) != 0 || write_small(POD_NETWORK_CONF, conflist, 0644) != 0) {
		log_error("pod-network: cannot write " POD_NETWORK_CONF ": %s", strerror(errno));
		return -1;
	}
	int hairpin = c->probe->podnet_hairpin_err;
	char found[192];
	if (hairpin > 0)
		snprintf(found, sizeof found, "bridge ports refuse hairpin mode: %s", strerror(hairpin));
	else
		snprintf(found, sizeof found, "forced on; bridge ports %s%s", hairpin == 0 ? "take hairpin mode" : "not tried: ",
			 hairpin == 0 ? "" : c->probe->podnet_why);
	log_info("pod-network: adding --flannel-cni-conf=" POD_NETWORK_CONF " (flannel delegates to routed-veth, "
		 "placed at %s; %s)", plugin, found);
	return plan_add_k3s_arg(c->plan, "--flannel-cni-conf=" POD_NETWORK_CONF);
}

const struct step step_pod_network = {
	.name = "pod-network",
	.roles = ROLES_AGENT,
	.required = 0,
	.privileged = false,
	.needed = pod_network_needed,
	.apply = pod_network_apply,
};
