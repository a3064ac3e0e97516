#include "doctor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *err_or(int e, const char *fallback)
{
	return e ? strerror(e) : fallback;
}

static void print_probe(const struct probe *p, const struct cli *cli)
{
	printf("probe: gvisor: %s (%s)\n", p->gvisor ? "yes" : "no", p->gvisor_why);
	printf("probe: root filesystem: %s (0x%08lx), %s to cAdvisor\n", p->rootfs, p->root_magic,
	       p->rootfs_known ? "known" : "unknown");
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
