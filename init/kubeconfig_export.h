/*
 * Hand the kubeconfig to the host once the API is ready.
 *
 * Settings (environment), `k3s server` only:
 *   K3S_INIT_KUBECONFIG_DIR              output directory (absolute, must exist; unset: off)
 *   K3S_INIT_KUBECONFIG_SERVER           server URL in kubeconfig.yaml (default https://127.0.0.1:6443)
 *   K3S_INIT_KUBECONFIG_INTERNAL_SERVER  server URL in kubeconfig-internal.yaml
 *                                        (default https://control-plane:6443, the compose service)
 *   K3S_INIT_KUBECONFIG_WAIT             seconds the watcher waits for the API (1..86400, default 900)
 * The source is K3S_KUBECONFIG_OUTPUT, else /etc/rancher/k3s/k3s.yaml (where k3s writes it).
 */
#ifndef K3S_INIT_KUBECONFIG_EXPORT_H
#define K3S_INIT_KUBECONFIG_EXPORT_H

#include <stdbool.h>
#include <sys/types.h>

#define KUBECONFIG_DEFAULT_SOURCE "/etc/rancher/k3s/k3s.yaml"
#define KUBECONFIG_DEFAULT_SERVER "https://127.0.0.1:6443"
#define KUBECONFIG_DEFAULT_INTERNAL_SERVER "https://control-plane:6443"
#define KUBECONFIG_DEFAULT_WAIT 900

struct kubeconfig_export_settings {
	bool enabled;
	int dir_fd; /* the output directory, opened once without following a symlink; -1 when off */
	char dir[256];
	char source[256];
	char server[256];
	char internal_server[256];
	unsigned wait_seconds;
};

/* The variables above, without K3S_INIT_ (cli.c accepts exactly these). */
extern const char *const kubeconfig_export_variables[];

/* Read and validate the settings (and open the directory). Returns 0, or -1
 * after logging an error that names the variable (the caller exits 64,
 * nothing having been changed). dir_fd must be -1 or open before the call. */
int kubeconfig_export_settings_read(struct kubeconfig_export_settings *settings);
void kubeconfig_export_settings_free(struct kubeconfig_export_settings *settings);

/* Fork the watcher (it outlives the exec of k3s as k3s's child; k3s as PID 1
 * reaps it). k3s is the program whose `kubectl` tells when the API is ready.
 * Returns the watcher's pid, 0 when there is nothing to do, or -1 after
 * logging. */
pid_t kubeconfig_export_start(const struct kubeconfig_export_settings *settings, const char *k3s);
/* Stop a watcher started above (the exec of k3s failed). */
void kubeconfig_export_stop(pid_t watcher);

/* The watcher's work, in the calling process: wait for the kubeconfig and a
 * ready API, write both files, print the ready line. Returns 0 or -1. */
int kubeconfig_export_run(const struct kubeconfig_export_settings *settings, const char *k3s);

/* Rewrite every "server:" value of a kubeconfig text to server. Returns a
 * malloc'd string, or NULL (no server line, or out of memory). */
char *kubeconfig_with_server(const char *text, const char *server);

#endif
