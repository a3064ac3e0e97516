/* libFuzzer harness: reading a prevResult (any CNI result shape) and the
 * address text forms it carries. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cni_ip.h"
#include "cni_result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *prev = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (prev != NULL) {
		struct cni_cidr *ips;
		size_t n;
		struct cni_error err = { 0 };
		if (cni_result_prev_ips(prev, &ips, &n, &err) == 0) {
			for (size_t i = 0; i < n; i++) {
				/* Canonical text must parse back to the same address. */
				char text[CNI_IP_TEXT];
				struct cni_ip back;
				cni_ip_format(&ips[i].ip, text);
				if (!cni_ip_parse(text, &back) || !cni_ip_equal(&back, &ips[i].ip))
					abort();
			}
			free(ips);
		} else if (err.msg[0] == '\0') {
			abort();
		}
		json_decref(prev);
	}
	/* The raw bytes as an address and as a CIDR. */
	char buf[64];
	size_t len = size < sizeof buf - 1 ? size : sizeof buf - 1;
	memcpy(buf, data, len);
	buf[len] = '\0';
	struct cni_ip ip;
	struct cni_cidr c;
	if (cni_ip_parse(buf, &ip)) {
		char text[CNI_IP_TEXT];
		struct cni_ip back;
		cni_ip_format(&ip, text);
		if (!cni_ip_parse(text, &back) || !cni_ip_equal(&back, &ip))
			abort();
	}
	(void)cni_cidr_parse(buf, &c);
	return 0;
}
