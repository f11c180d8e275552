/* The --check health probe of iceway-signal: GET /healthz on its own first listener, spoken
 * the way that listener expects it (TLS, a PROXY header). */
#ifndef IW_SIGNAL_CHECK_H
#define IW_SIGNAL_CHECK_H

#include "signaling/ws.h"

/* Connect to cfg's first listener (a wildcard address on loopback), send a PROXY v2 LOCAL
 * header when proxy-protocol is on and our source is proxy-trusted (a trusted source must send
 * one; LOCAL says "no client, the proxy's own check"), speak TLS when cfg has a certificate,
 * and GET /healthz. 0 on an HTTP 200 within timeout_ms, else -errno with *why. */
int iw_signal_check(const struct iw_ws_cfg *cfg, int timeout_ms, const char **why);

#endif
