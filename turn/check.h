/* The --check health probe of iceway-relay. */
#ifndef IW_TURN_CHECK_H
#define IW_TURN_CHECK_H

/* Send one STUN Binding request to addr ("IP:PORT") and wait up to timeout_ms for a success
 * response with our transaction id and an XOR-MAPPED-ADDRESS. 0, or -errno with *why. */
int iw_check_binding(const char *addr, int timeout_ms, const char **why);

#endif
