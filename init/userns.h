/* Whether this process runs in a user namespace other than the initial one. */
#ifndef K3S_INIT_USERNS_H
#define K3S_INIT_USERNS_H

#include <stdbool.h>

/*
 * The test containerd's userns.RunningInUserNS() makes, which k3s and kubelet
 * rely on (k3s skips the cgroup v2 evacuation and kubelet the kernel tunables
 * there): the initial user namespace maps the whole uid range, a first line of
 * "0 0 4294967295". An unreadable uid_map counts as "not in a user namespace",
 * as there.
 */
bool in_user_namespace(void);

#endif
