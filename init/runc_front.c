/*
 * runc, in front of the real one: under gVisor, containerd's CRI plugin
 * gives every pod sandbox with a network of its own the sysctls
 * net.ipv4.ip_unprivileged_port_start=0 and net.ipv4.ping_group_range
 * (enable_unprivileged_ports/_icmp, which k3s turns on for every kernel
 * from 4.11: pkg/agent/containerd/config_linux.go
 * EnableUnprivileged: kernel.CheckKernelVersion(4, 11, 0); gVisor reports
 * 4.19). gVisor's procfs has neither file, and runc fails the sandbox:
 * "open /proc/sys/net/ipv4/ip_unprivileged_port_start: operation not
 * permitted" (real containerd 2.1.5 and runc 1.1.5 under runsc). So for
 * `create` and `run`, the sysctls of the bundle's config.json whose
 * /proc/sys file this kernel does not have are taken out, each one logged;
 * then the next runc on PATH that is not this binary runs with the same
 * arguments. The pod-sysctls step places it (repair_pod_sysctls.c).
 */
#include "runc_front.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "k3s-init runc: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The bundle of a `create` or `run`: --bundle/-b, else the working
 * directory (runc's default). NULL for any other command. */
static const char *bundle_of(int argc, char **argv)
{
	bool creates = false;
	const char *bundle = ".";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "create") == 0 || strcmp(a, "run") == 0)
			creates = true;
		else if ((strcmp(a, "--bundle") == 0 || strcmp(a, "-b") == 0) && i + 1 < argc)
			bundle = argv[++i];
		else if (strncmp(a, "--bundle=", 9) == 0)
			bundle = a + 9;
		else if (strncmp(a, "-b=", 3) == 0)
			bundle = a + 3;
	}
	return creates ? bundle : NULL;
}

/* "net.ipv4.ping_group_range" -> is /proc/sys/net/ipv4/ping_group_range there? */
static bool kernel_has(const char *key)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "/proc/sys/%s", key) >= (int)sizeof path)
		return true; /* not ours to judge */
	for (char *p = path + strlen("/proc/sys/"); *p; p++) {
		if (*p == '.')
			*p = '/';
	}
	return access(path, F_OK) == 0 || errno != ENOENT;
}

/* Take the missing sysctls out of BUNDLE/config.json. Any failure is only
 * logged: the real runc then meets the spec as it was. */
static void drop_missing_sysctls(const char *bundle)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/config.json", bundle) >= (int)sizeof path ||
	    snprintf(tmp, sizeof tmp, "%s/.config.json.k3s-init", bundle) >= (int)sizeof tmp)
		return;
	json_error_t jerr;
	json_t *spec = json_load_file(path, 0, &jerr);
	json_t *sysctls = json_object_get(json_object_get(spec, "linux"), "sysctl");
	const char *key;
	json_t *value;
	void *iter_tmp;
	int dropped = 0;
	json_object_foreach_safe(sysctls, iter_tmp, key, value)
	{
		if (kernel_has(key))
			continue;
		say("dropping sysctl %s=%s: this kernel has no such file under /proc/sys", key,
		    json_string_value(value) ? json_string_value(value) : "?");
		json_object_del(sysctls, key);
		dropped++;
	}
	if (dropped > 0 && (json_dump_file(spec, tmp, JSON_COMPACT) != 0 || rename(tmp, path) != 0)) {
		say("cannot rewrite %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	json_decref(spec);
}

int runc_front_main(int argc, char **argv)
{
	const char *bundle = bundle_of(argc, argv);
	if (bundle != NULL)
		drop_missing_sysctls(bundle);
	char real[PATH_MAX];
	/* The next runc on PATH that is not this binary. */
	if (path_lookup_skip("runc", getenv("PATH"), is_this_binary, real, sizeof real) != 0) {
		say("no other runc on PATH (%s)", getenv("PATH") ? getenv("PATH") : "");
		return 127;
	}
	execv(real, argv);
	say("exec %s: %s", real, strerror(errno));
	return 126;
}
