/* One probe run: N calls of two endpoints each (both in this process with --pair, or one
 * here and one in another process), each doing signaling -> ICE (libnice) -> DTLS-SRTP ->
 * SRTP media, on one glib main loop. */
#ifndef IW_PROBE_CALL_H
#define IW_PROBE_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>
#include <nice/agent.h>

#include "tools/probe/dtls.h"
#include "tools/probe/media.h"
#include "tools/probe/sig.h"

enum {
	IW_PROBE_MAX_CALLS = 1000,
	IW_PROBE_MAX_TURN = 4,       /* TURN servers given to one agent */
	IW_PROBE_PENDING_CANDS = 32, /* remote candidates held until the agent exists */
	IW_PROBE_CAND_TYPES = 4,     /* host, srflx, prflx, relay */
	IW_PROBE_EARLY_SRTP = 16,    /* SRTP held while our side finishes DTLS */
};

struct iw_probe_opts {
	const char *signal_url; /* "internal" or ws(s)://... */
	const char *room;
	bool pair;
	bool relay_only;
	unsigned duration_s;
	unsigned rate;    /* packets per second per direction */
	unsigned packets; /* per direction; 0 = rate * duration */
	unsigned calls;
	size_t payload;
	bool json;
	const char *turn_url; /* overrides iceServers from signaling */
	const char *turn_user, *turn_pass, *turn_secret;
	const char *stun_url;
	const char *local_ip;
	double max_loss_pct;
	double max_rtt_ms; /* 0 = no threshold */
	unsigned max_auth_fail;
	unsigned timeout_s; /* for everything before media, and the drain after it */
	unsigned ramp_ms;   /* start one call every ramp_ms */
	bool tamper_fp;     /* fault injection: send a corrupted a=fingerprint */
	bool insecure;
	const char *ca_file; /* --ca: CAs for wss://, PEM */
	int relay_pid;       /* report this process's CPU time over the media phase */
	bool verbose;
};

/* How far an endpoint got. The order matters: a failure is reported at its stage. */
enum iw_probe_stage {
	IW_PROBE_ST_SIGNAL = 0, /* connecting to signaling */
	IW_PROBE_ST_JOIN,       /* waiting for welcome */
	IW_PROBE_ST_PEER,       /* waiting for the other endpoint */
	IW_PROBE_ST_GATHER,     /* gathering candidates */
	IW_PROBE_ST_ICE,        /* connectivity checks */
	IW_PROBE_ST_DTLS,
	IW_PROBE_ST_MEDIA,
	IW_PROBE_ST_DONE,
};

struct iw_probe_turn {
	char host[64]; /* numeric address: libnice does not resolve */
	uint16_t port;
	char user[514]; /* RFC 8489 §14.3: < 513 bytes */
	char pass[256];
};

struct iw_probe_run;

struct iw_probe_ep {
	struct iw_probe_run *run;
	unsigned call, side;
	struct iw_probe_sig *sig;
	char my_id[64], peer_id[64];
	bool offerer;

	struct iw_probe_turn turn[IW_PROBE_MAX_TURN];
	unsigned n_turn;
	char stun_host[64];
	uint16_t stun_port;

	NiceAgent *agent;
	guint stream;
	bool gather_done, sent_eoc;
	unsigned n_local[IW_PROBE_CAND_TYPES], n_remote[IW_PROBE_CAND_TYPES];
	char *pending[IW_PROBE_PENDING_CANDS];
	unsigned n_pending;
	uint64_t pending_dropped; /* candidates beyond IW_PROBE_PENDING_CANDS */
	bool have_remote;
	uint8_t remote_fp[IW_PROBE_FP_LEN];
	char local_type[8], remote_type[8];

	bool dtls_on;
	struct iw_probe_dtls dtls;
	bool media_on;
	struct iw_probe_media media;
	uint32_t total; /* packets to send */
	/* The DTLS server finishes one flight before the client, so its first SRTP packets can
	 * arrive before the client has keys; they wait here instead of counting as lost. */
	uint8_t *early[IW_PROBE_EARLY_SRTP];
	uint16_t early_len[IW_PROBE_EARLY_SRTP];
	unsigned n_early;
	uint64_t early_dropped;

	enum iw_probe_stage stage;
	bool finished, failed;
	unsigned fail_seq; /* 1 = the first endpoint that failed in this run */
	char why[320];
	uint64_t t_created_ms;               /* signaling started */
	uint64_t t0_ms, t_ice_ms, t_dtls_ms; /* t_* relative to t0, 0 = not reached */
	uint64_t media_start_us, send_done_us;
};

struct iw_probe_run {
	const struct iw_probe_opts *o;
	GMainLoop *loop;
	struct iw_probe_cert cert;
	struct iw_probe_ep *eps;
	unsigned n_eps, n_finished, n_failed;
	unsigned n_started;      /* calls started so far (--ramp) */
	json_t *cli_ice_servers; /* from --turn/--stun, or NULL */
	guint tick_id, timeout_id;
	bool timed_out;
	uint64_t t_start_ms;
	/* Relay CPU over the steady state: from when every endpoint is sending media to when
	 * the first one has sent its last packet. */
	bool cpu_started, cpu_done;
	uint64_t cpu_ticks0, cpu_ticks1;
	uint64_t cpu_t0_us, cpu_t1_us;
	unsigned cpu_senders; /* endpoints sending during that window */
	uint64_t media_t0_us, media_t1_us;
};

/* Run everything until all endpoints finished or the timeout. 0, or < 0 with *why when the
 * run could not start (the per-endpoint results are in run->eps either way). */
int iw_probe_run_exec(struct iw_probe_run *run, const struct iw_probe_opts *o, const char **why);
void iw_probe_run_fini(struct iw_probe_run *run);

/* "host", "srflx", "prflx", "relay" for an index of n_local/n_remote. */
const char *iw_probe_cand_type_name(unsigned i);

#endif
