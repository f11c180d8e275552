/* Peer policy: which peer addresses a client may reach through the relay. Safe by default:
 * every special-purpose range is refused unless an option allows it. */
#ifndef IW_TURN_POLICY_H
#define IW_TURN_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/addr.h"

enum { IW_POLICY_MAX_RULES = 64, IW_POLICY_TEXT_MAX = 96, IW_POLICY_MAX_SELF = 32 };

/* An inclusive address range, from a CIDR or "A-B" (coturn's form). */
struct iw_range {
	struct iw_addr lo, hi;         /* ports ignored */
	char text[IW_POLICY_TEXT_MAX]; /* as written, for messages */
};

struct iw_policy {
	bool allow_loopback;
	bool allow_self; /* allow-self-peers: the relay's own addresses are peers like any other */
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
 * May a client reach peer? An allowed-peer-ip match on its normalised form (IPv4 inside
 * IPv6) allows, as in coturn, even inside a denied range; then a denied-peer-ip match on the
 * address as given or on its normalised form refuses; then every non-public class of the
 * normalised form is refused (loopback only when allow_loopback). So an embedded IPv4 address
 * passes the IPv4 policy on its own.
 * Returns 0, or -EPERM with a reason phrase in why (e.g. "Forbidden: peer 10.0.0.1 is in
 * private range 10.0.0.0/8 (allowed-peer-ip=10.0.0.0/8 would allow it)").
 */
int iw_policy_check(const struct iw_policy *p, const struct iw_addr *peer, char *why, size_t why_cap);

/* The relay's own addresses, which a peer must not be: otherwise a client reaches services on
 * the relay host with the relay's address as source, or nests allocations through its own
 * listener. Ports of the relay range stay open on them: the relayed address of another
 * allocation on this relay is an ordinary peer (two clients of one relay talking relay to
 * relay), and that allocation's own permissions apply. */
struct iw_policy_self {
	struct iw_addr addr[IW_POLICY_MAX_SELF]; /* listening, relayed, external; ports ignored */
	unsigned n_addr;
	uint16_t lis_port[4];        /* the listening ports (UDP/TCP, TLS, RFC 5780 alternate, metrics) */
	uint16_t min_port, max_port; /* the relay range */
};

/* Add a (port ignored) to s unless present or s is full. */
void iw_policy_self_add(struct iw_policy_self *s, const struct iw_addr *a);
/* Is peer (or its normalised form) the relay itself: 0.0.0.0, ::, or one of s's addresses? */
bool iw_policy_is_self(const struct iw_policy_self *s, const struct iw_addr *peer);
/*
 * May a client send to peer, address and port? 0 unless peer is the relay itself at a port
 * outside the relay range or at a listening port; loopback addresses at other ports than the
 * listening ports pass when p allows loopback peers. With has_port false (CreatePermission,
 * which is about addresses only) just the unspecified addresses are refused: a permission
 * for the relay's address is needed for relay-to-relay traffic, and the port is checked when
 * data is sent (ChannelBind, Send). p->allow_self allows everything. -EPERM, with why
 * written when why is not NULL.
 */
int iw_policy_self_check(const struct iw_policy *p, const struct iw_policy_self *s,
			 const struct iw_addr *peer, bool has_port, char *why, size_t why_cap);

#endif
