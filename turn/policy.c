/* Peer policy: deny rules, allow rules, then special-range classes (common/addr). Runs on
 * the control path only (CreatePermission, ChannelBind); the packet path checks permissions. */
#include "turn/policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void iw_policy_init(struct iw_policy *p)
{
	memset(p, 0, sizeof *p);
}

static int addr_cmp(const struct iw_addr *a, const struct iw_addr *b)
{
	return memcmp(a->ip, b->ip, 16);
}

int iw_policy_range_parse(struct iw_range *r, const char *s)
{
	memset(r, 0, sizeof *r);
	if (!s || strlen(s) >= sizeof r->text)
		return -EINVAL;
	snprintf(r->text, sizeof r->text, "%s", s);
	const char *dash = strchr(s, '-');
	if (dash) {
		char a[IW_POLICY_TEXT_MAX], b[IW_POLICY_TEXT_MAX];
		size_t n = (size_t)(dash - s);
		memcpy(a, s, n);
		a[n] = 0;
		snprintf(b, sizeof b, "%s", dash + 1);
		if (iw_addr_parse(&r->lo, a) || iw_addr_parse(&r->hi, b) || r->lo.family != r->hi.family ||
		    addr_cmp(&r->lo, &r->hi) > 0)
			return -EINVAL;
		if (r->lo.port || r->hi.port)
			return -EINVAL;
		return 0;
	}
	struct iw_cidr c;
	if (iw_cidr_parse(&c, s))
		return -EINVAL;
	unsigned bits = c.base.family == AF_INET ? 32 : 128;
	if (c.prefix > bits)
		return -EINVAL;
	r->lo = r->hi = c.base;
	r->lo.port = r->hi.port = 0;
	for (unsigned i = c.prefix; i < bits; i++) {
		uint8_t m = (uint8_t)(0x80 >> (i % 8));
		r->lo.ip[i / 8] &= (uint8_t)~m;
		r->hi.ip[i / 8] |= m;
	}
	return 0;
}

bool iw_policy_range_contains(const struct iw_range *r, const struct iw_addr *a)
{
	return a->family == r->lo.family && addr_cmp(a, &r->lo) >= 0 && addr_cmp(a, &r->hi) <= 0;
}

static int add_rule(struct iw_range *tab, unsigned *n, const char *s, const char **why)
{
	if (*n == IW_POLICY_MAX_RULES) {
		*why = "too many rules (at most 64)";
		return -ENOBUFS;
	}
	if (iw_policy_range_parse(&tab[*n], s)) {
		*why = "not an address, CIDR range or A-B range";
		return -EINVAL;
	}
	(*n)++;
	return 0;
}

int iw_policy_allow_add(struct iw_policy *p, const char *s, const char **why)
{
	return add_rule(p->allow, &p->n_allow, s, why);
}

int iw_policy_deny_add(struct iw_policy *p, const char *s, const char **why)
{
	return add_rule(p->deny, &p->n_deny, s, why);
}

static const struct iw_range *match(const struct iw_range *tab, unsigned n, const struct iw_addr *a,
				    const struct iw_addr *b)
{
	for (unsigned i = 0; i < n; i++)
		if (iw_policy_range_contains(&tab[i], a) || iw_policy_range_contains(&tab[i], b))
			return &tab[i];
	return NULL;
}

int iw_policy_check(const struct iw_policy *p, const struct iw_addr *peer, char *why, size_t why_cap)
{
	struct iw_addr norm;
	char txt[IW_ADDR_STRLEN];
	iw_addr_normalize(peer, &norm);
	/* As in coturn, an allowed-peer-ip range is an exception to the denied ones: guides
	 * deny a whole space and allow the one media server (BigBlueButton), or deny the private
	 * ranges and allow the relay's own address (Synapse). Allow rules see the normalised form
	 * only: an IPv4 address inside IPv6 passes the IPv4 policy on its own, so an allow rule
	 * for the IPv6 form (64:ff9b::/96, a normal NAT64 set-up) does not reopen 169.254.169.254
	 * or 127.0.0.1 inside it, and ::ffff:10.0.0.1 is refused as 10.0.0.1 is. */
	if (match(p->allow, p->n_allow, &norm, &norm))
		return 0;
	const struct iw_range *r = match(p->deny, p->n_deny, peer, &norm);
	if (r) {
		snprintf(why, why_cap, "Forbidden: peer %s is in denied-peer-ip=%s",
			 iw_addr_fmt(peer, false, txt, sizeof txt), r->text);
		return -EPERM;
	}
	const struct iw_addr *forms[2] = { &norm, peer };
	for (unsigned i = 0; i < 2; i++) {
		const char *range = NULL;
		enum iw_addr_class c = iw_addr_classify(forms[i], &range);
		if (c == IW_ADDR_PUBLIC || (c == IW_ADDR_LOOPBACK && p->allow_loopback))
			continue;
		const char *hint = c == IW_ADDR_LOOPBACK ? "allow-loopback-peers" : "allowed-peer-ip=";
		snprintf(why, why_cap, "Forbidden: peer %s is in %s range %s (%s%s would allow it)",
			 iw_addr_fmt(peer, false, txt, sizeof txt), iw_addr_class_name(c),
			 range ? range : "?", hint, c == IW_ADDR_LOOPBACK ? "" : (range ? range : "?"));
		return -EPERM;
	}
	return 0;
}

void iw_policy_self_add(struct iw_policy_self *s, const struct iw_addr *a)
{
	struct iw_addr n;
	iw_addr_normalize(a, &n);
	n.port = 0;
	for (unsigned i = 0; i < s->n_addr; i++)
		if (iw_addr_eq(&s->addr[i], &n))
			return;
	if (s->n_addr < IW_POLICY_MAX_SELF)
		s->addr[s->n_addr++] = n;
}

bool iw_policy_is_self(const struct iw_policy_self *s, const struct iw_addr *peer)
{
	struct iw_addr n;
	iw_addr_normalize(peer, &n);
	if (iw_addr_is_any(&n) || iw_addr_is_any(peer))
		return true; /* "this host" */
	n.port = 0;
	for (unsigned i = 0; i < s->n_addr; i++)
		if (iw_addr_eq(&s->addr[i], &n))
			return true;
	return false;
}

int iw_policy_self_check(const struct iw_policy *p, const struct iw_policy_self *s,
			 const struct iw_addr *peer, bool has_port, char *why, size_t why_cap)
{
	if (p->allow_self || !iw_policy_is_self(s, peer))
		return 0;
	struct iw_addr n;
	iw_addr_normalize(peer, &n);
	bool any = iw_addr_is_any(&n) || iw_addr_is_any(peer);
	if (!has_port && !any)
		return 0;
	bool lis = peer->port == s->lis_port[0] || peer->port == s->lis_port[1] ||
		   peer->port == s->lis_port[2] || peer->port == s->lis_port[3];
	const char *range = NULL;
	bool loop = iw_addr_classify(&n, &range) == IW_ADDR_LOOPBACK;
	if (!any && !lis &&
	    ((peer->port >= s->min_port && peer->port <= s->max_port) || (loop && p->allow_loopback)))
		return 0;
	if (!why)
		return -EPERM;
	char txt[IW_ADDR_STRLEN];
	snprintf(why, why_cap, "Forbidden: peer %s is this relay's own %s (allow-self-peers would allow it)",
		 iw_addr_fmt(peer, has_port, txt, sizeof txt),
		 any   ? "address"
		 : lis ? "listening port"
		       : "address outside the relay port range");
	return -EPERM;
}
