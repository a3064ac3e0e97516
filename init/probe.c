/*
 * The probe: what is this environment? Nothing here changes the system; the one
 * exception is the overlayfs trial mount, made in a private temporary directory
 * below the data dir and removed again (probe_overlay.c).
 */
#include "probe.h"

#include <errno.h>
#include <linux/capability.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "log.h"
#include "mountinfo.h"
#include "probe_limits.h"
#include "probe_net.h"
#include "probe_overlay.h"
#include "userns.h"

/* kubelet pkg/kubelet/cm/container_manager_linux.go setupKernelTunables (the
 * six; a read error is fatal, a write error too outside a user namespace) and
 * the k3s agent's own settings (pkg/agent/syssetup: forwarding and
 * bridge-nf-call-iptables, failures only logged). */
const struct sysctl_entry sysctl_entries[SYSCTL_COUNT] = {
	{ "vm/overcommit_memory", "1", true },
	{ "vm/panic_on_oom", "0", true },
	{ "kernel/panic", "10", true },
	{ "kernel/panic_on_oops", "1", true },
	{ "kernel/keys/root_maxkeys", "1000000", true },
	{ "kernel/keys/root_maxbytes", "25000000", true },
	{ "net/ipv4/conf/all/forwarding", "1", false },
	{ "net/ipv4/conf/default/forwarding", "1", false },
	{ "net/bridge/bridge-nf-call-iptables", "1", false },
};

/*
 * gVisor reports a fixed kernel identity (pkg/sentry/kernel/version): the
 * version "#1 SMP Sun Jan 10 15:06:54 PST 2016" in every release, and a
 * release that was "4.4.0" until 2026 and is "4.19.0-gvisor" (or
 * "5.15.0-gvisor" with RDMA) since. No real kernel has shipped with that
 * build stamp for a decade. As a second signal that does not depend on the
 * sentry's uname, older gVisor releases have no /proc/sys/kernel/osrelease,
 * which every Linux kernel has had since 2.x.
 */
#define GVISOR_UTS_VERSION "#1 SMP Sun Jan 10 15:06:54 PST 2016"

static bool release_says_gvisor(const char *release)
{
	size_t n = strlen(release), suffix = strlen("-gvisor");
	return n > suffix && strcmp(release + n - suffix, "-gvisor") == 0;
}

static void probe_gvisor(struct probe *p)
{
	struct utsname u;
	if (uname(&u) == 0 && (strcmp(u.version, GVISOR_UTS_VERSION) == 0 || release_says_gvisor(u.release))) {
		p->gvisor = true;
		if (snprintf(p->gvisor_why, sizeof p->gvisor_why, "uname %s %s", u.release, u.version) < 0)
			p->gvisor_why[0] = '\0';
		return;
	}
	if (access("/proc/sys/kernel", F_OK) == 0 && access("/proc/sys/kernel/osrelease", F_OK) != 0 &&
	    errno == ENOENT) {
		p->gvisor = true;
		snprintf(p->gvisor_why, sizeof p->gvisor_why, "/proc/sys/kernel/osrelease missing");
		return;
	}
	snprintf(p->gvisor_why, sizeof p->gvisor_why, "uname %s", uname(&u) == 0 ? u.release : "?");
}

struct fs_magic {
	unsigned long magic;
	const char *name;
	bool cadvisor;
};

/* cAdvisor (fs/fs.go processMounts) reports on ext*, nfs*, btrfs, xfs, zfs,
 * overlay and tmpfs; anything else makes its root filesystem query fail. */
static const struct fs_magic fs_magics[] = {
	{ 0xEF53, "ext4", true },          { 0x58465342, "xfs", true },
	{ 0x9123683E, "btrfs", true },     { 0x2FC12FC1, "zfs", true },
	{ 0x794C7630, "overlay", true },   { 0x01021994, "tmpfs", true },
	{ 0x6969, "nfs", true },           { 0x01021997, "9p", false },
	{ 0x65735546, "fuse", false },     { 0xF2F52010, "f2fs", false },
	{ 0x858458F6, "ramfs", false },    { 0x73717368, "squashfs", false },
	{ 0x00C36400, "ceph", false },     { 0x61756673, "aufs", false },
	{ 0x5346544E, "ntfs", false },     { 0x4D44, "vfat", false },
	{ 0xFF534D42, "cifs", false },     { 0x47504653, "gpfs", false },
};

void probe_dir_fs(struct dir_fs *f, const char *dir)
{
	struct statfs s;
	snprintf(f->dir, sizeof f->dir, "%s", dir);
	f->name = "unknown";
	f->known = false;
	while (statfs(f->dir, &s) != 0) {
		char *slash = strrchr(f->dir, '/');
		if (errno != ENOENT || slash == NULL || f->dir[1] == '\0') {
			log_warn("statfs %s: %s", f->dir, strerror(errno));
			return;
		}
		if (slash == f->dir)
			slash[1] = '\0'; /* "/var" -> "/" */
		else
			*slash = '\0';
	}
	f->magic = (unsigned long)s.f_type & 0xFFFFFFFFUL;
	for (size_t i = 0; i < sizeof fs_magics / sizeof fs_magics[0]; i++) {
		if (fs_magics[i].magic == f->magic) {
			f->name = fs_magics[i].name;
			f->known = fs_magics[i].cadvisor;
			return;
		}
	}
}

struct cgroup_scan {
	bool root_shared; /* the last mount on "/" has a shared peer group */
	bool v1, v2_root, v2_unified;
	char controllers[256];
	bool memory, pids, cpu, cpuset;
};

static void add_controller(struct cgroup_scan *s, const char *name)
{
	if (strcmp(name, "memory") == 0)
		s->memory = true;
	else if (strcmp(name, "pids") == 0)
		s->pids = true;
	else if (strcmp(name, "cpu") == 0)
		s->cpu = true;
	else if (strcmp(name, "cpuset") == 0)
		s->cpuset = true;
	size_t len = strlen(s->controllers);
	snprintf(s->controllers + len, sizeof s->controllers - len, "%s%s", len ? " " : "", name);
}

/* Every v1 controller Linux has, and gVisor's `job`. */
const char *const cgroup_v1_controllers[] = {
	"cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls",
	"perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc", "job", NULL,
};

static int cgroup_cb(const struct mount_entry *e, void *arg)
{
	struct cgroup_scan *s = arg;
	/* The last entry mounted on "/" is the one in effect. */
	if (strcmp(e->mount_point, "/") == 0)
		s->root_shared = strstr(e->optional, "shared:") != NULL;
	/* A later mount on /sys/fs/cgroup or a parent hides what was there. */
	if (strcmp(e->fstype, "cgroup") != 0 && strcmp(e->fstype, "cgroup2") != 0 &&
	    (strcmp(e->mount_point, "/sys/fs/cgroup") == 0 || strcmp(e->mount_point, "/sys/fs") == 0 ||
	     strcmp(e->mount_point, "/sys") == 0)) {
		bool shared = s->root_shared;
		memset(s, 0, sizeof *s);
		s->root_shared = shared;
		return 0;
	}
	if (strncmp(e->mount_point, "/sys/fs/cgroup", 14) != 0 ||
	    (e->mount_point[14] != '\0' && e->mount_point[14] != '/'))
		return 0;
	if (strcmp(e->fstype, "cgroup") == 0) {
		/* kubelet takes the first mountinfo entry of type cgroup as the v1 root. */
		s->v1 = true;
		for (int i = 0; cgroup_v1_controllers[i]; i++)
			if (has_option(e->super_opts, cgroup_v1_controllers[i]))
				add_controller(s, cgroup_v1_controllers[i]);
	} else if (strcmp(e->fstype, "cgroup2") == 0) {
		if (e->mount_point[14] == '\0')
			s->v2_root = true;
		else
			s->v2_unified = true;
	}
	return 0;
}

static void v2_controllers(struct cgroup_scan *s)
{
	char buf[256];
	if (read_small("/sys/fs/cgroup/cgroup.controllers", buf, sizeof buf) < 0)
		return;
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		add_controller(s, t);
}

/* One read of the mount table for the cgroup layout and the propagation of
 * / (each read is a fraction of a millisecond under gVisor). */
void probe_cgroups(struct probe *p)
{
	struct cgroup_scan s;
	memset(&s, 0, sizeof s);
	if (mountinfo_each(cgroup_cb, &s) < 0)
		log_warn("cannot read /proc/self/mountinfo: %s", strerror(errno));
	else
		p->root_shared = s.root_shared;
	if (s.v2_root) {
		p->cgroup = CGROUP_V2;
		v2_controllers(&s);
	} else if (s.v1) {
		p->cgroup = s.v2_unified ? CGROUP_HYBRID : CGROUP_V1;
	} else {
		p->cgroup = CGROUP_NONE;
	}
	memcpy(p->cgroup_controllers, s.controllers, sizeof p->cgroup_controllers);
	p->cg_memory = s.memory;
	p->cg_pids = s.pids;
	p->cg_cpu = s.cpu;
	p->cg_cpuset = s.cpuset;
}

static void probe_kmsg(struct probe *p)
{
	/* cAdvisor's OOM watcher (kmsgparser) opens /dev/kmsg read-only. */
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	p->kmsg_readable = fd >= 0;
	p->kmsg_errno = fd >= 0 ? 0 : errno;
	if (fd >= 0)
		close(fd);
}

static void probe_one_sysctl(struct probe *p, int i)
{
	char path[128];
	snprintf(path, sizeof path, "/proc/sys/%s", sysctl_entries[i].path);
	p->sysctl_errno[i] = 0;
	p->sysctl_value[i][0] = '\0';
	if (read_small(path, p->sysctl_value[i], sizeof p->sysctl_value[i]) < 0) {
		p->sysctl_errno[i] = errno;
		p->sysctl[i] = errno == ENOENT ? SYSCTL_MISSING : SYSCTL_UNREADABLE;
		return;
	}
	/* Writability without writing: access(W_OK) says yes on a read-only
	 * /proc/sys mount for root, but open(O_WRONLY) fails there (EROFS/EACCES). */
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		p->sysctl_errno[i] = errno;
		p->sysctl[i] = SYSCTL_UNWRITABLE;
		return;
	}
	close(fd);
	/* gVisor accepts the open but fails the write with EIO
	 * (vm/overcommit_memory); kubelet only writes when the value differs. */
	if (p->gvisor && strcmp(p->sysctl_value[i], sysctl_entries[i].want) != 0) {
		p->sysctl_errno[i] = EIO;
		p->sysctl[i] = SYSCTL_UNWRITABLE;
		return;
	}
	p->sysctl[i] = SYSCTL_OK;
}

bool probe_sysctl_bad(const struct probe *p, int i)
{
	return p->sysctl[i] != SYSCTL_OK;
}

/* capget, not /proc/self/status: one system call instead of four. */
static bool has_cap_sys_admin(void)
{
	struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &header, data) != 0)
		return false;
	return (data[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32)) & 1;
}

static void probe_programs(struct probe *p, const struct cli *cli)
{
	const char *path = getenv("PATH");
	if (path_lookup("host-local", path, p->host_local, sizeof p->host_local) != 0)
		p->host_local[0] = '\0';
	const char *target = cli->argv && cli->argv[0] ? cli->argv[0] : "k3s";
	if (path_lookup(target, path, p->k3s_path, sizeof p->k3s_path) != 0)
		p->k3s_path[0] = '\0';
	/* k3s-root's wrapper, linked as iptables & co in the official image. */
	p->iptables_wrapper = access("/bin/aux/iptables-detect.sh", X_OK) == 0;
}

static bool role_runs_agent(const struct cli *cli)
{
	return (ROLE_BIT(cli->role) & ROLES_AGENT) != 0;
}

/* Whether the bridge plugin can attach pods: asked in the init's own network
 * namespace (probe_limits.c hairpin_trial), only for an agent under gVisor,
 * whose netstack is the one network stack known to refuse it (on Linux every
 * bridge takes hairpin mode). */
static void probe_pod_network(struct probe *p, const struct cli *cli)
{
	p->podnet_hairpin_err = -1;
	if (!role_runs_agent(cli) || !p->gvisor) {
		snprintf(p->podnet_why, sizeof p->podnet_why, "%s", !p->gvisor ? "not under gVisor" : "no agent");
		return;
	}
	int setup_err;
	bool no_setns;
	p->podnet_hairpin_err = probe_bridge_hairpin(&setup_err, &no_setns);
	if (p->podnet_hairpin_err < 0 && no_setns)
		snprintf(p->podnet_why, sizeof p->podnet_why, "setns(CLONE_NEWNET) refused (%s): no CNI plugin can "
			 "configure a pod's namespace", strerror(setup_err));
	else if (p->podnet_hairpin_err < 0)
		snprintf(p->podnet_why, sizeof p->podnet_why, "no trial bridge port (%s)", strerror(setup_err));
}

void probe_run(struct probe *p, const struct cli *cli)
{
	memset(p, 0, sizeof *p);
	probe_gvisor(p);
	/* kubelet asks cAdvisor about the filesystem of its root directory, not
	 * of / (cmd/kubelet/app/server.go passes RootDirectory to cadvisor.New,
	 * whose RootFsInfo is GetDirFsInfo(rootPath)). k3s keeps kubelet's
	 * default, which the images declare a VOLUME: under gVisor that is a 9p
	 * mount even when / is an overlay. */
	probe_dir_fs(&p->kubelet_fs, KUBELET_ROOT_DIR);
	probe_cgroups(p);
	probe_kmsg(p);
	for (int i = 0; i < SYSCTL_COUNT; i++)
		probe_one_sysctl(p, i);
	p->pid1 = getpid() == 1;
	p->userns = in_user_namespace();
	p->cap_sys_admin = has_cap_sys_admin();
	probe_programs(p, cli);
	probe_netfilter(p);
	p->lo_up = probe_loopback_up();
	/* The trial mount needs privileges; a control plane does not get them and
	 * runs no containerd, so it is not even tried there. */
	p->overlay = TRI_UNKNOWN;
	if (role_runs_agent(cli))
		probe_overlay(p, cli->data_dir);
	probe_pod_network(p, cli);
}

const char *cgroup_layout_name(enum cgroup_layout l)
{
	switch (l) {
	case CGROUP_NONE: return "none";
	case CGROUP_V1: return "v1";
	case CGROUP_V2: return "v2";
	case CGROUP_HYBRID: return "hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified)";
	}
	return "?";
}

const char *tri_name(enum tri t)
{
	return t == TRI_YES ? "yes" : t == TRI_NO ? "no" : "unknown";
}
