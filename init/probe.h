/*
 * What is this environment? Read only (the overlayfs trial mount lives in a
 * private temporary directory that is removed again).
 */
#ifndef K3S_INIT_PROBE_H
#define K3S_INIT_PROBE_H

#include <limits.h>
#include <stdbool.h>

struct cli;

enum cgroup_layout { CGROUP_NONE, CGROUP_V1, CGROUP_V2, CGROUP_HYBRID };
enum tri { TRI_NO = 0, TRI_YES = 1, TRI_UNKNOWN = 2 };

/* The kernel tunables kubelet (and the k3s agent) read and write. */
enum sysctl_state { SYSCTL_OK, SYSCTL_MISSING, SYSCTL_UNREADABLE, SYSCTL_UNWRITABLE };
struct sysctl_entry {
	const char *path;     /* below /proc/sys */
	const char *want;     /* the value kubelet writes */
	bool fatal;           /* kubelet fails without it (the six of setupKernelTunables) */
};
#define SYSCTL_COUNT 9
extern const struct sysctl_entry sysctl_entries[SYSCTL_COUNT];

/* k3s leaves kubelet's --root-dir at its default. */
#define KUBELET_ROOT_DIR "/var/lib/kubelet"

/* The filesystem a directory is (or, before it exists, will be) on. */
struct dir_fs {
	char dir[256];        /* the directory, or its nearest existing parent */
	unsigned long magic;  /* statfs f_type */
	const char *name;     /* a name for the magic */
	bool known;           /* cAdvisor can report on it */
};

struct probe {
	bool gvisor;
	char gvisor_why[96];
	struct dir_fs kubelet_fs;      /* of KUBELET_ROOT_DIR */
	enum cgroup_layout cgroup;
	char cgroup_controllers[256];  /* space separated */
	bool cg_memory, cg_pids, cg_cpu, cg_cpuset;
	bool kmsg_readable;
	int kmsg_errno;
	enum tri nft;
	int nft_errno;
	enum tri legacy;
	int legacy_errno;
	bool legacy_in_use;            /* legacy tables already loaded (ip_tables_names non-empty) */
	enum sysctl_state sysctl[SYSCTL_COUNT];
	int sysctl_errno[SYSCTL_COUNT];
	char sysctl_value[SYSCTL_COUNT][24];
	enum tri overlay;              /* overlayfs mountable on the data dir */
	int overlay_errno;
	const char *overlay_note;      /* why it was not tried, or NULL */
	char overlay_dir[PATH_MAX];    /* where it was tried */
	bool pid1;
	bool userns;
	bool cap_sys_admin;
	enum tri lo_up;
	bool root_shared;              /* / has a shared peer group */
	char host_local[PATH_MAX];     /* a runnable host-local on PATH, or "" */
	char k3s_path[PATH_MAX];       /* the target program found on PATH, or "" */
	bool iptables_wrapper;         /* /bin/aux/iptables-detect.sh (official image) */
	/* The bridge plugin's hairpin setting on a trial bridge port
	 * (probe_limits.c): 0 or errno; -1 when not tried (see podnet_why). */
	int podnet_hairpin_err;
	char podnet_why[128];
};

/* The v1 controller names the probe looks for and the cgroups repair mounts
 * (NULL-terminated). */
extern const char *const cgroup_v1_controllers[];

void probe_run(struct probe *p, const struct cli *cli);
/* The filesystem DIR is on, or will be once created: its nearest existing
 * parent's. */
void probe_dir_fs(struct dir_fs *f, const char *dir);
/* Re-read the cgroup layout and the propagation of / (after the cgroups
 * repair; the probe's one pass over the mount table). */
void probe_cgroups(struct probe *p);
bool probe_sysctl_bad(const struct probe *p, int i);
const char *cgroup_layout_name(enum cgroup_layout l);
const char *tri_name(enum tri t);

#endif
