/* UTF-8 well-formedness, shared by the log writer and the signaling JSON scanner. */
#ifndef IW_COMMON_UTF8_H
#define IW_COMMON_UTF8_H

#include <stddef.h>

/* Length of the valid multi-byte UTF-8 sequence at s (RFC 3629 §4: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0; left bytes remain from s. ASCII is the caller's. */
static inline size_t iw_utf8_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (left < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

#endif
