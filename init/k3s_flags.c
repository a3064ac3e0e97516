/*
 * Extra k3s arguments the environment calls for. They are only added when the
 * target is `k3s server` or `k3s agent`, inserted right after the subcommand
 * (where k3s puts config-file flags), and never when the user already set the
 * same thing, on the command line or in the config file and its drop-ins.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "repair.h"

static bool args_possible(const struct ctx *c, char *why, size_t len)
{
	if (c->plan->args_allowed)
		return true;
	snprintf(why, len, "the target is not k3s server or agent");
	return false;
}

/* containerd's default overlayfs snapshotter needs overlay mounts below the data
 * dir; the native snapshotter (plain copies) works anywhere. */
static bool snapshotter_needed(const struct ctx *c, char *why, size_t len)
{
	const struct probe *p = c->probe;
	const char *user = cli_user_value(c->cli, "snapshotter", NULL);
	if (user) {
		snprintf(why, len, "snapshotter %s set by the user (arguments or config file)", user);
		return false;
	}
	if (p->overlay == TRI_YES) {
		snprintf(why, len, "overlayfs mounts on %s", p->overlay_dir);
		return false;
	}
	if (p->overlay == TRI_UNKNOWN) {
		snprintf(why, len, "overlayfs not tried on %s%s%s", p->overlay_dir[0] ? p->overlay_dir : "the data dir",
			 p->overlay_errno ? ": " : "", p->overlay_errno ? strerror(p->overlay_errno) : "");
		return false;
	}
	snprintf(why, len, "overlayfs does not mount on %s: %s -> --snapshotter=native", p->overlay_dir,
		 p->overlay_note ? p->overlay_note : strerror(p->overlay_errno));
	return args_possible(c, why, len);
}

static int snapshotter_apply(struct ctx *c)
{
	log_info("snapshotter: adding --snapshotter=native (overlayfs unusable on %s)", c->probe->overlay_dir);
	return plan_add_k3s_arg(c->plan, "--snapshotter=native");
}

const struct step step_snapshotter = {
	.name = "snapshotter",
	.roles = ROLES_AGENT,
	.required = 0,
	.privileged = false,
	.needed = snapshotter_needed,
	.apply = snapshotter_apply,
};

/* cAdvisor cannot report on a filesystem it does not know (9p, FUSE, F2FS):
 * kubelet stops at "Failed to start ContainerManager: failed to get rootfs
 * info" for the filesystem of its root dir (real kubelet 1.34 under gVisor,
 * /var/lib/kubelet on a 9p volume: "failed to get device for dir
 * /var/lib/kubelet ... could not find device in cached partitions map";
 * on a 9p / it is "unable to find data in memory cache"), unless local storage
 * capacity isolation is off (pkg/kubelet/cm/container_manager_linux.go asks
 * only when it is on). */
static bool local_storage_needed(const struct ctx *c, char *why, size_t len)
{
	const struct probe *p = c->probe;
	if (p->kubelet_fs.known) {
		snprintf(why, len, "%s is on %s, known to cAdvisor", p->kubelet_fs.dir, p->kubelet_fs.name);
		return false;
	}
	if (cli_user_mentions(c->cli, "kubelet-arg", "local-storage-capacity-isolation")) {
		snprintf(why, len, "local-storage-capacity-isolation already set (arguments or config file)");
		return false;
	}
	snprintf(why, len, "%s is on %s (0x%08lx), unknown to cAdvisor", p->kubelet_fs.dir, p->kubelet_fs.name,
		 p->kubelet_fs.magic);
	return args_possible(c, why, len);
}

static int local_storage_apply(struct ctx *c)
{
	log_info("local-storage: adding --kubelet-arg=local-storage-capacity-isolation=false (%s is on %s)",
		 c->probe->kubelet_fs.dir, c->probe->kubelet_fs.name);
	return plan_add_k3s_arg(c->plan, "--kubelet-arg=local-storage-capacity-isolation=false");
}

const struct step step_local_storage = {
	.name = "local-storage",
	.roles = ROLES_AGENT,
	.required = 0,
	.privileged = false,
	.needed = local_storage_needed,
	.apply = local_storage_apply,
};

/* kubelet 1.35+ refuses cgroup v1 unless failCgroupV1 is false. The version
 * comes from K3S_INIT_K3S_VERSION (the images set it from their build ARG). */
static bool cgroupv1_needed(const struct ctx *c, char *why, size_t len)
{
	const struct probe *p = c->probe;
	if (c->cli->k8s_minor < 0) {
		snprintf(why, len, "K3S_INIT_K3S_VERSION unset: Kubernetes version unknown, fail-cgroupv1 not added");
		return false;
	}
	if (c->cli->k8s_minor < 35) {
		snprintf(why, len, "Kubernetes 1.%d accepts cgroup v1", c->cli->k8s_minor);
		return false;
	}
	/* With nothing mounted, gVisor will get v1 from the cgroups repair. */
	bool v1 = p->cgroup == CGROUP_V1 || p->cgroup == CGROUP_HYBRID || (p->cgroup == CGROUP_NONE && p->gvisor);
	if (!v1) {
		snprintf(why, len, "cgroup layout %s is not v1", cgroup_layout_name(p->cgroup));
		return false;
	}
	if (cli_user_mentions(c->cli, "kubelet-arg", "fail-cgroupv1")) {
		snprintf(why, len, "fail-cgroupv1 already set (arguments or config file)");
		return false;
	}
	snprintf(why, len, "Kubernetes 1.%d with cgroup v1", c->cli->k8s_minor);
	return args_possible(c, why, len);
}

static int cgroupv1_apply(struct ctx *c)
{
	log_info("cgroupv1: adding --kubelet-arg=fail-cgroupv1=false (Kubernetes 1.%d, cgroup v1)",
		 c->cli->k8s_minor);
	return plan_add_k3s_arg(c->plan, "--kubelet-arg=fail-cgroupv1=false");
}

const struct step step_cgroupv1 = {
	.name = "cgroupv1",
	.roles = ROLES_AGENT,
	.required = 0,
	.privileged = false,
	.needed = cgroupv1_needed,
	.apply = cgroupv1_apply,
};

/* kube-proxy (iptables mode, k3s's default) sets net.ipv4.conf.all.route_localnet
 * so that NodePorts answer on 127.0.0.1, and a failed write is fatal: "unable
 * to create proxier: ... can't set sysctl net/ipv4/conf/all/route_localnet to
 * 1: open /proc/sys/net/ipv4/conf/all/route_localnet: no such file or
 * directory" (real kube-proxy 1.34 under gVisor, whose procfs lacks it). k3s
 * runs kube-proxy in its own process and exits with it. With
 * iptables-localhost-nodeports=false kube-proxy does not touch the sysctl
 * (pkg/proxy/iptables/proxier.go NewProxier); NodePorts on 127.0.0.1 are
 * what is lost. */
#define ROUTE_LOCALNET "/proc/sys/net/ipv4/conf/all/route_localnet"

static bool localhost_nodeports_needed(const struct ctx *c, char *why, size_t len)
{
	if (access(ROUTE_LOCALNET, F_OK) == 0 || errno != ENOENT) {
		snprintf(why, len, ROUTE_LOCALNET " exists");
		return false;
	}
	if (cli_user_mentions(c->cli, "kube-proxy-arg", "iptables-localhost-nodeports") ||
	    cli_user_mentions(c->cli, "kube-proxy-arg", "nodeport-addresses")) {
		snprintf(why, len, "no " ROUTE_LOCALNET ", but the user sets kube-proxy's localhost NodePorts "
			 "(arguments or config file)");
		return false;
	}
	snprintf(why, len, "no " ROUTE_LOCALNET ": kube-proxy would exit at start setting it");
	return args_possible(c, why, len);
}

static int localhost_nodeports_apply(struct ctx *c)
{
	log_info("localhost-nodeports: adding --kube-proxy-arg=iptables-localhost-nodeports=false (no " ROUTE_LOCALNET
		 ": kube-proxy would exit at start; NodePorts do not answer on 127.0.0.1)");
	return plan_add_k3s_arg(c->plan, "--kube-proxy-arg=iptables-localhost-nodeports=false");
}

const struct step step_localhost_nodeports = {
	.name = "localhost-nodeports",
	.roles = ROLES_AGENT,
	.required = 0,
	.privileged = false,
	.needed = localhost_nodeports_needed,
	.apply = localhost_nodeports_apply,
};
