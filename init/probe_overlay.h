/* Can overlayfs be mounted on the k3s data dir (containerd's default snapshotter)? */
#ifndef K3S_INIT_PROBE_OVERLAY_H
#define K3S_INIT_PROBE_OVERLAY_H

#include "probe.h"

void probe_overlay(struct probe *p, const char *data_dir);

#endif
