/* PROXY protocol reader (common/proxy.c iw_proxy_parse). Invariants: the answer is "more",
 * a length within the input and the bound, or a refusal with a reason; a header's length
 * does not depend on the bytes after it, and every shorter prefix asks for more; a client
 * address is IPv4 or IPv6; the ALPN copy is bounded and terminated; a v1 header rebuilt from
 * the parsed addresses parses to the same addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/proxy.h"
#include "tests/fuzz/fuzz.h"

static void check_rebuilt_v1(const struct iw_proxy_hdr *h)
{
	char s[48], d[48], line[IW_PROXY_V1_MAX + 1];
	struct iw_proxy_hdr b;
	const char *why = NULL;
	int fam = h->src.family == AF_INET ? AF_INET : AF_INET6;

	FUZZ_CHECK(inet_ntop(fam, h->src.ip, s, sizeof s) && inet_ntop(fam, h->dst.ip, d, sizeof d));
	int n = snprintf(line, sizeof line, "PROXY TCP%c %s %s %u %u\r\n", fam == AF_INET ? '4' : '6', s, d,
			 h->src.port, h->dst.port);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof line);
	FUZZ_CHECK(iw_proxy_parse((const uint8_t *)line, (size_t)n, &b, &why) == n);
	FUZZ_CHECK(iw_addr_eq(&b.src, &h->src) && iw_addr_eq(&b.dst, &h->dst));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iw_proxy_hdr h, h2;
	const char *why = NULL;
	int rc = iw_proxy_parse(data, size, &h, &why);

	if (rc == 0) {
		FUZZ_CHECK(size < IW_PROXY_MAX);
		return 0;
	}
	if (rc < 0) {
		FUZZ_CHECK(rc == -EINVAL || rc == -EPROTO);
		FUZZ_CHECK(why && why[0]);
		return 0;
	}
	FUZZ_CHECK((size_t)rc <= size && rc <= IW_PROXY_MAX);
	FUZZ_CHECK(h.version == 1 || h.version == 2);
	FUZZ_CHECK(iw_proxy_parse(data, (size_t)rc, &h2, &why) == rc);
	FUZZ_CHECK(memcmp(&h, &h2, sizeof h) == 0);
	for (size_t n = 0; n < (size_t)rc; n++)
		FUZZ_CHECK(iw_proxy_parse(data, n, &h2, &why) == 0);
	FUZZ_CHECK(h.alpn_len <= IW_PROXY_ALPN_MAX && h.alpn[h.alpn_len] == '\0');
	if (h.local) {
		FUZZ_CHECK(h.version == 1 || h.src.family == 0);
		return 0;
	}
	FUZZ_CHECK(h.src.family == AF_INET || h.src.family == AF_INET6);
	FUZZ_CHECK(h.dst.family == h.src.family);
	check_rebuilt_v1(&h);
	return 0;
}
