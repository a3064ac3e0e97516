/* CNI error results: {cniVersion, code, msg, details?} on stdout. */
#ifndef K3S_INIT_CNI_ERROR_H
#define K3S_INIT_CNI_ERROR_H

/* Codes from the CNI spec (SPEC.md "Error"); 999 is what upstream's Go
 * skeleton reports for any plugin error without a code (pkg/types ErrInternal). */
enum cni_code {
	CNI_OK = 0,
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_NOT_AVAILABLE_LIMITED = 51,
	CNI_ERR_INTERNAL = 999,
};

struct cni_error {
	int code;
	char msg[512];
	char details[512];
};

/* Record an error (the first one wins); returns -1 so callers can
 * `return cni_fail(...)`. */
int cni_fail(struct cni_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cni_error_details(struct cni_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the error JSON on stdout; returns the process exit status (1). */
int cni_error_print(const struct cni_error *err, const char *cni_version);

#endif
