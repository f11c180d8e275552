/* The probe's endpoints: signaling messages in, libnice ICE, DTLS-SRTP on the selected
 * pair, paced SRTP media, and a verdict per endpoint. Everything runs on one glib loop;
 * a 1 ms tick paces media and drives DTLS retransmissions and deadlines. */
#include "tools/probe/call.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/clock.h"
#include "common/cred.h"
#include "tools/probe/turncheck.h"

enum {
	TICK_MS = 1,
	DRAIN_MS = 2000, /* after both directions went quiet */
	BURST_MAX = 8,   /* packets one endpoint may catch up in one tick */
	REST_TTL_S = 3600,
};

static const char *const cand_names[IW_PROBE_CAND_TYPES] = { "host", "srflx", "prflx", "relay" };

const char *iw_probe_cand_type_name(unsigned i)
{
	return i < IW_PROBE_CAND_TYPES ? cand_names[i] : "?";
}

static unsigned cand_index(NiceCandidateType t)
{
	switch (t) {
	case NICE_CANDIDATE_TYPE_HOST:
		return 0;
	case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
		return 1;
	case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
		return 2;
	default:
		return 3;
	}
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void cand_summary(char *out, size_t cap, const unsigned n[IW_PROBE_CAND_TYPES])
{
	snprintf(out, cap, "host %u, srflx %u, prflx %u, relay %u", n[0], n[1], n[2], n[3]);
}

static void maybe_quit(struct iw_probe_run *run)
{
	if (run->n_finished == run->n_eps)
		g_main_loop_quit(run->loop);
}

static void send_bye(struct iw_probe_ep *ep)
{
	if (ep->sig && ep->peer_id[0])
		iw_probe_sig_send(ep->sig, json_pack("{s:s, s:s}", "type", "bye", "to", ep->peer_id));
}

static void fail(struct iw_probe_ep *ep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct iw_probe_ep *ep, const char *fmt, ...)
{
	va_list ap;

	if (ep->finished)
		return;
	va_start(ap, fmt);
	vsnprintf(ep->why, sizeof ep->why, fmt, ap);
	va_end(ap);
	ep->failed = true;
	ep->fail_seq = ++ep->run->n_failed;
	ep->finished = true;
	ep->run->n_finished++;
	if (ep->run->o->verbose)
		fprintf(stderr, "call %u/%c: failed: %s\n", ep->call, 'a' + ep->side, ep->why);
	send_bye(ep);
	maybe_quit(ep->run);
}

static void finish(struct iw_probe_ep *ep)
{
	if (ep->finished)
		return;
	ep->stage = IW_PROBE_ST_DONE;
	ep->finished = true;
	ep->run->n_finished++;
	send_bye(ep);
	maybe_quit(ep->run);
}

/* --- ICE servers ------------------------------------------------------------------- */

/* libnice wants numeric addresses. */
static int resolve(const char *host, char *out, size_t cap)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
	if (getaddrinfo(host, NULL, &hints, &res) || !res)
		return -EHOSTUNREACH;
	const void *a = res->ai_family == AF_INET6
				? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
				: (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
	const char *r = inet_ntop(res->ai_family, a, out, (socklen_t)cap);
	freeaddrinfo(res);
	return r ? 0 : -EINVAL;
}

/* "turn:HOST[:PORT][?transport=udp]" or "stun:...". 1 = TURN/UDP, 2 = STUN, 0 = skipped. */
static int parse_ice_url(const char *url, char *host, size_t hcap, uint16_t *port)
{
	int kind;
	char tmp[256], *h, *q, *c;

	if (!strncmp(url, "turn:", 5))
		kind = 1;
	else if (!strncmp(url, "stun:", 5))
		kind = 2;
	else
		return 0; /* turns:, stuns: need TLS/DTLS to the server, which libnice lacks here */
	snprintf(tmp, sizeof tmp, "%s", url + 5);
	if ((q = strchr(tmp, '?'))) {
		*q++ = '\0';
		if (kind == 1 && strstr(q, "transport=") && !strstr(q, "transport=udp"))
			return 0;
	}
	h = tmp;
	*port = 3478;
	if (*h == '[') {
		h++;
		if (!(c = strchr(h, ']')))
			return -EINVAL;
		*c++ = '\0';
		if (*c == ':')
			*port = (uint16_t)atoi(c + 1);
	} else if ((c = strrchr(h, ':'))) {
		*c = '\0';
		*port = (uint16_t)atoi(c + 1);
	}
	if (!*port || resolve(h, host, hcap))
		return -EINVAL;
	return kind;
}

static void take_ice_servers(struct iw_probe_ep *ep, json_t *servers)
{
	size_t i, j;
	json_t *s, *u;

	ep->n_turn = 0;
	ep->stun_host[0] = '\0';
	json_array_foreach(servers, i, s)
	{
		json_t *urls = json_object_get(s, "urls");
		const char *user = json_string_value(json_object_get(s, "username"));
		const char *cred = json_string_value(json_object_get(s, "credential"));
		json_t *list = json_is_string(urls) ? json_pack("[O]", urls) : json_incref(urls);
		json_array_foreach(list, j, u)
		{
			char host[64];
			uint16_t port;
			const char *url = json_string_value(u);
			int k = url ? parse_ice_url(url, host, sizeof host, &port) : 0;
			if (k == 1 && ep->n_turn < IW_PROBE_MAX_TURN && user && cred) {
				struct iw_probe_turn *t = &ep->turn[ep->n_turn++];
				snprintf(t->host, sizeof t->host, "%s", host);
				t->port = port;
				snprintf(t->user, sizeof t->user, "%s", user);
				snprintf(t->pass, sizeof t->pass, "%s", cred);
			} else if (k == 2 && !ep->stun_host[0]) {
				snprintf(ep->stun_host, sizeof ep->stun_host, "%s", host);
				ep->stun_port = port;
			}
		}
		json_decref(list);
	}
}

/* --- SDP ----------------------------------------------------------------------------- */

static char *make_sdp(struct iw_probe_ep *ep, const char *ufrag, const char *pwd)
{
	char fp[IW_PROBE_FP_STRLEN];
	snprintf(fp, sizeof fp, "%s", ep->run->cert.fp_str);
	if (ep->run->o->tamper_fp && ep->side == 0)
		fp[strlen(fp) - 1] = fp[strlen(fp) - 1] == '0' ? '1' : '0';
	return g_strdup_printf("v=0\r\n"
			       "o=- %u 2 IN IP4 127.0.0.1\r\n"
			       "s=iceway-probe\r\n"
			       "t=0 0\r\n"
			       "a=group:BUNDLE 0\r\n"
			       "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n"
			       "c=IN IP4 0.0.0.0\r\n"
			       "a=mid:0\r\n"
			       "a=ice-ufrag:%s\r\n"
			       "a=ice-pwd:%s\r\n"
			       "a=ice-options:trickle\r\n"
			       "a=fingerprint:sha-256 %s\r\n"
			       "a=setup:%s\r\n"
			       "a=sendrecv\r\n"
			       "a=rtcp-mux\r\n"
			       "a=rtpmap:%d opus/48000/2\r\n",
			       ep->call + 1, IW_PROBE_PT, ufrag, pwd, fp, ep->offerer ? "actpass" : "active",
			       IW_PROBE_PT);
}

/* Copy the value of the first "a=NAME:" line into out. */
static bool sdp_attr(const char *sdp, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *l = sdp; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "a=", 2) || strncmp(l + 2, name, nl) || l[2 + nl] != ':')
			continue;
		const char *v = l + 3 + nl;
		size_t n = strcspn(v, "\r\n");
		if (n == 0 || n >= cap)
			return false;
		memcpy(out, v, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* Take the remote description; sets *dtls_client. */
static int take_sdp(struct iw_probe_ep *ep, const char *sdp, bool *dtls_client)
{
	char ufrag[257], pwd[257], fp[128], setup[16];

	if (!sdp || !sdp_attr(sdp, "ice-ufrag", ufrag, sizeof ufrag) ||
	    !sdp_attr(sdp, "ice-pwd", pwd, sizeof pwd)) {
		fail(ep, "signaling: the peer's SDP has no a=ice-ufrag/a=ice-pwd");
		return -EBADMSG;
	}
	/* RFC 8839 §5.4: ufrag 4-256 and pwd 22-256 characters. */
	if (strlen(ufrag) < 4 || strlen(pwd) < 22) {
		fail(ep, "signaling: the peer's ICE credentials are too short (RFC 8839 §5.4)");
		return -EBADMSG;
	}
	if (!sdp_attr(sdp, "fingerprint", fp, sizeof fp) || strncasecmp(fp, "sha-256 ", 8) ||
	    iw_probe_fp_parse(ep->remote_fp, fp + 8)) {
		fail(ep, "signaling: the peer's SDP has no a=fingerprint:sha-256");
		return -EBADMSG;
	}
	if (!sdp_attr(sdp, "setup", setup, sizeof setup))
		snprintf(setup, sizeof setup, "actpass");
	/* RFC 5763 §5: the answerer picks active when offered actpass. */
	if (!strcmp(setup, "passive"))
		*dtls_client = true;
	else if (!strcmp(setup, "active"))
		*dtls_client = false;
	else
		*dtls_client = !ep->offerer;
	if (!nice_agent_set_remote_credentials(ep->agent, ep->stream, ufrag, pwd)) {
		fail(ep, "ICE: libnice refused the peer's credentials");
		return -EINVAL;
	}
	ep->have_remote = true;
	return 0;
}

/* --- ICE ----------------------------------------------------------------------------- */

static int dtls_send(void *arg, const uint8_t *p, size_t len)
{
	struct iw_probe_ep *ep = arg;
	return nice_agent_send(ep->agent, ep->stream, 1, (guint)len, (const gchar *)p);
}

static void dtls_drive(struct iw_probe_ep *ep);

static void on_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf, gpointer data)
{
	struct iw_probe_ep *ep = data;
	uint8_t b = len ? (uint8_t)buf[0] : 0;
	(void)agent, (void)stream, (void)comp;

	if (ep->finished && !ep->dtls_on)
		return;
	/* RFC 7983 §7 demultiplexing by the first byte. */
	if (b >= 20 && b <= 63) {
		if (!ep->dtls_on)
			return;
		iw_probe_dtls_feed(&ep->dtls, (const uint8_t *)buf, len);
		dtls_drive(ep);
	} else if (b >= 128 && b <= 191 && !ep->media_on) {
		if (!ep->dtls_on || ep->finished || len > IW_PROBE_DGRAM_MAX ||
		    ep->n_early == IW_PROBE_EARLY_SRTP) {
			ep->early_dropped++;
			return;
		}
		ep->early[ep->n_early] = g_memdup2(buf, len);
		ep->early_len[ep->n_early++] = (uint16_t)len;
	} else if (b >= 128 && b <= 191) {
		uint8_t pkt[IW_PROBE_DGRAM_MAX];
		if (len > sizeof pkt) {
			ep->media.st.other_fail++;
			return;
		}
		memcpy(pkt, buf, len);
		iw_probe_media_receive(&ep->media, pkt, len, now_us());
	}
}

static void on_candidate(NiceAgent *agent, NiceCandidate *c, gpointer data)
{
	struct iw_probe_ep *ep = data;

	ep->n_local[cand_index(c->type)]++;
	/* Relay policy: offer only relayed candidates, as a browser does. */
	if (ep->run->o->relay_only && c->type != NICE_CANDIDATE_TYPE_RELAYED)
		return;
	gchar *sdp = nice_agent_generate_local_candidate_sdp(agent, c);
	if (!sdp)
		return;
	const char *line = strncmp(sdp, "a=", 2) ? sdp : sdp + 2;
	iw_probe_sig_send(ep->sig,
			  json_pack("{s:s, s:s, s:{s:s, s:s, s:i}}", "type", "candidate", "to", ep->peer_id,
				    "candidate", "candidate", line, "sdpMid", "0", "sdpMLineIndex", 0));
	g_free(sdp);
}

static void on_gather_done(NiceAgent *agent, guint stream, gpointer data)
{
	struct iw_probe_ep *ep = data;
	char sum[128], diag[320];
	(void)agent, (void)stream;

	if (ep->gather_done)
		return;
	ep->gather_done = true;
	cand_summary(sum, sizeof sum, ep->n_local);
	if (ep->run->o->relay_only && !ep->n_local[3]) {
		/* libnice does not say why a TURN allocation failed: ask the server directly. */
		const struct iw_probe_turn *t = &ep->turn[0];
		if (!iw_probe_turn_check(t->host, t->port, t->user, t->pass, diag, sizeof diag))
			snprintf(diag, sizeof diag, "TURN server %s:%u gave no relay candidate", t->host,
				 t->port);
		fail(ep, "no relay candidate: %s (gathered %s)", diag, sum);
		return;
	}
	if (!ep->n_local[0] && !ep->n_local[1] && !ep->n_local[3]) {
		fail(ep, "no candidates gathered (%s)", sum);
		return;
	}
	if (ep->stage == IW_PROBE_ST_GATHER)
		ep->stage = IW_PROBE_ST_ICE;
	ep->sent_eoc = true;
	iw_probe_sig_send(ep->sig, json_pack("{s:s, s:s}", "type", "end-of-candidates", "to", ep->peer_id));
}

static void on_state(NiceAgent *agent, guint stream, guint comp, guint state, gpointer data)
{
	struct iw_probe_ep *ep = data;
	char l[128], r[128];
	(void)comp;

	if (ep->finished)
		return;
	if (state == NICE_COMPONENT_STATE_FAILED) {
		cand_summary(l, sizeof l, ep->n_local);
		cand_summary(r, sizeof r, ep->n_remote);
		fail(ep, "ICE failed: no candidate pair worked (local candidates: %s; remote: %s)", l, r);
		return;
	}
	if ((state != NICE_COMPONENT_STATE_CONNECTED && state != NICE_COMPONENT_STATE_READY) || ep->t_ice_ms)
		return;
	ep->t_ice_ms = iw_clock_ms() - ep->t0_ms;
	if (!ep->t_ice_ms)
		ep->t_ice_ms = 1;
	NiceCandidate *lc = NULL, *rc = NULL;
	if (nice_agent_get_selected_pair(agent, stream, 1, &lc, &rc) && lc && rc) {
		snprintf(ep->local_type, sizeof ep->local_type, "%s", cand_names[cand_index(lc->type)]);
		snprintf(ep->remote_type, sizeof ep->remote_type, "%s", cand_names[cand_index(rc->type)]);
	}
	if (ep->stage < IW_PROBE_ST_DTLS)
		ep->stage = IW_PROBE_ST_DTLS;
	/* The client speaks first; the server's step only matters once data arrives. */
	dtls_drive(ep);
}

static void add_remote_cand(struct iw_probe_ep *ep, const char *line)
{
	gchar *sdp = g_strdup_printf("a=%s", line);
	NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(ep->agent, ep->stream, sdp);
	g_free(sdp);
	if (!c)
		return; /* a candidate libnice cannot use (TCP, mDNS) is skipped, not fatal */
	ep->n_remote[cand_index(c->type)]++;
	GSList *l = g_slist_append(NULL, c);
	nice_agent_set_remote_candidates(ep->agent, ep->stream, 1, l);
	g_slist_free(l);
	nice_candidate_free(c);
}

static void flush_pending(struct iw_probe_ep *ep)
{
	for (unsigned i = 0; i < ep->n_pending; i++) {
		add_remote_cand(ep, ep->pending[i]);
		g_free(ep->pending[i]);
		ep->pending[i] = NULL;
	}
	ep->n_pending = 0;
}

static void ice_start(struct iw_probe_ep *ep)
{
	const struct iw_probe_opts *o = ep->run->o;
	gchar *ufrag = NULL, *pwd = NULL;

	if (o->relay_only && !ep->n_turn) {
		fail(ep, "relay policy, but no usable TURN server (turn: URL with UDP transport, "
			 "username and credential) in iceServers");
		return;
	}
	ep->agent = nice_agent_new(g_main_loop_get_context(ep->run->loop), NICE_COMPATIBILITY_RFC5245);
	g_object_set(ep->agent, "controlling-mode", ep->offerer, "ice-trickle", TRUE, "force-relay",
		     o->relay_only, NULL);
	if (ep->stun_host[0])
		g_object_set(ep->agent, "stun-server", ep->stun_host, "stun-server-port",
			     (guint)ep->stun_port, NULL);
	g_signal_connect(ep->agent, "new-candidate-full", G_CALLBACK(on_candidate), ep);
	g_signal_connect(ep->agent, "candidate-gathering-done", G_CALLBACK(on_gather_done), ep);
	g_signal_connect(ep->agent, "component-state-changed", G_CALLBACK(on_state), ep);

	/* libnice skips loopback interfaces unless told to use one. */
	const char *lip = o->local_ip;
	if (!lip && ep->n_turn && !strncmp(ep->turn[0].host, "127.", 4))
		lip = "127.0.0.1";
	if (lip) {
		NiceAddress a;
		nice_address_init(&a);
		if (!nice_address_set_from_string(&a, lip) || !nice_agent_add_local_address(ep->agent, &a)) {
			fail(ep, "ICE: cannot use local address %s", lip);
			return;
		}
	}
	ep->stream = nice_agent_add_stream(ep->agent, 1);
	for (unsigned i = 0; i < ep->n_turn; i++)
		nice_agent_set_relay_info(ep->agent, ep->stream, 1, ep->turn[i].host, ep->turn[i].port,
					  ep->turn[i].user, ep->turn[i].pass, NICE_RELAY_TYPE_TURN_UDP);
	nice_agent_attach_recv(ep->agent, ep->stream, 1, g_main_loop_get_context(ep->run->loop), on_recv, ep);
	if (!ep->stream || !nice_agent_get_local_credentials(ep->agent, ep->stream, &ufrag, &pwd)) {
		fail(ep, "ICE: libnice could not create the stream");
		goto out;
	}
	char *sdp = make_sdp(ep, ufrag, pwd);
	iw_probe_sig_send(ep->sig, json_pack("{s:s, s:s, s:s}", "type", ep->offerer ? "offer" : "answer",
					     "to", ep->peer_id, "sdp", sdp));
	g_free(sdp);
	ep->stage = IW_PROBE_ST_GATHER;
	ep->t0_ms = iw_clock_ms();
	if (!nice_agent_gather_candidates(ep->agent, ep->stream))
		fail(ep, "ICE: candidate gathering could not start (no usable local interface)");
out:
	g_free(ufrag);
	g_free(pwd);
}

/* --- DTLS and media --------------------------------------------------------------------- */

static void media_start(struct iw_probe_ep *ep)
{
	uint8_t local[IW_PROBE_SRTP_MASTER_LEN], remote[IW_PROBE_SRTP_MASTER_LEN];
	const char *why = NULL;
	struct iw_probe_run *run = ep->run;

	if (iw_probe_dtls_srtp_keys(&ep->dtls, local, remote, &why) ||
	    iw_probe_media_init(&ep->media, local, remote, run->o->payload, ep->total, run->o->rate, &why)) {
		fail(ep, "SRTP: %s", why);
		return;
	}
	memset(local, 0, sizeof local);
	memset(remote, 0, sizeof remote);
	ep->media_on = true;
	ep->stage = IW_PROBE_ST_MEDIA;
	ep->media_start_us = now_us();
	if (!run->media_t0_us)
		run->media_t0_us = ep->media_start_us;
	for (unsigned i = 0; i < ep->n_early; i++) {
		iw_probe_media_receive(&ep->media, ep->early[i], ep->early_len[i], ep->media_start_us);
		g_free(ep->early[i]);
		ep->early[i] = NULL;
	}
	ep->n_early = 0;
}

static void dtls_drive(struct iw_probe_ep *ep)
{
	const char *why = NULL;

	if (!ep->dtls_on || (ep->finished && !ep->dtls.done))
		return;
	/* The DTLS client waits for ICE before its first flight. */
	if (!ep->dtls.done && ep->dtls.is_client && !ep->t_ice_ms)
		return;
	int ret = iw_probe_dtls_step(&ep->dtls, &why);
	if (ret < 0) {
		fail(ep, "%s", why);
		return;
	}
	if (ret == 1 && !ep->t_dtls_ms) {
		ep->t_dtls_ms = iw_clock_ms() - ep->t0_ms;
		media_start(ep);
	}
}

static void media_tick(struct iw_probe_ep *ep, uint64_t now)
{
	const struct iw_probe_opts *o = ep->run->o;
	struct iw_probe_media_stats *st = &ep->media.st;
	uint8_t pkt[IW_PROBE_RTP_HDR + IW_PROBE_PAYLOAD_MAX + IW_PROBE_SRTP_TRAILER];

	uint64_t due = (now - ep->media_start_us) * o->rate / 1000000u + 1;
	if (due > ep->total)
		due = ep->total;
	for (unsigned n = 0; st->sent < due && n < BURST_MAX; n++) {
		int len = iw_probe_media_next(&ep->media, pkt, sizeof pkt, now);
		if (len < 0) {
			fail(ep, "SRTP: srtp_protect failed");
			return;
		}
		nice_agent_send(ep->agent, ep->stream, 1, (guint)len, (const gchar *)pkt);
	}
	if (st->sent >= ep->total && !ep->send_done_us)
		ep->send_done_us = now;
	if (!ep->send_done_us)
		return;
	uint64_t quiet = st->last_rx_us > ep->send_done_us ? st->last_rx_us : ep->send_done_us;
	if ((st->peer_total && st->received >= st->peer_total) || now - quiet > (uint64_t)DRAIN_MS * 1000)
		finish(ep);
}

/* --- signaling ------------------------------------------------------------------------ */

static void on_open(void *arg)
{
	struct iw_probe_ep *ep = arg;
	if (ep->finished)
		return;
	ep->stage = IW_PROBE_ST_JOIN;
	iw_probe_sig_send(ep->sig, json_pack("{s:s, s:s}", "type", "join", "room",
					     ep->run->o->pair ? ep->my_id : ep->run->o->room));
}

static void on_sig_error(void *arg, const char *why)
{
	struct iw_probe_ep *ep = arg;
	if (ep->stage >= IW_PROBE_ST_MEDIA)
		return; /* media no longer needs signaling */
	fail(ep, "%s", why);
}

static void on_msg(void *arg, json_t *m)
{
	struct iw_probe_ep *ep = arg;
	struct iw_probe_run *run = ep->run;
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *from = json_string_value(json_object_get(m, "from"));
	bool dtls_client = false;

	if (!type || ep->finished)
		return;
	if (!strcmp(type, "welcome")) {
		const char *id = json_string_value(json_object_get(m, "peer"));
		snprintf(ep->my_id, sizeof ep->my_id, "%s", id ? id : "");
		take_ice_servers(ep, run->cli_ice_servers ? run->cli_ice_servers
							  : json_object_get(m, "iceServers"));
		json_t *peers = json_object_get(m, "peers");
		const char *first = json_string_value(json_array_get(peers, 0));
		ep->stage = IW_PROBE_ST_PEER;
		if (first) {
			/* The later arrival calls the one already waiting. */
			snprintf(ep->peer_id, sizeof ep->peer_id, "%s", first);
			ep->offerer = true;
			ice_start(ep);
		}
	} else if (!strcmp(type, "offer") && !ep->agent && from) {
		snprintf(ep->peer_id, sizeof ep->peer_id, "%s", from);
		ep->offerer = false;
		ice_start(ep);
		if (ep->finished || take_sdp(ep, json_string_value(json_object_get(m, "sdp")), &dtls_client))
			return;
		goto remote_ready;
	} else if (!strcmp(type, "answer") && ep->agent && !ep->have_remote && from &&
		   !strcmp(from, ep->peer_id)) {
		if (take_sdp(ep, json_string_value(json_object_get(m, "sdp")), &dtls_client))
			return;
		goto remote_ready;
	} else if (!strcmp(type, "candidate")) {
		const char *c =
			json_string_value(json_object_get(json_object_get(m, "candidate"), "candidate"));
		if (!c)
			return;
		if (ep->have_remote && ep->agent && (!from || !strcmp(from, ep->peer_id)))
			add_remote_cand(ep, c);
		else if (ep->n_pending < IW_PROBE_PENDING_CANDS)
			ep->pending[ep->n_pending++] = g_strdup(c);
		else
			ep->pending_dropped++;
	} else if (!strcmp(type, "end-of-candidates")) {
		if (ep->agent && ep->have_remote)
			nice_agent_peer_candidate_gathering_done(ep->agent, ep->stream);
	} else if (!strcmp(type, "bye") || !strcmp(type, "peer-left")) {
		const char *who = !strcmp(type, "bye") ? from : json_string_value(json_object_get(m, "peer"));
		if (who && !strcmp(who, ep->peer_id) && ep->stage < IW_PROBE_ST_MEDIA)
			fail(ep, "the peer left the call before media started");
	} else if (!strcmp(type, "error") && ep->stage < IW_PROBE_ST_MEDIA) {
		/* Once media flows, signaling is no longer needed (a "bye" to a peer that
		 * already left is refused, for instance). */
		json_t *code = json_object_get(m, "code");
		const char *msg = json_string_value(json_object_get(m, "message"));
		char cbuf[32];
		if (json_is_integer(code))
			snprintf(cbuf, sizeof cbuf, "%lld", (long long)json_integer_value(code));
		else
			snprintf(cbuf, sizeof cbuf, "%s",
				 json_string_value(code) ? json_string_value(code) : "?");
		fail(ep, "signaling refused: %s: %s", cbuf, msg ? msg : "(no message)");
	}
	return;

remote_ready:
	if (ep->finished)
		return;
	flush_pending(ep);
	const char *why = NULL;
	if (iw_probe_dtls_init(&ep->dtls, &run->cert, dtls_client, ep->remote_fp, dtls_send, ep, &why)) {
		iw_probe_dtls_fini(&ep->dtls);
		fail(ep, "%s", why);
		return;
	}
	ep->dtls_on = true;
}

static const struct iw_probe_sig_cbs sig_cbs = { on_open, on_msg, on_sig_error };

/* --- run ------------------------------------------------------------------------------- */

static const char *const stage_wait[] = {
	[IW_PROBE_ST_SIGNAL] = "signaling unreachable: no WebSocket connection",
	[IW_PROBE_ST_JOIN] = "signaling: joined but no welcome",
	[IW_PROBE_ST_PEER] = "no peer joined the room",
	[IW_PROBE_ST_GATHER] = "candidate gathering did not finish",
	[IW_PROBE_ST_ICE] = "ICE did not connect",
	[IW_PROBE_ST_DTLS] = "DTLS handshake did not finish",
	[IW_PROBE_ST_MEDIA] = "media did not finish",
};

static void timeout_ep(struct iw_probe_ep *ep)
{
	char l[128], r[128];
	unsigned s = ep->run->o->timeout_s;

	cand_summary(l, sizeof l, ep->n_local);
	cand_summary(r, sizeof r, ep->n_remote);
	if (ep->stage == IW_PROBE_ST_ICE || ep->stage == IW_PROBE_ST_GATHER)
		fail(ep, "%s within %u s (local candidates: %s; remote: %s)", stage_wait[ep->stage], s, l, r);
	else
		fail(ep, "%s within %u s", stage_wait[ep->stage], s);
}

static uint64_t proc_cpu_ticks(int pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15 (utime, stime) follow the ")" that closes the command name. */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

static void sample_cpu(struct iw_probe_run *run, uint64_t now)
{
	unsigned sending = 0, settled = 0;
	bool any_done = false;

	for (unsigned i = 0; i < run->n_eps; i++) {
		const struct iw_probe_ep *ep = &run->eps[i];
		if (ep->media_on && !ep->finished)
			sending++;
		if (ep->media_on || ep->finished)
			settled++;
		if (ep->send_done_us)
			any_done = true;
	}
	if (!run->cpu_started && settled == run->n_eps && sending && !any_done) {
		run->cpu_started = true;
		run->cpu_t0_us = now;
		run->cpu_senders = sending;
		run->cpu_ticks0 = proc_cpu_ticks(run->o->relay_pid);
	} else if (run->cpu_started && any_done) {
		run->cpu_done = true;
		run->cpu_t1_us = now;
		run->cpu_ticks1 = proc_cpu_ticks(run->o->relay_pid);
	}
}

/* Start the calls whose turn has come: --ramp spreads the handshakes of a big run. */
static int start_calls(struct iw_probe_run *run, const char **why)
{
	const struct iw_probe_opts *o = run->o;
	uint64_t now = iw_clock_ms();
	unsigned per = o->pair ? 2 : 1;

	while (run->n_started < o->calls && now - run->t_start_ms >= (uint64_t)run->n_started * o->ramp_ms) {
		struct iw_probe_ep *ep = &run->eps[run->n_started * per];
		run->n_started++;
		for (unsigned k = 0; k < per; k++)
			ep[k].t_created_ms = now;
		if (!strcmp(o->signal_url, "internal")) {
			iw_probe_sig_internal_pair(&ep[0].sig, &ep[1].sig, run->cli_ice_servers, &sig_cbs,
						   &ep[0], &ep[1]);
			continue;
		}
		for (unsigned k = 0; k < per; k++) {
			ep[k].sig = iw_probe_sig_ws_create(o->signal_url, o->insecure, o->ca_file, &sig_cbs,
							   &ep[k], why);
			if (!ep[k].sig)
				return -EINVAL;
		}
	}
	return 0;
}

static gboolean on_tick(gpointer data)
{
	struct iw_probe_run *run = data;
	uint64_t now = now_us(), now_ms = iw_clock_ms();
	uint64_t limit = (uint64_t)run->o->timeout_s * 1000;

	if (run->o->relay_pid > 0 && !run->cpu_done)
		sample_cpu(run, now);
	if (run->n_started < run->o->calls) {
		const char *why = NULL;
		if (start_calls(run, &why))
			fprintf(stderr, "iceway-probe: %s\n", why);
	}
	for (unsigned i = 0; i < run->n_eps; i++) {
		struct iw_probe_ep *ep = &run->eps[i];
		if (ep->finished || !ep->t_created_ms)
			continue;
		if (ep->media_on) {
			media_tick(ep, now);
			continue;
		}
		if (ep->dtls_on)
			dtls_drive(ep);
		uint64_t since = ep->t0_ms ? ep->t0_ms : ep->t_created_ms;
		/* since may be later than now_ms: calls started in this tick. */
		if (!ep->finished && now_ms > since && now_ms - since > limit)
			timeout_ep(ep);
	}
	return G_SOURCE_CONTINUE;
}

static json_t *cli_servers(const struct iw_probe_opts *o, const char **why)
{
	json_t *arr = json_array();
	if (o->turn_url) {
		char user[IW_CRED_MAX_USER], pass[256];
		if (o->turn_secret) {
			char p[IW_CRED_REST_PASS_LEN + 1];
			if (iw_cred_rest_make(user, sizeof user, p, o->turn_secret,
					      o->turn_user ? o->turn_user : "probe", time(NULL),
					      REST_TTL_S)) {
				*why = "cannot make a TURN REST credential";
				json_decref(arr);
				return NULL;
			}
			snprintf(pass, sizeof pass, "%s", p);
		} else {
			snprintf(user, sizeof user, "%s", o->turn_user ? o->turn_user : "");
			snprintf(pass, sizeof pass, "%s", o->turn_pass ? o->turn_pass : "");
		}
		json_array_append_new(arr, json_pack("{s:[s], s:s, s:s}", "urls", o->turn_url, "username",
						     user, "credential", pass));
	}
	if (o->stun_url)
		json_array_append_new(arr, json_pack("{s:[s]}", "urls", o->stun_url));
	return arr;
}

int iw_probe_run_exec(struct iw_probe_run *run, const struct iw_probe_opts *o, const char **why)
{
	int ret;

	memset(run, 0, sizeof *run);
	run->o = o;
	if ((ret = iw_probe_cert_init(&run->cert, why)) || (ret = iw_probe_srtp_global_init(why)))
		return ret;
	if (o->turn_url || o->stun_url) {
		run->cli_ice_servers = cli_servers(o, why);
		if (!run->cli_ice_servers)
			return -EINVAL;
	} else if (!strcmp(o->signal_url, "internal")) {
		*why = "--signal internal needs --turn (and/or --stun) for the iceServers";
		return -EINVAL;
	}
	run->loop = g_main_loop_new(NULL, FALSE);
	run->n_eps = o->calls * (o->pair ? 2 : 1);
	run->eps = calloc(run->n_eps, sizeof *run->eps);
	if (!run->eps) {
		*why = "out of memory";
		return -ENOMEM;
	}
	uint32_t total = o->packets ? o->packets : o->rate * o->duration_s;
	for (unsigned i = 0; i < run->n_eps; i++) {
		struct iw_probe_ep *ep = &run->eps[i];
		ep->run = run;
		ep->call = o->pair ? i / 2 : i;
		ep->side = o->pair ? i % 2 : 0;
		ep->total = total;
		/* In pair mode each call gets its own room, "ROOM-N". */
		if (o->pair)
			snprintf(ep->my_id, sizeof ep->my_id, "%s-%u", o->room, ep->call);
	}
	run->t_start_ms = iw_clock_ms();
	if (start_calls(run, why))
		return -EINVAL;
	run->tick_id = g_timeout_add(TICK_MS, on_tick, run);
	g_main_loop_run(run->loop);
	run->media_t1_us = now_us();
	return 0;
}

static void agent_closed(GObject *src, GAsyncResult *res, gpointer data)
{
	unsigned *left = data;
	(void)src, (void)res;
	(*left)--;
}

void iw_probe_run_fini(struct iw_probe_run *run)
{
	unsigned closing = 0;

	if (run->tick_id)
		g_source_remove(run->tick_id);
	/* Close the agents so TURN allocations are released (Refresh with lifetime 0). */
	for (unsigned i = 0; run->eps && i < run->n_eps; i++) {
		if (run->eps[i].agent) {
			closing++;
			nice_agent_close_async(run->eps[i].agent, agent_closed, &closing);
		}
	}
	uint64_t deadline = iw_clock_ms() + 5000;
	GMainContext *ctx = run->loop ? g_main_loop_get_context(run->loop) : NULL;
	while (ctx && closing && iw_clock_ms() < deadline) {
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(1000);
	}
	iw_probe_sig_shutdown();
	for (unsigned i = 0; run->eps && i < run->n_eps; i++) {
		struct iw_probe_ep *ep = &run->eps[i];
		if (ep->media_on)
			iw_probe_media_fini(&ep->media);
		if (ep->dtls_on)
			iw_probe_dtls_fini(&ep->dtls);
		for (unsigned j = 0; j < ep->n_pending; j++)
			g_free(ep->pending[j]);
		for (unsigned j = 0; j < ep->n_early; j++)
			g_free(ep->early[j]);
		if (ep->agent)
			g_object_unref(ep->agent);
	}
	free(run->eps);
	json_decref(run->cli_ice_servers);
	if (run->loop)
		g_main_loop_unref(run->loop);
	iw_probe_cert_fini(&run->cert);
	srtp_shutdown();
}
