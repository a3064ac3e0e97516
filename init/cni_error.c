#include "cni_error.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int cni_fail(struct cni_error *err, int code, const char *fmt, ...)
{
	if (err->code != CNI_OK)
		return -1;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->details[0] = '\0';
	return -1;
}

void cni_error_details(struct cni_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->details, sizeof err->details, fmt, ap);
	va_end(ap);
}

/* Messages may quote input that is not UTF-8; JSON strings must be. */
static json_t *utf8_string(const char *s)
{
	json_t *v = json_string(s);
	if (v != NULL)
		return v;
	char copy[512];
	snprintf(copy, sizeof copy, "%s", s);
	for (char *p = copy; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	return json_string(copy);
}

int cni_error_print(const struct cni_error *err, const char *cni_version)
{
	json_t *o = json_object();
	if (o != NULL) {
		json_object_set_new(o, "cniVersion", json_string(cni_version ? cni_version : "1.1.0"));
		json_object_set_new(o, "code", json_integer(err->code));
		json_object_set_new(o, "msg", utf8_string(err->msg));
		if (err->details[0] != '\0')
			json_object_set_new(o, "details", utf8_string(err->details));
	}
	char *text = o ? json_dumps(o, JSON_INDENT(4) | JSON_PRESERVE_ORDER) : NULL;
	int rc;
	if (text == NULL) {
		/* Out of memory, or a message that is not UTF-8: the plain form still
		 * tells the runtime what happened. */
		log_error("host-local: error %d: %s", err->code, err->msg);
		rc = printf("{\"code\": %d, \"msg\": \"host-local failed\"}\n", err->code);
	} else {
		rc = printf("%s\n", text);
	}
	if (fflush(stdout) != 0 || rc < 0) {
		/* Closed, broken or full: stderr is then the only witness left. */
		int saved = errno;
		if (text != NULL)
			log_error("host-local: error %d: %s", err->code, err->msg);
		log_error("host-local: cannot write the error result to stdout: %s", strerror(saved));
	}
	free(text);
	json_decref(o);
	return 1;
}
