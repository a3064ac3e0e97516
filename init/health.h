/*
 * `k3s-init health URL`: one plain HTTP GET with a short timeout; exit 0 on a
 * 2xx answer, 1 otherwise, 64 on a bad URL. The images' HEALTHCHECK uses it
 * for the kubelet's http://127.0.0.1:10248/healthz, since the rancher/k3s
 * userland has no curl or wget with a timeout.
 */
#ifndef K3S_INIT_HEALTH_H
#define K3S_INIT_HEALTH_H
int health_main(int argc, char **argv);
#endif
