/* Peer policy: which peer addresses a client may reach through the relay. Safe by default:
 * every special-purpose range is refused unless an option allows it. */
#ifndef IW_TURN_POLICY_H
#define IW_TURN_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/addr.h"

enum { IW_POLICY_MAX_RULES = 64, IW_POLICY_TEXT_MAX = 96 };

/* An inclusive address range, from a CIDR or "A-B" (coturn's form). */
struct iw_range {
	struct iw_addr lo, hi;         /* ports ignored */
	char text[IW_POLICY_TEXT_MAX]; /* as written, for messages */
};

struct iw_policy {
	bool allow_loopback;
	unsigned n_allow, n_deny;
	struct iw_range allow[IW_POLICY_MAX_RULES];
	struct iw_range deny[IW_POLICY_MAX_RULES];
};

void iw_policy_init(struct iw_policy *p);
/* Parse "10.0.0.0/8", "fe80::/10", "1.2.3.4" or "1.2.3.4-1.2.3.9". 0 or -EINVAL. */
int iw_policy_range_parse(struct iw_range *r, const char *s);
bool iw_policy_range_contains(const struct iw_range *r, const struct iw_addr *a);
/* Add an allowed-peer-ip / denied-peer-ip rule. 0, -EINVAL (with *why) or -ENOBUFS. */
int iw_policy_allow_add(struct iw_policy *p, const char *s, const char **why);
int iw_policy_deny_add(struct iw_policy *p, const char *s, const char **why);

/*
 * May a client reach peer? Checks the address as given and its normalised form (IPv4 inside
 * IPv6). An explicit denied-peer-ip match refuses; an explicit allowed-peer-ip match allows;
 * otherwise every non-public class is refused (loopback only when allow_loopback).
 * Returns 0, or -EPERM with a reason phrase in why (e.g. "Forbidden: peer 10.0.0.1 is in
 * private range 10.0.0.0/8 (allowed-peer-ip=10.0.0.0/8 would allow it)").
 */
int iw_policy_check(const struct iw_policy *p, const struct iw_addr *peer, char *why, size_t why_cap);

#endif
