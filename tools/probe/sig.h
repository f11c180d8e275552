/* Signaling for the probe: the iceway-signal WebSocket protocol (JSON messages with a
 * "type"), over libwebsockets in a service thread, or an in-process loopback room that
 * behaves like the server for --signal internal. Callbacks run on the glib main loop. */
#ifndef IW_PROBE_SIG_H
#define IW_PROBE_SIG_H

#include <stdbool.h>

#include <jansson.h>

enum {
	IW_PROBE_SIG_OUTQ = 64,           /* queued outgoing messages per connection */
	IW_PROBE_SIG_MSG_MAX = 64 * 1024, /* larger incoming messages close the connection */
};

struct iw_probe_sig;

struct iw_probe_sig_cbs {
	void (*on_open)(void *arg);
	/* msg is borrowed for the call. */
	void (*on_msg)(void *arg, json_t *msg);
	/* The connection failed or closed; why is a sentence for the report. */
	void (*on_error)(void *arg, const char *why);
};

/* Start connecting to ws://host:port/path or wss://... (insecure: accept any server
 * certificate; ca_file: trust these CAs, PEM, instead of the system's; the first call's
 * choice holds for the process). Returns NULL with *why on a bad URL. */
struct iw_probe_sig *iw_probe_sig_ws_create(const char *url, bool insecure, const char *ca_file,
					    const struct iw_probe_sig_cbs *cbs, void *arg, const char **why);

/* Two connected loopback clients in one room; the room answers "join" with "welcome"
 * carrying ice_servers (a JSON array, borrowed). */
int iw_probe_sig_internal_pair(struct iw_probe_sig **a, struct iw_probe_sig **b, json_t *ice_servers,
			       const struct iw_probe_sig_cbs *cbs, void *arg_a, void *arg_b);

/* Queue msg (reference stolen). Returns 0, or -ENOBUFS when the queue is full (counted),
 * -ENOTCONN when the connection is gone. */
int iw_probe_sig_send(struct iw_probe_sig *s, json_t *msg);

/* Messages dropped because a queue was full, over all connections. */
unsigned long iw_probe_sig_dropped(void);

/* Stop the service thread and free every connection. Call once, after the main loop. */
void iw_probe_sig_shutdown(void);

#endif
