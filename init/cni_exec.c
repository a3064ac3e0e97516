#include "cni_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"

/* The first DIR/TYPE of CNI_PATH that is an executable file (libcni
 * pkg/invoke/find.go FindInPath; an empty element is the working directory
 * there too, filepath.Join("", type)). */
static int find_plugin(const char *type, char out[PATH_MAX], struct cni_error *err)
{
	if (type[0] == '\0' || strchr(type, '/') != NULL || strcmp(type, ".") == 0 || strcmp(type, "..") == 0)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "invalid plugin type \"%s\"", type);
	const char *path = getenv("CNI_PATH");
	if (path_lookup(type, path ? path : "", out, PATH_MAX) == 0)
		return 0;
	return cni_fail(err, CNI_ERR_INVALID_CONFIG, "failed to find plugin \"%s\" in path [%s]", type, path ? path : "");
}

__attribute__((noreturn)) static void run_child(const char *file, const char *command, int in, int out)
{
	signal(SIGPIPE, SIG_DFL); /* cni_ignore_sigpipe's disposition stays with us */
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    (command != NULL && setenv("CNI_COMMAND", command, 1) != 0)) {
		fprintf(stderr, "routed-veth: preparing %s: %s\n", file, strerror(errno));
		_exit(127);
	}
	const char *base = strrchr(file, '/');
	execl(file, base ? base + 1 : file, (char *)NULL);
	fprintf(stderr, "routed-veth: exec %s: %s\n", file, strerror(errno));
	_exit(127);
}

/* The delegate's output: its result, or its error result made ours. */
static int read_outcome(const char *type, int status, const char *text, size_t len, json_t **result,
			struct cni_error *err)
{
	json_t *root = len > 0 ? json_loadb(text, len, 0, NULL) : NULL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (len > 0 && root == NULL)
			return cni_fail(err, CNI_ERR_DECODE, "plugin %s printed a result that is not JSON", type);
		*result = root;
		return 0;
	}
	json_int_t code = json_integer_value(json_object_get(root, "code"));
	const char *msg = json_string_value(json_object_get(root, "msg"));
	const char *details = json_string_value(json_object_get(root, "details"));
	if (msg != NULL) {
		cni_fail(err, code > 0 && code <= INT_MAX ? (int)code : CNI_ERR_INTERNAL, "%s", msg);
		if (details != NULL && details[0] != '\0')
			cni_error_details(err, "%s", details);
	} else if (WIFEXITED(status)) {
		cni_fail(err, CNI_ERR_INTERNAL, "plugin %s exited with status %d", type, WEXITSTATUS(status));
	} else {
		cni_fail(err, CNI_ERR_INTERNAL, "plugin %s was killed by signal %d", type, WTERMSIG(status));
	}
	json_decref(root);
	return -1;
}

static void close_pair(int p[2])
{
	close(p[0]);
	close(p[1]);
}

int cni_exec_plugin(const char *type, const char *command, const char *config, size_t len, json_t **result,
		    struct cni_error *err)
{
	*result = NULL;
	char file[PATH_MAX];
	if (find_plugin(type, file, err) < 0)
		return -1;
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) != 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "pipe: %s", strerror(errno));
	if (pipe2(out, O_CLOEXEC) != 0) {
		int saved = errno;
		close_pair(in);
		return cni_fail(err, CNI_ERR_INTERNAL, "pipe: %s", strerror(saved));
	}
	pid_t pid = fork();
	if (pid < 0) {
		int saved = errno;
		close_pair(in);
		close_pair(out);
		return cni_fail(err, CNI_ERR_INTERNAL, "fork: %s", strerror(saved));
	}
	if (pid == 0)
		run_child(file, command, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	/* The plugin reads all of its config before it answers (libcni gives
	 * it the whole config at once), so writing first cannot deadlock. */
	int write_errno = write_all(in[1], config, len) == 0 ? 0 : errno;
	close(in[1]);
	size_t outlen = 0;
	char *text = read_fd_all(out[0], SIZE_MAX - 1, &outlen);
	int read_errno = text ? 0 : errno;
	close(out[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			free(text);
			return cni_fail(err, CNI_ERR_INTERNAL, "waiting for plugin %s: %s", type, strerror(errno));
		}
	}
	int rc;
	if (text == NULL)
		rc = cni_fail(err, CNI_ERR_IO, "reading the output of plugin %s: %s", type, strerror(read_errno));
	else
		rc = read_outcome(type, status, text, outlen, result, err);
	if (rc == 0 && write_errno != 0)
		rc = cni_fail(err, CNI_ERR_IO, "writing the config to plugin %s: %s", type, strerror(write_errno));
	free(text);
	return rc;
}
