/*
 * cgroup v2 evacuation, what k3s does when it is PID 1 (k3s
 * pkg/cli/cmds/init_linux.go, via rootlesskit cgrouputil.EvacuateCgroup2):
 * a cgroup v2 cgroup that holds processes cannot delegate controllers to
 * child cgroups ("no internal processes" rule), so kubelet could not create
 * its pod cgroups with cpu/memory. An init that stays PID 1 and forks k3s
 * takes that step away from k3s and must do it itself, before forking.
 */
#ifndef K3S_INIT_CGROUP_EVACUATE_H
#define K3S_INIT_CGROUP_EVACUATE_H

/* Where the unified hierarchy must be mounted for the move to apply. */
#define CGROUP_EVACUATE_MOUNT "/sys/fs/cgroup"

/*
 * Only when PID 1, not in a user namespace, and cgroup2 is mounted at
 * /sys/fs/cgroup (pure v2; v1 and hybrid layouts: nothing to do):
 * mkdir <mount>/<own cgroup>/init, move every process of the own cgroup
 * there, then write +<ctrl> into the own cgroup's cgroup.subtree_control for
 * each controller listed in its cgroup.controllers.
 * Returns 1 when not applicable, 0 when done, -1 when a step failed (a
 * warning has been logged; the caller continues, as k3s does).
 */
int cgroup_evacuate(void);

#endif
