/* coturn's per-realm options, which it keeps in its user database beside the realm's users
 * (turnadmin --set-realm-option writes turn/realm/REALM/max-bps, user-quota, total-quota):
 * their names, their ranges (those of the configuration options they override, turn/conf.c)
 * and a set of them as loaded (turn/userdb.h). Constants and plain data only. */
#ifndef IW_TURN_REALM_H
#define IW_TURN_REALM_H

#include <stdbool.h>
#include <stdint.h>

enum iw_realm_opt { IW_REALM_MAX_BPS, IW_REALM_USER_QUOTA, IW_REALM_TOTAL_QUOTA, IW_REALM_N_OPTS };

/* The ranges of max-bps (bytes a second) and of user-quota and total-quota (allocations). */
#define IW_REALM_BPS_MAX 1000000000000LL
#define IW_REALM_QUOTA_MAX 1000000LL

/* The last part of the option's key, which is also the name of the option it overrides. */
static inline const char *iw_realm_opt_name(enum iw_realm_opt o)
{
	return o == IW_REALM_MAX_BPS ? "max-bps" : o == IW_REALM_USER_QUOTA ? "user-quota" : "total-quota";
}

/* The largest value the option takes (the least is 0, which means what the option's 0 means). */
static inline long long iw_realm_opt_max(enum iw_realm_opt o)
{
	return o == IW_REALM_MAX_BPS ? IW_REALM_BPS_MAX : IW_REALM_QUOTA_MAX;
}

/* The options a load found well-formed: val[i] where set[i]. */
struct iw_realm_opts {
	bool set[IW_REALM_N_OPTS];
	uint64_t val[IW_REALM_N_OPTS];
};

#endif
