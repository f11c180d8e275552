// End to end: two headless Chromium peers get their iceServers from iceway-signal, signal
// through it and move data and media through iceway-relay. Runs inside the network namespace
// that run.sh creates (Chromium gathers no candidates on a loopback-only host), so every
// address below is 127.0.0.1 in that namespace and the fixed ports collide with nothing.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { assert, createHarness, makePki as makeCa, metricValue, tcpOpen } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const RELAY = env.IW_RELAY;
const SIGNAL = env.IW_SIGNAL;
const SRC = env.IW_SRC || path.resolve(here, '../..');
const ART = env.IW_E2E_ARTIFACTS || path.join(here, 'artifacts');
const CHROMIUM = env.IW_CHROMIUM || '/usr/bin/chromium';
const WEB_ROOT = env.IW_E2E_WEB_ROOT || path.join(SRC, 'web');
const HOST = '127.0.0.1';
const TURN_PORT = 3478; // UDP, and TCP on the same port
const TLS_PORT = 5349;
const SIG_PORT = 8080;
const SIG_SHORT_PORT = 8081; // a second signaling instance with a short credential TTL
const RELAY_METRICS_PORT = 9641;
const SIG_METRICS_PORT = 9642; // iceway-signal serves /metrics only on a listener of its own
const SHORT_TTL = 10; // iceway-signal's smallest --credential-ttl
const BLOB = 4 * 1024 * 1024;
const STREAM_BLOB = 1024 * 1024; // over TURN-over-TCP and TURN-over-TLS
// Generous: a loaded CI machine with two cores shared by parallel tests.
const T = { start: 30000, connect: +(env.IW_E2E_CONNECT_MS || 45000), transfer: 120000, media: 60000, step: 30000 };

// coturn's names for the metrics endpoint, when the relay's --help lists them.
const relayMetrics = RELAY && env.IW_E2E_RELAY_METRICS !== '0' &&
	/--prometheus-port/.test(spawnSync(RELAY, ['--help'], { encoding: 'utf8' }).stdout || '');
const secret = crypto.randomBytes(18).toString('base64');
const consoles = { a: [], b: [] };
let browser = null;
let pki = null; // { dir, cert, key, spki }: the throwaway CA and the relay's TLS certificate
const demoPages = {};
const badResponses = []; // what the demo pages fetched and got a 4xx/5xx for
const { note, until, start, stop, alive, scenario: run1, runMain, stopAll, dumpLogs, finish, relayCall } =
	createHarness({ tag: 'e2e', art: ART, clean: /\.(log|png|json|txt)$/, step: T.step });
// A scenario that fails leaves what the demo pages show in the report.
const scenario = (name, fn) => run1(name, fn, (n) => pageStates(`after "${n}" failed`));

// A STUN Binding request (RFC 8489 §5) to the relay; true once a success response comes back.
function stunPing(port) {
	return new Promise((resolve) => {
		const s = dgram.createSocket('udp4');
		const req = Buffer.alloc(20);
		req.writeUInt16BE(0x0001, 0);
		req.writeUInt32BE(0x2112a442, 4);
		crypto.randomBytes(12).copy(req, 8);
		const t = setTimeout(() => {
			s.close();
			resolve(false);
		}, 500);
		s.on('message', (m) => {
			clearTimeout(t);
			s.close();
			resolve(m.length >= 20 && m.readUInt16BE(0) === 0x0101 && m.subarray(8, 20).equals(req.subarray(8, 20)));
		});
		s.on('error', () => {
			clearTimeout(t);
			s.close();
			resolve(false);
		});
		s.send(req, port, HOST);
	});
}

async function httpGet(port, p) {
	const r = await fetch(`http://${HOST}:${port}${p}`, { signal: AbortSignal.timeout(5000) });
	return { status: r.status, body: await r.text() };
}

// A throwaway CA and a server certificate it signs for the address the browser dials (an IP
// SAN: Chromium checks the TURN server name against it).
function makePki() {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iw-e2e-pki-'));
	const p = makeCa(dir, { cn: HOST, san: `IP:${HOST}`, caName: 'iceway e2e throwaway CA' });
	assert(p.x509.checkIP(HOST) === HOST, 'the server certificate names ' + HOST, p.x509.subjectAltName);
	return p;
}

// A REST credential (draft-uberti-behave-turn-rest-00) from the shared secret, as the
// signaling service would mint it.
function restCredential(tag, ttl = 3600) {
	const username = `${Math.floor(Date.now() / 1000) + ttl}:${tag}`;
	return { username, credential: crypto.createHmac('sha1', secret).update(username).digest('base64') };
}

function startRelay() {
	const args = ['-n', '--listening-ip', HOST, '--listening-port', String(TURN_PORT),
		'--min-port', '50000', '--max-port', '50999', '--realm', 'iceway.test',
		'--use-auth-secret', '--static-auth-secret', secret, '--allow-loopback-peers',
		'--allowed-peer-ip', '10.200.0.0-10.200.0.255', '--verbose'];
	if (relayMetrics)
		args.push('--prometheus', '--prometheus-port', String(RELAY_METRICS_PORT));
	if (pki)
		args.push('--cert', pki.cert, '--pkey', pki.key, '--tls-listening-port', String(TLS_PORT));
	return start('relay', RELAY, args);
}

function startSignal(name, port, ttl) {
	const args = ['--listen', `${HOST}:${port}`, '--static-auth-secret', secret,
		'--stun-uri', `stun:${HOST}:${TURN_PORT}`,
		'--turn-uri', `turn:${HOST}:${TURN_PORT}?transport=udp`, '--web-root', WEB_ROOT,
		'--log-level', 'debug'];
	if (ttl)
		args.push('--credential-ttl', String(ttl));
	else
		args.push('--prometheus', '--prometheus-port', String(SIG_METRICS_PORT));
	return start(name, SIGNAL, args);
}

const waitSignal = (port) => until(`iceway-signal on ${port}`, async () => (await httpGet(port, '/healthz')).status === 200, T.start, 200);

async function openPage(ctx, tag, port = SIG_PORT, query = '') {
	const page = await ctx.newPage();
	page.on('console', (m) => consoles[tag].push(`${new Date().toISOString()} ${m.type()}: ${m.text()}`));
	page.on('pageerror', (e) => consoles[tag].push(`${new Date().toISOString()} pageerror: ${e}`));
	page.on('response', (r) => r.status() >= 400 && badResponses.push(`${tag}: ${r.status()} ${r.url()}`));
	await gotoDemo(page, port, query);
	return page;
}

async function gotoDemo(page, port = SIG_PORT, query = '') {
	const r = await page.goto(`http://${HOST}:${port}/${query}`);
	assert(r && r.ok(), `demo page from iceway-signal answered ${r && r.status()}`);
	await page.waitForFunction(() => window.iwE2E !== undefined);
}

// Both pages open the demo page on a fresh room and press Join, as a person would; the
// demo page (iceway.js) then places the call by itself. The scenario drives that call.
async function demoCall(a, b, room, { camera = false } = {}) {
	for (const p of [a, b]) {
		await gotoDemo(p, SIG_PORT, `?room=${room}&relay=1`);
		if (camera)
			await p.check('#camera');
		await ev(p, () => window.iwE2E.useDemo());
	}
	await a.click('#join');
	await until('a welcomed', async () => (await a.textContent('#me')) !== '-');
	await b.click('#join');
	await until('demo call connected on both pages', async () =>
		(await a.textContent('#call-state')) === 'connected' && (await b.textContent('#call-state')) === 'connected', T.connect);
	const ids = { a: await a.textContent('#me'), b: await b.textContent('#me') };
	assert(ids.a !== ids.b, 'distinct peer ids', ids);
	// One offer, from the newcomer: had both pages offered, a rollback would have settled it,
	// after which Chromium at times gathered nothing for its answer (a call that never connects).
	const logs = { a: await a.textContent('#log'), b: await b.textContent('#log') };
	assert(/offer sent/.test(logs.b) && !/offer received/.test(logs.b), 'the newcomer b made the offer', logs);
	assert(/offer received\nanswer sent/.test(logs.a) && !/offer sent/.test(logs.a), 'a answered it and offered nothing', logs);
	return ids;
}

const wsUrl = (port = SIG_PORT) => `ws://${HOST}:${port}/ws`;

// Two fresh pages call each other with one TURN URL only (relay policy) and move STREAM_BLOB
// on the harness's data channel. The relay candidate must have been allocated over proto.
async function streamCall(ctxA, ctxB, turnUrl, proto) {
	const pa = await openPage(ctxA, 'a');
	const pb = await openPage(ctxB, 'b');
	try {
		const room = proto + '-' + crypto.randomBytes(4).toString('hex');
		const ice = [{ urls: turnUrl, ...restCredential('e2e-' + proto) }];
		await ev(pa, ([u, r]) => window.iwE2E.join(u, r), [wsUrl(), room]);
		const wb = await ev(pb, ([u, r]) => window.iwE2E.join(u, r), [wsUrl(), room]);
		for (const p of [pa, pb])
			await ev(p, (x) => window.iwE2E.setIceServers(x), ice);
		await relayCall(pa, pb, wb.peer, { via: `over ${turnUrl}`, proto, bytes: STREAM_BLOB, connect: T.connect, transfer: T.transfer });
	} finally {
		await pa.close();
		await pb.close();
	}
}
const ev = (page, fn, arg) => page.evaluate(fn, arg);

// What the demo pages show, into their console records: taken when a scenario fails, while
// the pages are still open (later scenarios navigate them away).
async function pageStates(when) {
	for (const [tag, p] of Object.entries(demoPages)) {
		try {
			const t = await p.evaluate(() => ['sig-state', 'me', 'call-state', 'cand', 'log']
				.map((id) => `${id}: ${document.getElementById(id)?.textContent}`).join('\n'), null);
			consoles[tag].push(`demo page state ${when}:\n${t}`);
			await p.screenshot({ path: path.join(ART, `failure-${tag}.png`), fullPage: true });
		} catch (e) {
			consoles[tag].push(`demo page state ${when} unavailable: ${e}`);
		}
	}
}

function dumpFailure() {
	for (const tag of Object.keys(consoles)) {
		console.log(`----- console of page ${tag} -----`);
		console.log(consoles[tag].slice(-300).join('\n'));
	}
	dumpLogs(200);
}

// Without a metrics endpoint, the relay's totals are the counter lines it logs when it stops.
function relayCountersFromLog() {
	const text = fs.readFileSync(path.join(ART, 'relay.log'), 'utf8');
	const c = {};
	for (const m of text.matchAll(/counter ((?:\w+ \d+ ?)+)$/gm)) {
		const kv = m[1].trim().split(/\s+/);
		for (let i = 0; i + 1 < kv.length; i += 2)
			c[kv[i]] = Number(kv[i + 1]);
	}
	return c;
}

async function main() {
	assert(RELAY && SIGNAL, 'IW_RELAY and IW_SIGNAL must name the binaries');
	pki = makePki();
	note('relay certificate SPKI sha256', pki.spki);
	startRelay();
	startSignal('signal', SIG_PORT);
	startSignal('signal-short-ttl', SIG_SHORT_PORT, SHORT_TTL);
	await until('iceway-relay to answer a Binding request', () => stunPing(TURN_PORT), T.start, 200);
	// A bare connect and close: the relay counts the TLS one as a failed handshake (tls_fail).
	await until('iceway-relay listening on TCP and TLS', async () =>
		(await tcpOpen(HOST, TURN_PORT)) && (await tcpOpen(HOST, TLS_PORT)), T.start, 200);
	await waitSignal(SIG_PORT);
	await waitSignal(SIG_SHORT_PORT);
	const sigBefore = await httpGet(SIG_METRICS_PORT, '/metrics');

	browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync',
			'--disable-features=WebRtcHideLocalIpsWithMdns', '--use-fake-device-for-media-stream',
			'--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
			// Trusts the relay's key alone (Chromium honours this with the profile dir playwright passes).
			`--ignore-certificate-errors-spki-list=${pki.spki}`],
	});
	note('chromium', browser.version());
	const ctxA = await browser.newContext({ viewport: { width: 1000, height: 800 } });
	const ctxB = await browser.newContext({ viewport: { width: 1000, height: 800 } });
	for (const c of [ctxA, ctxB])
		await c.addInitScript({ path: path.join(here, 'peer.js') });
	const a = await openPage(ctxA, 'a');
	const b = await openPage(ctxB, 'b');
	Object.assign(demoPages, { a, b });

	await scenario('relay-only data channel, 4 MB intact', async () => {
		await demoCall(a, b, 'relay-' + crypto.randomBytes(4).toString('hex'));
		await until('the demo\'s chat channel open on both', async () =>
			(await ev(a, () => window.iwE2E.channelOpen('chat'))) && (await ev(b, () => window.iwE2E.channelOpen('chat'))));
		for (const [tag, p] of [['a', a], ['b', b]]) {
			const pi = await until(`selected pair on ${tag}`, () => ev(p, () => window.iwE2E.pairInfo()));
			assert(pi.local === 'relay' && pi.remote === 'relay', `selected pair on ${tag} is relay/relay`, pi);
			assert(pi.relayProtocol === 'udp', `relay candidate on ${tag} allocated over UDP`, pi);
			// The demo page shows the same thing to a person.
			await until(`demo page on ${tag} shows relay/relay`, async () => (await p.textContent('#cand')) === 'local relay, remote relay');
		}
		// A second channel: iceway.js renegotiates it through iceway-signal by itself.
		await ev(a, () => window.iwE2E.openChannel('bulk'));
		await until('bulk channel open on both sides', async () =>
			(await ev(a, () => window.iwE2E.channelOpen('bulk'))) && (await ev(b, () => window.iwE2E.channelOpen('bulk'))), T.connect);
		const sent = await ev(a, (n) => window.iwE2E.sendBlob('bulk', n), BLOB);
		const got = await until('4 MB at b', async () => {
			const r = await ev(b, () => window.iwE2E.received('bulk'));
			return r && r.hash ? r : null;
		}, T.transfer, 200);
		assert(got.bytes === BLOB && got.expect === BLOB, 'b received exactly 4 MiB', got);
		assert(got.hash === sent, 'SHA-256 at b equals the sender\'s', { sent, got: got.hash });
		note(`4 MiB through the relay, sha256 ${sent.slice(0, 16)}...`);
		// Every offer, answer and candidate reached the peer it was addressed to.
		for (const p of [a, b]) {
			const log = await p.textContent('#log');
			assert(!/error|server:/.test(log), 'the demo page logged no errors', log);
		}
	});

	await scenario('the demo page loads without a 4xx or 5xx in its console', async () => {
		assert(badResponses.length === 0, 'every request of the demo pages succeeded', badResponses);
		// Headless Chromium fetches no favicon, a desktop browser does: without a declared
		// icon it asks for /favicon.ico and logs the 404.
		const icon = await ev(a, () => document.querySelector('link[rel~="icon"]')?.href || null);
		if (!icon)
			assert((await httpGet(SIG_PORT, '/favicon.ico')).status === 200, 'the demo page declares an icon or /favicon.ico answers');
	});

	await scenario('srflx candidate from iceway-relay (policy all)', async () => {
		const out = await ev(a, (u) => window.iwE2E.gather([{ urls: u }], 'all'), `stun:${HOST}:${TURN_PORT}`);
		const srflx = out.candidates.filter((c) => c.type === 'srflx');
		assert(srflx.length > 0, 'a srflx candidate was gathered', out);
		assert(srflx.every((c) => c.url === undefined || c.url === null || c.url.includes(`${HOST}:${TURN_PORT}`)),
			'the srflx candidate came from our STUN URL', srflx);
		assert(out.candidates.some((c) => c.type === 'host'), 'host candidates too (policy all)', out);
		// run.sh puts a NAT between the browser and the STUN port: the mapped address is its.
		if (env.IW_E2E_NAT)
			assert(srflx.some((c) => c.address === env.IW_E2E_NAT), `srflx address is the NAT's ${env.IW_E2E_NAT}`, srflx);
		// The STUN entry the signaling service hands out must work the same way.
		const welcome = (await ev(a, () => window.iwE2E.sockets())).map((x) => x.welcome).filter(Boolean).pop();
		const stunOnly = ((welcome && welcome.iceServers) || [])
			.map((s) => ({ urls: [].concat(s.urls).filter((u) => u.startsWith('stun:')) }))
			.filter((s) => s.urls.length);
		assert(stunOnly.length > 0, 'welcome iceServers include a stun: URL', stunOnly);
		const out2 = await ev(a, (ice) => window.iwE2E.gather(ice, 'all'), stunOnly);
		assert(out2.candidates.some((c) => c.type === 'srflx'), 'srflx from the welcome STUN URL', out2);
	});

	await scenario('media through the relay, screenshot mid-call', async () => {
		await demoCall(a, b, 'media-' + crypto.randomBytes(4).toString('hex'), { camera: true });
		for (const [tag, p] of [['a', a], ['b', b]]) {
			const pi = await until(`selected pair on ${tag}`, () => ev(p, () => window.iwE2E.pairInfo()));
			assert(pi.local === 'relay' && pi.remote === 'relay', `media pair on ${tag} is relay/relay`, pi);
		}
		for (const [tag, p] of [['b', b], ['a', a]]) {
			const inb = await until(`${tag} decodes video frames and receives audio`, async () => {
				const r = await ev(p, () => window.iwE2E.inbound());
				return r && r.video && r.audio && r.video.framesDecoded > 10 && r.audio.packetsReceived > 10 ? r : null;
			}, T.media, 250);
			note(`${tag} inbound-rtp`, JSON.stringify(inb));
		}
		await until('remote video playing on b', () => ev(b, () => {
			const v = document.getElementById('remote');
			return v && v.videoWidth > 0 && v.currentTime > 0.5;
		}), T.media);
		const shot = path.join(ART, 'demo-mid-call.png');
		const png = await b.screenshot({ path: shot, fullPage: true });
		const url = 'data:image/png;base64,' + png.toString('base64');
		const rect = await ev(b, () => {
			const r = document.getElementById('remote').getBoundingClientRect();
			return [r.x + window.scrollX, r.y + window.scrollY, r.width, r.height];
		});
		const st = await ev(b, ([u, r]) => window.iwE2E.imageStats(u, r), [url, rect]);
		note('screenshot', shot, JSON.stringify(st));
		// The remote video's box in the picture: a frame, not a flat black or white area.
		assert(st.colors > 8 && st.stddev > 8, 'the remote video in the mid-call screenshot is not blank', st);
	});

	await scenario('signaling /metrics show the run', async () => {
		const sig = await httpGet(SIG_METRICS_PORT, '/metrics');
		fs.writeFileSync(path.join(ART, 'signal-metrics.txt'), sig.body);
		assert(sig.status === 200, 'signaling /metrics answers 200', sig.status);
		const pub = await httpGet(SIG_PORT, '/metrics');
		assert(pub.status === 404, 'the public listener has no /metrics', pub.status);
		const m = (name, label) => metricValue(sig.body, name, label);
		const before = metricValue(sigBefore.body, 'iceway_signal_messages_received_total') || 0;
		const got = {
			connections: m('iceway_signal_connections'),
			joins: m('iceway_signal_joins_total'),
			received: m('iceway_signal_messages_received_total'),
			offers: m('iceway_signal_messages_relayed_total', 'type="offer"'),
			answers: m('iceway_signal_messages_relayed_total', 'type="answer"'),
			candidates: m('iceway_signal_messages_relayed_total', 'type="candidate"'),
			errors: m('iceway_signal_errors_total'),
		};
		note('signal metrics', JSON.stringify(got));
		// Two pages, two calls so far (data, then media): each an offer, an answer and candidates.
		assert(got.connections === 2 && got.joins >= 2, 'two connections joined', got);
		assert(got.offers >= 2 && got.answers >= 2 && got.candidates >= 2, 'offers, answers and candidates relayed', got);
		assert(got.received - before >= got.offers + got.answers + got.candidates, 'messages received cover those relayed', got);
		assert(got.errors === 0, 'no error replies to well-behaved clients', got);
		const h = await httpGet(SIG_PORT, '/healthz');
		assert(h.status === 200, '/healthz answers 200', h.status);
	});

	// Only a turns: URL: the browser reaches the relay over TLS (RFC 8656 §3.1, port 5349).
	await scenario('relay-only over TURN-over-TLS (turns: URL only), 1 MB intact', () =>
		streamCall(ctxA, ctxB, `turns:${HOST}:${TLS_PORT}?transport=tcp`, 'tls'));

	// Only a TCP TURN URL: TURN over TCP on the UDP port (RFC 8656 §3.1).
	await scenario('relay-only over TURN-over-TCP (turn: transport=tcp only), 1 MB intact', () =>
		streamCall(ctxA, ctxB, `turn:${HOST}:${TURN_PORT}?transport=tcp`, 'tcp'));

	if (relayMetrics) await scenario('relay /metrics show allocations, channels and bytes', async () => {
		// Channels are counted once a second: wait for the live media call's to show.
		let rel = null;
		const m = (name, label) => metricValue(rel.body, name, label);
		await until('relay /metrics to show the live call\'s channels', async () => {
			rel = await httpGet(RELAY_METRICS_PORT, '/metrics');
			return rel.status === 200 && m('iceway_relay_channels_active') >= 2;
		}, T.step, 250);
		fs.writeFileSync(path.join(ART, 'relay-metrics.txt'), rel.body);
		const got = {
			allocOk: m('iceway_relay_allocations_total', 'result="success"'),
			allocActive: m('iceway_relay_allocations_active'),
			chanActive: m('iceway_relay_channels_active'),
			permActive: m('iceway_relay_permissions_active'),
			udpToPeer: m('iceway_relay_bytes_relayed_total', 'direction="client_to_peer",transport="udp"'),
			udpToClient: m('iceway_relay_bytes_relayed_total', 'direction="peer_to_client",transport="udp"'),
			streamToPeer: m('iceway_relay_bytes_relayed_total', 'direction="client_to_peer",transport="tcp"'),
			streamToClient: m('iceway_relay_bytes_relayed_total', 'direction="peer_to_client",transport="tcp"'),
			streamFromClient: m('iceway_relay_bytes_received_total', 'side="client",transport="tcp"'),
			malformed: m('iceway_relay_packets_dropped_total', 'reason="malformed"'),
		};
		note('relay metrics', JSON.stringify(got));
		// Data, media, TLS and TCP calls: two allocations each; the media call is still up.
		assert(got.allocOk >= 8, 'successful allocations counted', got);
		assert(got.allocActive >= 2 && got.chanActive >= 2 && got.permActive >= 2, 'the live call\'s allocations, channels, permissions', got);
		// Each relayed byte leaves one client's allocation and reaches the other's over the relay.
		assert(got.udpToPeer >= BLOB && got.udpToClient >= BLOB, 'UDP relayed bytes cover the 4 MiB transfer', got);
		// The TLS and TCP calls each moved 1 MiB from a stream client to a UDP peer (the other
		// relayed address) and back to a stream client.
		assert(got.streamToPeer >= 2 * STREAM_BLOB && got.streamToClient >= 2 * STREAM_BLOB &&
			got.streamFromClient >= 2 * STREAM_BLOB, 'TCP/TLS relayed bytes cover both 1 MiB transfers', got);
		assert(got.malformed === 0, 'no well-behaved client\'s packet was dropped as malformed', got);
	});

	await scenario('expired TURN credentials are refused, a rejoin gets fresh ones', async () => {
		for (const p of [a, b])
			await gotoDemo(p); // leaves the media call
		const pa = await openPage(ctxA, 'a', SIG_SHORT_PORT);
		const pb = await openPage(ctxB, 'b', SIG_SHORT_PORT);
		try {
			const room = 'ttl-' + crypto.randomBytes(4).toString('hex');
			const w = await ev(pa, ([u, r]) => window.iwE2E.join(u, r), [wsUrl(SIG_SHORT_PORT), room]);
			const turn = w.iceServers.filter((s) => [].concat(s.urls).some((u) => u.startsWith('turn')));
			assert(turn.length > 0 && turn[0].username, 'welcome has TURN credentials', w.iceServers);
			const expiry = Number(String(turn[0].username).split(':')[0]);
			assert(expiry > 0, 'REST username starts with its expiry', turn[0].username);
			// Wait on the credential's own expiry, plus a second for the relay's clock granularity.
			await until('the credential to expire', () => Date.now() / 1000 > expiry + 1, (SHORT_TTL + 30) * 1000, 250);
			const stale = await ev(pa, (ice) => window.iwE2E.gather(ice, 'relay'), turn);
			assert(!stale.candidates.some((c) => c.type === 'relay'), 'no relay candidate with expired credentials', stale);
			// draft-uberti-behave-turn-rest-00: an Allocate whose username timestamp has passed gets 401.
			assert(stale.errors.some((e) => e.code === 401), 'the relay refused the allocation with 401', stale);
			note('stale allocation refused:', JSON.stringify(stale.errors));
			// A rejoin gets fresh credentials and connects through the relay.
			const fresh = await ev(pa, () => window.iwE2E.rejoin());
			const fturn = fresh.iceServers.find((s) => [].concat(s.urls).some((u) => u.startsWith('turn')));
			assert(fturn && fturn.username !== turn[0].username, 'fresh credentials after rejoin', fturn);
			const wb = await ev(pb, ([u, r]) => window.iwE2E.join(u, r), [wsUrl(SIG_SHORT_PORT), room]);
			await until('a sees b', () => ev(pa, (id) => window.iwE2E.state.remotePeers.has(id), wb.peer));
			await ev(pa, (id) => window.iwE2E.call(id), wb.peer);
			await until('data channel open with fresh credentials', async () =>
				(await ev(pa, () => window.iwE2E.channelOpen())) && (await ev(pb, () => window.iwE2E.channelOpen())), T.connect);
			const pi = await ev(pa, () => window.iwE2E.pairInfo());
			assert(pi && pi.local === 'relay', 'fresh call is relayed', pi);
		} finally {
			await pa.close();
			await pb.close();
		}
	});

	await scenario('signaling restart mid-call: data keeps flowing, clients resume, renegotiate', async () => {
		const ids = await demoCall(a, b, 'resume-' + crypto.randomBytes(4).toString('hex'));
		await until('chat channel open on both', async () =>
			(await ev(a, () => window.iwE2E.channelOpen('chat'))) && (await ev(b, () => window.iwE2E.channelOpen('chat'))));

		// A dropped socket within the grace period resumes the same peer, unnoticed by b.
		const nA = (await ev(a, () => window.iwE2E.sockets())).length;
		assert(await ev(a, () => window.iwE2E.dropSocket()), 'a had an open signaling socket');
		const res = await until('a resumed after a dropped socket', async () => {
			const w = (await ev(a, () => window.iwE2E.sockets())).slice(nA).map((x) => x.welcome).filter(Boolean);
			return w.length ? w[0] : null;
		}, T.connect, 100);
		assert(res.peer === ids.a && res.resumed === true, 'welcome after a drop resumes the peer', res);
		assert(!/left/.test(await b.textContent('#log')), 'b never saw a leave during the resume');
		const resumes = metricValue((await httpGet(SIG_METRICS_PORT, '/metrics')).body, 'iceway_signal_resumes_total');
		assert(resumes >= 1, 'signaling counted the resume', resumes);

		const pingsBefore = (await ev(b, () => window.iwE2E.received('chat')))?.pings || 0;
		const nSock = { a: (await ev(a, () => window.iwE2E.sockets())).length, b: (await ev(b, () => window.iwE2E.sockets())).length };
		await stop('signal', 'SIGKILL');
		note('iceway-signal killed');
		// The established call keeps flowing through the relay with no signaling at all.
		for (let i = 0; i < 20; i++)
			assert(await ev(a, () => window.iwE2E.ping('chat')), 'chat channel still open');
		await until('pings arrive while signaling is down', async () =>
			((await ev(b, () => window.iwE2E.received('chat')))?.pings || 0) >= pingsBefore + 20, T.step);
		// iceway.js retries with backoff: wait for two failed attempts before bringing it back.
		await until('two failed reconnect attempts on a', async () =>
			(await ev(a, () => window.iwE2E.sockets())).slice(nSock.a).filter((x) => x.closed && !x.welcome).length >= 2, T.step, 200);
		await until('a shows it is reconnecting', async () => (await a.textContent('#sig-state')) === 'reconnecting');
		startSignal('signal', SIG_PORT);
		await waitSignal(SIG_PORT);
		const back = {};
		for (const [tag, p] of [['a', a], ['b', b]]) {
			back[tag] = await until(`${tag} rejoined`, async () => {
				const ss = (await ev(p, () => window.iwE2E.sockets())).slice(nSock[tag]);
				const ok = ss.filter((x) => x.welcome);
				return ok.length ? { tries: ss.length, join: ok[0].joins[0], welcome: ok[0].welcome } : null;
			}, T.connect, 200);
			note(`${tag} rejoined after ${back[tag].tries} connection attempts:`, JSON.stringify(back[tag].join));
			assert(back[tag].join.peer === ids[tag] && typeof back[tag].join.resume === 'string',
				`${tag} rejoined with its peer id and resume token`, back[tag].join);
			assert(back[tag].welcome.peer === ids[tag], `${tag} keeps its peer id`, back[tag].welcome);
			assert(back[tag].tries < 20, `${tag} backed off instead of hammering the server`, back[tag].tries);
		}
		for (const p of [a, b])
			assert(await ev(p, () => window.iwE2E.connectionState()) === 'connected', 'call survived the restart');
		// Renegotiate through the restarted service: a new channel, offered by iceway.js.
		await ev(a, () => window.iwE2E.openChannel('after-restart'));
		await until('channel negotiated through the restarted service opens', async () =>
			(await ev(a, () => window.iwE2E.channelOpen('after-restart'))) &&
			(await ev(b, () => window.iwE2E.channelOpen('after-restart'))), T.connect);
		const sent = await ev(a, (n) => window.iwE2E.sendBlob('after-restart', n), 256 * 1024);
		const got = await until('256 KiB on the new channel', async () => {
			const r = await ev(b, () => window.iwE2E.received('after-restart'));
			return r && r.hash ? r : null;
		}, T.transfer);
		assert(got.hash === sent, 'data on the renegotiated channel is intact');
		alive('relay');
	});

	await ctxA.close();
	await ctxB.close();
}

const fatal = await runMain(main);
// What the demo pages showed, for the failure report (before the browser goes away).
if (fatal)
	await pageStates('at the fatal error');
try {
	if (browser)
		await browser.close();
} catch (e) {
	note('closing chromium:', String(e));
}
await stopAll(fatal, 'servers shut down cleanly on SIGTERM');
if (!relayMetrics && !fatal && env.IW_E2E_RELAY_METRICS !== '0')
	await scenario('relay counters at exit show allocations, channels and bytes', async () => {
		const c = relayCountersFromLog();
		note('relay counters', JSON.stringify(c));
		// Data, media, srflx, expiry and restart scenarios: at least 8 allocations, 4 channels.
		assert(c.alloc_ok >= 8 && c.chan_ok >= 4 && c.perm_ok >= 4, 'allocations, permissions and channels', c);
		assert(c.rx_client_bytes >= BLOB && c.tx_peer_bytes >= BLOB, 'the 4 MiB transfer went through the relay', c);
		assert(c.binding >= 1, 'Binding requests answered', c);
		assert(c.alloc_auth_fail >= 1, 'the Allocate with an expired credential was refused', c);
	});
if (pki)
	fs.rmSync(pki.dir, { recursive: true, force: true });
finish(fatal, dumpFailure);
