/* Two libnice agents in one process that may only use TURN relay candidates: they gather
 * through the relay under test, exchange candidates in-process, connect, and send paced
 * numbered messages both ways. Exit 0 only if the selected pair is relay/relay on both sides
 * and every message arrived exactly once.
 *   iw_nice_pair SERVER_IP PORT USERNAME PASSWORD [MESSAGES] [TIMEOUT_S] */
#include <arpa/inet.h>
#include <glib.h>
#include <nice/agent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MSG_MAX = 10000, PACE_MS = 5 };

struct side {
	const char *name;
	NiceAgent *agent;
	guint stream;
	bool gathered, ready, closed, pair_ok;
	unsigned n_sent, n_recv, n_dup, n_bad;
	uint8_t seen[MSG_MAX];
};

static struct side sides[2];
static GMainLoop *loop;
static unsigned n_msgs = 200;
static bool timed_out;
static bool exchanged;
static int n_closed;

static const char *cand_type(NiceCandidateType t)
{
	switch (t) {
	case NICE_CANDIDATE_TYPE_HOST:
		return "host";
	case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
		return "srflx";
	case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
		return "prflx";
	case NICE_CANDIDATE_TYPE_RELAYED:
		return "relay";
	}
	return "?";
}

static bool all_received(void)
{
	return sides[0].n_recv >= n_msgs && sides[1].n_recv >= n_msgs;
}

static void on_closed(GObject *src, GAsyncResult *res, gpointer data)
{
	(void)src;
	(void)res;
	(void)data;
	if (++n_closed == 2)
		g_main_loop_quit(loop);
}

/* Stop: close both agents asynchronously so the TURN allocations are released (Refresh
 * with lifetime 0) before the loop ends. */
static void finish(void)
{
	static bool finishing;

	if (finishing)
		return;
	finishing = true;
	for (int i = 0; i < 2; i++)
		nice_agent_close_async(sides[i].agent, on_closed, NULL);
}

static gboolean on_timeout(gpointer data)
{
	(void)data;
	timed_out = true;
	fprintf(stderr, "timeout: gathered %d/%d ready %d/%d received %u/%u\n", sides[0].gathered,
		sides[1].gathered, sides[0].ready, sides[1].ready, sides[0].n_recv, sides[1].n_recv);
	finish();
	return G_SOURCE_REMOVE;
}

static gboolean on_grace(gpointer data)
{
	(void)data;
	finish();
	return G_SOURCE_REMOVE;
}

static void on_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf, gpointer data)
{
	struct side *s = data;
	char tmp[32];
	unsigned seq;

	(void)agent;
	(void)stream;
	(void)comp;
	if (len == 0 || len >= sizeof tmp) {
		s->n_bad++;
		return;
	}
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	if (sscanf(tmp, "msg %u", &seq) != 1 || seq >= n_msgs) {
		s->n_bad++;
		return;
	}
	if (s->seen[seq]) {
		s->n_dup++;
		return;
	}
	s->seen[seq] = 1;
	s->n_recv++;
	if (all_received())
		/* Let stray duplicates arrive before closing, so they are counted. */
		g_timeout_add(200, on_grace, NULL);
}

/* One message each way per tick: libnice loses unpaced bursts on loopback. */
static gboolean on_pace(gpointer data)
{
	char msg[32];

	(void)data;
	for (int i = 0; i < 2; i++) {
		struct side *s = &sides[i];
		if (s->n_sent >= n_msgs)
			continue;
		int len = snprintf(msg, sizeof msg, "msg %u", s->n_sent);
		if (nice_agent_send(s->agent, s->stream, 1, (guint)len, msg) == len)
			s->n_sent++;
	}
	return sides[0].n_sent < n_msgs || sides[1].n_sent < n_msgs ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void check_pair(struct side *s)
{
	NiceCandidate *local = NULL, *remote = NULL;
	char la[INET6_ADDRSTRLEN] = "?", ra[INET6_ADDRSTRLEN] = "?";

	if (!nice_agent_get_selected_pair(s->agent, s->stream, 1, &local, &remote)) {
		printf("%s: no selected pair\n", s->name);
		return;
	}
	nice_address_to_string(&local->addr, la);
	nice_address_to_string(&remote->addr, ra);
	printf("%s: selected pair %s %s:%u -> %s %s:%u\n", s->name, cand_type(local->type), la,
	       nice_address_get_port(&local->addr), cand_type(remote->type), ra,
	       nice_address_get_port(&remote->addr));
	s->pair_ok =
		local->type == NICE_CANDIDATE_TYPE_RELAYED && remote->type == NICE_CANDIDATE_TYPE_RELAYED;
}

static void on_state(NiceAgent *agent, guint stream, guint comp, guint state, gpointer data)
{
	struct side *s = data;

	(void)agent;
	(void)stream;
	(void)comp;
	printf("%s: state %s\n", s->name, nice_component_state_to_string(state));
	if (state == NICE_COMPONENT_STATE_FAILED) {
		finish();
		return;
	}
	if (state != NICE_COMPONENT_STATE_READY || s->ready)
		return;
	s->ready = true;
	check_pair(s);
	if (sides[0].ready && sides[1].ready)
		g_timeout_add(PACE_MS, on_pace, NULL);
}

/* Hand a's credentials and candidates to b, as signaling would. */
static bool give(struct side *a, struct side *b)
{
	gchar *ufrag = NULL, *pwd = NULL;
	GSList *cands;
	int n;
	bool ok = false;

	if (!nice_agent_get_local_credentials(a->agent, a->stream, &ufrag, &pwd))
		goto out;
	if (!nice_agent_set_remote_credentials(b->agent, b->stream, ufrag, pwd))
		goto out;
	cands = nice_agent_get_local_candidates(a->agent, a->stream, 1);
	for (GSList *i = cands; i; i = i->next) {
		NiceCandidate *c = i->data;
		char ip[INET6_ADDRSTRLEN];
		nice_address_to_string(&c->addr, ip);
		printf("%s: local candidate %s %s:%u\n", a->name, cand_type(c->type), ip,
		       nice_address_get_port(&c->addr));
	}
	n = nice_agent_set_remote_candidates(b->agent, b->stream, 1, cands);
	g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
	ok = n > 0;
	if (!ok)
		printf("%s: no candidate accepted by %s\n", a->name, b->name);
out:
	g_free(ufrag);
	g_free(pwd);
	return ok;
}

static void on_gathered(NiceAgent *agent, guint stream, gpointer data)
{
	struct side *s = data;

	(void)agent;
	(void)stream;
	s->gathered = true;
	if (!sides[0].gathered || !sides[1].gathered || exchanged)
		return;
	exchanged = true;
	if (!give(&sides[0], &sides[1]) || !give(&sides[1], &sides[0]))
		finish();
}

static int setup(struct side *s, const char *name, bool controlling, const char *server, guint port,
		 const char *user, const char *pass)
{
	NiceAddress local;

	s->name = name;
	s->agent = nice_agent_new(g_main_loop_get_context(loop), NICE_COMPATIBILITY_RFC5245);
	if (!s->agent)
		return -1;
	g_object_set(s->agent, "controlling-mode", controlling, "force-relay", TRUE, "upnp", FALSE, "ice-tcp",
		     FALSE, NULL);
	/* libnice skips loopback interfaces unless an address is given explicitly. */
	nice_address_init(&local);
	if (!nice_address_set_from_string(&local, "127.0.0.1") ||
	    !nice_agent_add_local_address(s->agent, &local))
		return -1;
	g_signal_connect(s->agent, "candidate-gathering-done", G_CALLBACK(on_gathered), s);
	g_signal_connect(s->agent, "component-state-changed", G_CALLBACK(on_state), s);
	s->stream = nice_agent_add_stream(s->agent, 1);
	if (s->stream == 0)
		return -1;
	if (!nice_agent_set_relay_info(s->agent, s->stream, 1, server, port, user, pass,
				       NICE_RELAY_TYPE_TURN_UDP))
		return -1;
	if (!nice_agent_attach_recv(s->agent, s->stream, 1, g_main_loop_get_context(loop), on_recv, s))
		return -1;
	if (!nice_agent_gather_candidates(s->agent, s->stream))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned timeout_s = 60;
	int rc = 1;

	if (argc < 5) {
		fprintf(stderr, "usage: %s SERVER_IP PORT USERNAME PASSWORD [MESSAGES] [TIMEOUT_S]\n",
			argv[0]);
		return 2;
	}
	if (argc > 5)
		n_msgs = (unsigned)strtoul(argv[5], NULL, 10);
	if (argc > 6)
		timeout_s = (unsigned)strtoul(argv[6], NULL, 10);
	if (n_msgs == 0 || n_msgs > MSG_MAX) {
		fprintf(stderr, "MESSAGES must be 1-%d\n", MSG_MAX);
		return 2;
	}
	loop = g_main_loop_new(NULL, FALSE);
	g_timeout_add_seconds(timeout_s, on_timeout, NULL);
	if (setup(&sides[0], "left", true, argv[1], (guint)atoi(argv[2]), argv[3], argv[4]) < 0 ||
	    setup(&sides[1], "right", false, argv[1], (guint)atoi(argv[2]), argv[3], argv[4]) < 0) {
		fprintf(stderr, "agent setup failed\n");
		goto out;
	}
	g_main_loop_run(loop);

	for (int i = 0; i < 2; i++)
		printf("%s: sent %u, received %u of %u (duplicates %u, malformed %u)\n", sides[i].name,
		       sides[i].n_sent, sides[i].n_recv, n_msgs, sides[i].n_dup, sides[i].n_bad);
	rc = (!timed_out && sides[0].pair_ok && sides[1].pair_ok && all_received() && sides[0].n_bad == 0 &&
	      sides[1].n_bad == 0)
		     ? 0
		     : 1;
	printf("nice_pair: %s (selected pair relay/relay: %s/%s)\n", rc == 0 ? "PASS" : "FAIL",
	       sides[0].pair_ok ? "yes" : "no", sides[1].pair_ok ? "yes" : "no");
out:
	for (int i = 0; i < 2; i++)
		if (sides[i].agent)
			g_object_unref(sides[i].agent);
	g_main_loop_unref(loop);
	return rc;
}
