#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level current_level = LOG_INFO;

int log_configure(const char *value)
{
	if (value == NULL || value[0] == '\0' || strcmp(value, "info") == 0)
		current_level = LOG_INFO;
	else if (strcmp(value, "quiet") == 0)
		current_level = LOG_QUIET;
	else if (strcmp(value, "debug") == 0)
		current_level = LOG_DEBUG;
	else
		return -1;
	return 0;
}

enum log_level log_get_level(void)
{
	return current_level;
}

static void log_line(const char *tag, const char *fmt, va_list ap)
{
	/* Build the line first so that it reaches stderr in one write. */
	char line[1024];
	int n = snprintf(line, sizeof line, "k3s-init: %s", tag);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
	fflush(stderr);
}

void log_info(const char *fmt, ...)
{
	if (current_level < LOG_INFO)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_line("", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (current_level < LOG_DEBUG)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_line("debug: ", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("warning: ", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("error: ", fmt, ap);
	va_end(ap);
}
