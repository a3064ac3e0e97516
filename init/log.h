/* One line per decision on stderr, prefixed "k3s-init: " (stdout belongs to the child). */
#ifndef K3S_INIT_LOG_H
#define K3S_INIT_LOG_H

enum log_level { LOG_QUIET = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

/* Parse K3S_INIT_LOG (quiet|info|debug). Returns 0, or -1 on a bad value. */
int log_configure(const char *value);
enum log_level log_get_level(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warnings and errors are printed even at quiet. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
