/* On-disk allocation state in upstream host-local's format
 * (plugins/ipam/host-local/backend/disk/backend.go), so the real plugin and
 * this one can take turns on one directory:
 *   <dataDir>/<network>/            0755
 *   <dataDir>/<network>/<ip>        O_EXCL 0600, "<containerID>\r\n<ifname>"
 *   <dataDir>/<network>/last_reserved_ip.<set index>   the last address, no newline
 *   <dataDir>/<network>/lock        flock(LOCK_EX) around every change
 * Every change to an address or last_reserved_ip file is journaled in memory
 * so that a failed command can undo it. The directories and the lock are not
 * undone: other instances may have opened them and be waiting in flock(2),
 * and upstream creates both before it allocates and never removes them. */
#ifndef K3S_INIT_CNI_STORE_H
#define K3S_INIT_CNI_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "cni_error.h"
#include "cni_ip.h"

struct cni_store_undo;

struct cni_store {
	int dir_fd;
	int lock_fd; /* -1 only for a read-only open of a network never locked */
	char path[4096];
	struct cni_store_undo *undo;
	size_t nundo, capundo;
};

/* One address file of this network. */
struct cni_store_entry {
	struct cni_ip ip;
	char name[CNI_IP_TEXT];
	char *content; /* trimmed file content, owned */
	const char *id; /* points into split, owned with content */
	const char *ifname; /* "" in the old format that held only the ID */
	char *split;
	bool legacy;
};

/* Open <data_dir>/<network>, creating it and its lock when create is true,
 * and take the lock. data_dir may lead through symlinks; the network
 * directory and its files are never opened through one. Without create
 * (STATUS), a missing directory gives 1, and a missing lock an unlocked
 * store: nothing is written. */
int cni_store_open(struct cni_store *s, const char *data_dir, const char *network, bool create,
		   struct cni_error *err);
/* Release the lock; with rollback, undo every journaled change first. */
void cni_store_close(struct cni_store *s, bool rollback);

/* Create the file for ip; 1 when reserved, 0 when taken, -1 on error. */
int cni_store_reserve(struct cni_store *s, const struct cni_ip *ip, const char *id, const char *ifname,
		      size_t set_index, struct cni_error *err);
/* The last reserved address of a range set; false when unknown. */
bool cni_store_last_reserved(struct cni_store *s, size_t set_index, struct cni_ip *out);
/* Every address file (unparsable names are skipped). Caller frees *out. */
int cni_store_list(struct cni_store *s, struct cni_store_entry **out, size_t *count, struct cni_error *err);
void cni_store_list_free(struct cni_store_entry *list, size_t count);
/* Whether an entry belongs to (id, ifname); with ifname NULL, whether it is
 * an old-format entry (ID only) of id. */
bool cni_store_entry_matches(const struct cni_store_entry *e, const char *id, const char *ifname);
/* Remove one address file (journaled). */
int cni_store_remove(struct cni_store *s, const struct cni_store_entry *e, struct cni_error *err);

#endif
