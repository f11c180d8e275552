// Reconnect storm. N clients, each one web/iceway.js's own Signaling class (its backoff and
// jitter, its resume), two to a room. Once all are in, the server dies with SIGKILL:
//   --mode restart   one iceway-signal, started again at once on the same port;
//   --mode cluster   three instances over one redis-server, one of them killed for good (its
//                    clients fail over to the next instance, as behind a load balancer);
//   --mode peerjs    the PeerJS server, restarted, with a client that follows the same backoff.
// Prints how long until every client is back in its room with its own peer id, seats lost
// (a client that ended up with another id, or gave up), peer-left events nobody caused, "id
// taken" answers, and the CPU the servers and this generator spent over the storm.
//
//   node storm.mjs --signal ../../build/signaling/iceway-signal --clients 10000 --mode all
//   node storm.mjs --clients 1000 --mode restart --ports 40001 --check 10   # exits 1 on a miss
//
// --ports P[,P...]: ports to listen on (restart and peerjs: one; cluster: three instances and
// redis), so a test can hand over ports it holds; default: free ports from the kernel.
// --check S: exit 1 unless every client was back within S seconds with nothing lost.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

import { cpuSeconds, freePort, httpOk, sleep, startRedis, stopChild, stopRedis, waitUntil } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const arg = (name, def) => {
	const i = argv.indexOf('--' + name);
	return i >= 0 ? argv[i + 1] : def;
};
const CLIENTS = +arg('clients', 10000) & ~1; // rooms of two
const MODE = arg('mode', 'restart');
const SIGNAL = arg('signal', path.resolve(here, '../../build/signaling/iceway-signal'));
const REDIS = arg('redis-server', 'redis-server');
const PORTS = (arg('ports', '') || '').split(',').filter(Boolean).map(Number);
const CHECK_S = arg('check', null) === null ? null : +arg('check');
const DEADLINE_MS = +arg('deadline', 60) * 1000;
const JSON_OUT = arg('json', null);
const BATCH = 500; // clients connecting at once while the rooms fill
// After the last client is back, peer-left is still watched this long: a cluster instance that
// died is declared dead by the others only when its entries expire in Redis (12 s).
const SETTLE_MS = { restart: 2000, cluster: 15000, peerjs: 2000 };

// web/iceway.js runs here as in a browser: these are the only browser globals it touches.
// A browser reports a failed connection with an event nobody has to handle; ws throws unless
// somebody listens.
globalThis.WebSocket = class extends WebSocket {
	constructor(...a) {
		super(...a);
		this.on('error', () => {});
	}
};
globalThis.location = { href: 'http://127.0.0.1/' };
globalThis.CustomEvent ??= class extends Event {
	constructor(type, opts) {
		super(type);
		this.detail = opts?.detail;
	}
};
const { Signaling } = await import('../../web/iceway.js');


async function ports(n) {
	if (PORTS.length >= n) return PORTS.slice(0, n);
	if (PORTS.length) throw new Error(`--ports: ${n} needed for --mode ${MODE}`);
	const out = [];
	for (let i = 0; i < n; i++) out.push(await freePort());
	return out;
}

function spawnIceway(port, extra) {
	return spawn(SIGNAL, ['--listen', `127.0.0.1:${port}`, '--web-root', path.resolve(here, '../../web'),
		'--max-connections', String(CLIENTS + 100), '--max-rooms', String(CLIENTS),
		'--static-auth-secret', 'storm-secret', '--turn-uri', 'turn:127.0.0.1:3478',
		'--log-level', 'warn', ...extra],
	{ stdio: ['ignore', 'ignore', 'inherit'] });
}

// ---- clients ----

// iceway.js with one change an operator makes outside it: each reconnect goes to the next
// instance of the list, as a load balancer would once the old one stops answering.
class StormSignaling extends Signaling {
	constructor(urls, home, room) {
		super(urls[home], { room });
		this.urls = urls;
		this.home = home;
	}
	get url() {
		return this.urls[(this.home + this.attempt) % this.urls.length];
	}
	set url(v) {}
}

// The state of one client as the storm sees it.
function track(c, t) {
	c.sig.addEventListener('welcome', (e) => {
		const m = e.detail;
		if (!c.id0) {
			c.id0 = m.peer;
			return;
		}
		if (!t.t0) return;
		if (m.peer === c.id0) {
			if (!c.backAt) c.backAt = Date.now();
		} else {
			c.lost = true;
		}
	});
	c.sig.addEventListener('peer-left', () => {
		if (t.t0 && !t.done) t.spuriousLeft++;
	});
	c.sig.addEventListener('error', (e) => {
		if (e.detail.code === 'peer-id-taken') t.idTaken++;
	});
	c.sig.addEventListener('closed', () => {
		c.lost = true;
	});
}

function partner(cs, i) {
	return cs[i ^ 1];
}

function inRoom(cs, i) {
	const c = cs[i];
	return c.sig.state === 'open' && c.sig.peer === c.id0 && c.sig.peers.has(partner(cs, i).id0);
}

async function fill(urls, homeOf, t) {
	const cs = [];
	for (let i = 0; i < CLIENTS; i++) {
		const c = { sig: new StormSignaling(urls, homeOf(i), `storm-${i >> 1}`), id0: null, backAt: 0,
			lost: false };
		track(c, t);
		cs.push(c);
	}
	for (let i = 0; i < CLIENTS; i += BATCH) {
		const part = cs.slice(i, i + BATCH);
		part.forEach((c) => c.sig.connect());
		await waitUntil('clients joining', () => part.every((c) => c.id0), 60000);
	}
	await waitUntil('rooms of two', () => cs.every((c, i) => inRoom(cs, i)), 60000);
	return cs;
}

// Waits until every client is back in its room with its own id, then watches a while longer.
// serverCpu(): the CPU-seconds the servers have used so far, read when the last one is back.
async function watch(cs, t, settleMs, serverCpu) {
	const end = t.t0 + DEADLINE_MS;
	const back = (c, i) => !c.lost && (c.backAt || !c.cut) && inRoom(cs, i);
	while (Date.now() < end && !cs.every((c, i) => c.lost || back(c, i))) await sleep(20);
	const allBack = cs.every(back);
	t.cut = cs.filter((c) => c.cut).length;
	t.backMs = allBack ? Math.max(...cs.map((c) => c.backAt || t.t0)) - t.t0 : null;
	const waits = cs.filter((c) => c.backAt).map((c) => c.backAt - t.t0).sort((a, b) => a - b);
	t.p50Ms = waits.length ? waits[waits.length >> 1] : null;
	t.back = waits.length;
	t.lost = cs.filter((c, i) => !back(c, i)).length;
	t.serverCpuS = serverCpu();
	await sleep(Math.max(0, t.t0 + settleMs + (t.backMs || 0) - Date.now()));
	t.stillIn = cs.filter((c, i) => inRoom(cs, i)).length;
	t.done = true; // the clients' own goodbyes that follow are not the storm's
}

function closeAll(cs) {
	for (const c of cs) c.sig.close();
}

// ---- the storms ----

async function stormRestart() {
	const [port] = await ports(1);
	const t = { spuriousLeft: 0, idTaken: 0 };
	let srv = spawnIceway(port, []);
	await waitUntil('iceway-signal up', () => httpOk(port, '/healthz'));
	const cs = await fill([`ws://127.0.0.1:${port}/ws`], () => 0, t);
	cs.forEach((c) => { c.cut = true; });
	const gen0 = process.cpuUsage();
	await stopChild(srv, 'SIGKILL');
	t.t0 = Date.now();
	srv = spawnIceway(port, []);
	await watch(cs, t, SETTLE_MS.restart, () => {
		t.genCpuS = cpuS(process.cpuUsage(gen0));
		return cpuSeconds(srv.pid);
	});
	closeAll(cs);
	await stopChild(srv);
	return t;
}

async function stormCluster() {
	const [p0, p1, p2, rp] = await ports(4);
	const t = { spuriousLeft: 0, idTaken: 0 };
	const redis = await startRedis(REDIS, rp);
	const procs = [];
	try {
		const url = `redis://127.0.0.1:${rp}/0`;
		const sp = [p0, p1, p2];
		for (const p of sp) procs.push(spawnIceway(p, ['--redis', url]));
		for (const p of sp) await waitUntil('instance up', () => httpOk(p, '/healthz', 'ok\nredis: up\n'));
		// Peer A of room k on instance k mod 3, peer B on the next: every room spans two.
		const home = (i) => ((i >> 1) + (i & 1)) % 3;
		const cs = await fill(sp.map((p) => `ws://127.0.0.1:${p}/ws`), home, t);
		cs.forEach((c, i) => { c.cut = home(i) === 0; });
		const before = [1, 2].map((k) => cpuSeconds(procs[k].pid));
		const gen0 = process.cpuUsage();
		await stopChild(procs[0], 'SIGKILL');
		t.t0 = Date.now();
		await watch(cs, t, SETTLE_MS.cluster, () => {
			t.genCpuS = cpuS(process.cpuUsage(gen0));
			return [1, 2].reduce((s, k, j) => s + cpuSeconds(procs[k].pid) - before[j], 0);
		});
		closeAll(cs);
	} finally {
		for (const p of procs) await stopChild(p);
		await stopRedis(redis);
	}
	return t;
}

// A PeerJS client keeps its id across reconnects by asking for it again (id and token in the
// URL); it gets OPEN, or ID-TAKEN while the server still holds the old socket.
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;
function peerjsClient(port, i, t) {
	const c = { id0: `p${i}`, backAt: 0, lost: false, attempt: 0, open: false };
	const dial = () => {
		const ws = new WebSocket(`ws://127.0.0.1:${port}/peerjs?key=peerjs&id=${c.id0}&token=t${i}`);
		ws.on('message', (d) => {
			const m = JSON.parse(d);
			if (m.type === 'OPEN') {
				c.open = true;
				c.attempt = 0;
				if (t.t0 && !c.backAt) c.backAt = Date.now();
			} else if (m.type === 'ID-TAKEN') {
				t.idTaken++;
			}
		});
		ws.on('error', () => {});
		ws.on('close', () => {
			c.open = false;
			if (c.stop) return;
			const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** c.attempt);
			c.attempt++;
			setTimeout(dial, Math.random() * cap);
		});
		c.ws = ws;
	};
	c.dial = dial;
	return c;
}

async function stormPeerjs() {
	const [port] = await ports(1);
	const t = { spuriousLeft: 0, idTaken: 0 };
	const start = () => spawn(process.execPath, [path.join(here, 'node_modules/peer/dist/bin/peerjs.js'),
		'--port', String(port), '--host', '127.0.0.1', '-c', String(CLIENTS + 100)],
	{ stdio: ['ignore', 'ignore', 'inherit'] });
	let srv = start();
	await waitUntil('peerjs up', () => httpOk(port, '/'));
	const cs = [];
	for (let i = 0; i < CLIENTS; i += BATCH) {
		const part = [];
		for (let j = i; j < Math.min(CLIENTS, i + BATCH); j++) part.push(peerjsClient(port, j, t));
		part.forEach((c) => c.dial());
		cs.push(...part);
		await waitUntil('peerjs clients', () => part.every((c) => c.open), 60000);
	}
	const gen0 = process.cpuUsage();
	await stopChild(srv, 'SIGKILL');
	t.t0 = Date.now();
	srv = start();
	const end = t.t0 + DEADLINE_MS;
	while (Date.now() < end && !cs.every((c) => c.backAt && c.open)) await sleep(20);
	const waits = cs.filter((c) => c.backAt).map((c) => c.backAt - t.t0).sort((a, b) => a - b);
	t.back = waits.length;
	t.cut = cs.length;
	t.backMs = waits.length === cs.length ? waits[waits.length - 1] : null;
	t.p50Ms = waits.length ? waits[waits.length >> 1] : null;
	t.lost = cs.length - cs.filter((c) => c.open).length;
	t.serverCpuS = cpuSeconds(srv.pid);
	t.genCpuS = cpuS(process.cpuUsage(gen0));
	for (const c of cs) {
		c.stop = true;
		c.ws.terminate();
	}
	await stopChild(srv);
	return t;
}

function cpuS(u) {
	return (u.user + u.system) / 1e6;
}

const runs = { restart: stormRestart, cluster: stormCluster, peerjs: stormPeerjs };
const modes = MODE === 'all' ? ['restart', 'cluster', 'peerjs'] : [MODE];
const results = {};
let failed = false;
for (const m of modes) {
	if (!runs[m]) throw new Error(`--mode: restart, cluster, peerjs or all, not ${m}`);
	const t = await runs[m]();
	results[m] = t;
	const s = (ms) => (ms === null ? 'never' : `${(ms / 1000).toFixed(2)} s`);
	console.log(`${m}: ${CLIENTS} clients, ${t.cut} cut off, ${t.back} back, all back ${s(t.backMs)} (p50 ${s(t.p50Ms)}), ` +
		`lost ${t.lost}, spurious peer-left ${t.spuriousLeft}, id taken ${t.idTaken}, ` +
		`server CPU ${t.serverCpuS.toFixed(2)} s, generator CPU ${t.genCpuS.toFixed(2)} s`);
	if (CHECK_S !== null && m !== 'peerjs' &&
	    (t.backMs === null || t.backMs > CHECK_S * 1000 || t.lost || t.spuriousLeft || t.stillIn !== CLIENTS)) {
		console.log(`${m}: FAIL: every client back within ${CHECK_S} s, none lost, no peer-left, ` +
			`all still in their rooms after ${SETTLE_MS[m] / 1000} s (${t.stillIn}/${CLIENTS})`);
		failed = true;
	}
}
if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify({ clients: CLIENTS, results }, null, 1));
process.exit(failed ? 1 : 0);
