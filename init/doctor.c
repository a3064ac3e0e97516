#include "doctor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "probe_limits.h"

static const char *err_or(int e, const char *fallback)
{
	return e ? strerror(e) : fallback;
}

static void print_dir_fs(const char *what, const struct dir_fs *f)
{
	printf("probe: %s %s: %s (0x%08lx), %s to cAdvisor\n", what, f->dir, f->name, f->magic,
	       f->known ? "known" : "unknown");
}

static void print_probe(const struct probe *p, const struct cli *cli)
{
	printf("probe: gvisor: %s (%s)\n", p->gvisor ? "yes" : "no", p->gvisor_why);
	print_dir_fs("kubelet root dir", &p->kubelet_fs);
	printf("probe: cgroups: %s; controllers: %s\n", cgroup_layout_name(p->cgroup),
	       p->cgroup_controllers[0] ? p->cgroup_controllers : "none");
	printf("probe: /dev/kmsg: %s\n", p->kmsg_readable ? "readable" : strerror(p->kmsg_errno));
	printf("probe: nf_tables: %s%s%s\n", tri_name(p->nft), p->nft_errno ? " " : "",
	       p->nft_errno ? strerror(p->nft_errno) : "");
	printf("probe: legacy iptables: %s%s%s\n", tri_name(p->legacy),
	       p->legacy_in_use ? " (tables loaded)" : p->legacy_errno ? " " : "",
	       p->legacy_errno ? strerror(p->legacy_errno) : "");
	for (int i = 0; i < SYSCTL_COUNT; i++) {
		static const char *const states[] = { "ok", "missing", "unreadable", "unwritable" };
		printf("probe: sysctl %s: %s%s%s%s%s\n", sysctl_entries[i].path, states[p->sysctl[i]],
		       p->sysctl_value[i][0] ? ", value " : "", p->sysctl_value[i],
		       p->sysctl[i] != SYSCTL_OK ? ": " : "",
		       p->sysctl[i] != SYSCTL_OK ? err_or(p->sysctl_errno[i], "?") : "");
	}
	printf("probe: overlayfs on %s: %s%s%s%s%s%s\n", p->overlay_dir[0] ? p->overlay_dir : cli->data_dir,
	       p->overlay == TRI_UNKNOWN ? "not tried" : tri_name(p->overlay), p->overlay_errno ? " " : "",
	       p->overlay_errno ? strerror(p->overlay_errno) : "", p->overlay_note ? " (" : "",
	       p->overlay_note ? p->overlay_note : "", p->overlay_note ? ")" : "");
	printf("probe: pid 1: %s\n", p->pid1 ? "yes" : "no");
	printf("probe: user namespace: %s\n", p->userns ? "yes" : "no");
	printf("probe: CAP_SYS_ADMIN: %s\n", p->cap_sys_admin ? "yes" : "no");
	printf("probe: loopback up: %s\n", tri_name(p->lo_up));
	printf("probe: / shared: %s\n", p->root_shared ? "yes" : "no");
	printf("probe: host-local: %s\n", p->host_local[0] ? p->host_local : "not found on PATH");
	printf("probe: iptables wrapper /bin/aux/iptables-detect.sh: %s\n", p->iptables_wrapper ? "yes" : "no");
	printf("probe: program: %s -> %s\n", cli->argv[0], p->k3s_path[0] ? p->k3s_path : "not found on PATH");
	printf("probe: role: %s (%s)\n", role_name(cli->role), cli->role_source);
}

static int reason(const char *what)
{
	printf("cannot start: %s\n", what);
	return 1;
}

/* Whether kubelet's cgroup checks pass as things are (no repair planned). */
static int cgroup_verdict(const struct probe *p)
{
	if (p->cgroup == CGROUP_V2 && !(p->cg_cpu && p->cg_cpuset && p->cg_memory && p->cg_pids))
		return reason("cgroup v2 root lacks cpu, cpuset, memory or pids in cgroup.controllers");
	if ((p->cgroup == CGROUP_V1 || p->cgroup == CGROUP_HYBRID) && !(p->cg_memory && p->cg_pids))
		return reason("cgroup v1 without the memory and pids hierarchies kubelet requires");
	return 0;
}

static void print_links(const struct probe_limits *l)
{
	if (!l->tried_links) {
		printf("probe: links: not tried (a private network namespace: %s)\n", strerror(l->links_err));
		return;
	}
	printf("probe: links (tried in a private network namespace):");
	for (int i = 0; i < LIMITS_LINKS; i++)
		printf("%s %s %s%s%s", i ? "," : "", l->links[i].kind, l->links[i].err ? "no" : "yes",
		       l->links[i].err ? " " : "", l->links[i].err ? strerror(l->links[i].err) : "");
	printf("\n");
}

static const char *works(int err)
{
	return err ? "no " : "yes";
}

static const char *why(int err)
{
	return err ? strerror(err) : "";
}

static void print_pod_network(const struct probe_limits *l)
{
	if (!l->tried_links)
		return;
	if (l->podnet_setup_err) {
		printf("probe: pod network: not tried (a bridge with a veth port: %s)\n", strerror(l->podnet_setup_err));
		return;
	}
	printf("probe: pod network (a bridge with a veth port, same namespace): hairpin mode %s%s, "
	       "route with a preferred source %s%s\n", works(l->hairpin_err), why(l->hairpin_err),
	       works(l->prefsrc_err), why(l->prefsrc_err));
}

/* "comment conntrack" (matches) or "MASQUERADE" (targets) that are missing. */
static int missing_xt(const struct probe_limits *l, bool targets, char *out, size_t len)
{
	size_t used = 0;
	int count = 0;
	out[0] = '\0';
	for (int i = 0; i < LIMITS_XT; i++) {
		if (l->xt[i].target != targets || l->xt[i].err != ENOENT)
			continue;
		int n = snprintf(out + used, len - used, "%s%s", used ? " " : "", l->xt[i].name);
		if (n > 0 && (size_t)n < len - used)
			used += (size_t)n;
		count++;
	}
	return count;
}

static bool xt_lacks(const struct probe_limits *l, const char *name)
{
	for (int i = 0; i < LIMITS_XT; i++) {
		if (strcmp(l->xt[i].name, name) == 0)
			return l->xt[i].err == ENOENT;
	}
	return false;
}

/* What the agent's networking will lack: facts, one line each; they do not
 * change the verdict (k3s starts; pods or Services then fail). */
static void print_limits(const struct probe *p, const struct cli *cli)
{
	/* containerd's root, below the data dir: kubelet's image garbage
	 * collection and eviction manager ask cAdvisor about it (real kubelet
	 * under gVisor, 9p there: "Image garbage collection failed", "Eviction
	 * manager: failed to get HasDedicatedImageFs" every 10 s). Nothing on
	 * the start path needs it. */
	struct dir_fs image_fs = { .name = "unknown" };
	char dir[sizeof image_fs.dir];
	if (snprintf(dir, sizeof dir, "%s/agent/containerd", cli->data_dir) < (int)sizeof dir) {
		probe_dir_fs(&image_fs, dir);
		print_dir_fs("image filesystem", &image_fs);
	}
	struct probe_limits l;
	probe_limits(&l);
	print_links(&l);
	print_pod_network(&l);
	char matches[256], targets[256];
	int nm = missing_xt(&l, false, matches, sizeof matches), nt = missing_xt(&l, true, targets, sizeof targets);
	if (!l.tried_xt)
		printf("probe: iptables matches and targets: not asked (socket(AF_INET, SOCK_RAW): %s)\n",
		       strerror(l.raw_err));
	else if (l.xt_err)
		printf("probe: iptables matches and targets: not answered (%s)\n", strerror(l.xt_err));
	else
		printf("probe: iptables matches and targets missing: %s%s%s\n", nm || nt ? matches : "none",
		       nm && nt ? "; targets " : nt ? "targets " : "", targets);
	if (l.tried_links && l.links[0].err)
		printf("limit: no vxlan devices (RTM_NEWLINK: %s): flannel's default vxlan backend cannot work; "
		       "set flannel-backend: host-gw (or none) on the server\n", strerror(l.links[0].err));
	if (l.tried_links && (l.links[1].err || l.links[2].err))
		printf("limit: no %s devices (RTM_NEWLINK: %s): the bridge CNI plugin cannot give pods a network; "
		       "only hostNetwork pods can run\n", l.links[1].err ? "bridge" : "veth",
		       strerror(l.links[1].err ? l.links[1].err : l.links[2].err));
	if (l.hairpin_err > 0)
		printf("limit: bridge ports take no hairpin mode (RTM_SETLINK IFLA_BRPORT_MODE: %s): the bridge CNI "
		       "plugin, flannel's delegate, fails every pod network setup; the pod-network step has flannel "
		       "delegate to routed-veth instead (no hostPort: portmap's rules need the comment match)\n",
		       strerror(l.hairpin_err));
	if (l.prefsrc_err > 0)
		printf("limit: routes with a preferred source are refused (RTM_NEWROUTE RTA_PREFSRC: %s): the ptp CNI "
		       "plugin fails too\n", strerror(l.prefsrc_err));
	if (image_fs.dir[0] && !image_fs.known)
		printf("limit: containerd's root %s is on %s, unknown to cAdvisor: kubelet's image garbage collection "
		       "and disk-pressure eviction cannot run (no repair: a tmpfs there would lose the images at "
		       "every restart)\n", image_fs.dir, image_fs.name);
	if (!l.tried_links)
		printf("limit: network devices cannot be created here (%s): pods get no network of their own; "
		       "only hostNetwork pods can run\n", strerror(l.links_err));
	if (!l.tried_xt) {
		/* gVisor: EPERM in netstack without --net-raw; with host networking
		 * there is no netfilter at all (EAFNOSUPPORT or the like). */
		bool no_netstack = l.raw_err != EPERM && l.raw_err != EACCES;
		printf("limit: no raw sockets (%s): legacy iptables cannot read or load rules, so kube-proxy and "
		       "flannel cannot either%s\n", strerror(l.raw_err),
		       !p->gvisor ? ""
		       : no_netstack ? "; gVisor's host network mode has no iptables at all, its netstack has them with --net-raw"
				     : "; gVisor has them only with runsc --net-raw");
	}
	else if (nm || nt)
		printf("limit: iptables lacks %s%s%s%s: %s\n", nm ? "the matches " : "", matches,
		       nm && nt ? " and the targets " : nt ? "the targets " : "", targets,
		       xt_lacks(&l, "comment")
			       ? "the iptables-extensions step takes the comments out and leaves out the rules needing the "
				 "rest, so ClusterIP Services answer pods, each from its last endpoint; no NodePorts, no "
				 "source NAT of outside traffic to a Service, no network policies"
			       : "the kube-proxy, flannel and network policy rules that use them fail to load");
}

int doctor_run(struct ctx *c)
{
	int bad = 0;
	print_probe(c->probe, c->cli);
	bool agent = (ROLE_BIT(c->cli->role) & ROLES_AGENT) != 0;
	for (size_t i = 0; i < step_count; i++) {
		const struct step *s = steps[i];
		char why[PLAN_WHY];
		c->mode = c->cli->modes[i];
		enum decision d = plan_decide(i, c, why, sizeof why);
		printf("plan: %s: %s: %s\n", s->name, decision_name(d), why);
		char msg[PLAN_WHY + 96];
		if (d == DECIDE_RUN && s->privileged && !c->probe->cap_sys_admin && plan_required(i, c)) {
			snprintf(msg, sizeof msg, "%s needs CAP_SYS_ADMIN (run the container privileged): %s", s->name, why);
			bad |= reason(msg);
		}
		if (d == DECIDE_SKIP_OFF && plan_required(i, c)) {
			char found[PLAN_WHY];
			if (s->needed(c, found, sizeof found)) {
				snprintf(msg, sizeof msg, "%s is needed but turned off: %s", s->name, found);
				bad |= reason(msg);
			}
		}
		if (d != DECIDE_RUN && strcmp(s->name, "cgroups") == 0 && agent)
			bad |= cgroup_verdict(c->probe);
	}
	if (agent)
		print_limits(c->probe, c->cli);
	if (c->probe->k3s_path[0] == '\0') {
		char msg[PLAN_WHY];
		snprintf(msg, sizeof msg, "%s not found on PATH (exit 127)", c->cli->argv[0]);
		bad |= reason(msg);
	}
	printf("verdict: %s\n", bad ? "k3s cannot be expected to start (reasons above)"
				    : "k3s can be expected to start");
	fflush(stdout);
	return bad ? 1 : 0;
}
