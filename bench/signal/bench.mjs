// Signaling load: N WebSocket connections in pairs, each pair bouncing an offer-sized message
// back and forth (one in flight per pair, closed loop), against iceway-signal and then the
// PeerJS server (npm `peer`) under the same load, in one run. Prints messages/s, server CPU
// per message, p50/p99 relay latency and resident memory per connection, side by side.
//
//   node bench.mjs --signal ../../build/signaling/iceway-signal [--conns 10000] [--seconds 10]
//   node bench.mjs --only cluster --conns 2000 --pace 1000   # three instances over one redis-server
//   node bench.mjs --base OLD/iceway-signal --conns 2000 --rates 2000,5000,10000,20000
//       # another iceway-signal build beside this one and PeerJS, paced at each rate (msg/s)
//
//   node bench.mjs --procs 2 ...   # the load from two generator processes
//   node bench.mjs --gen node ...  # the Node.js generator (default: iw_siggen, gen.c, when built)
//   node bench.mjs --pin 0 ...     # servers on CPU 0, generators on the other CPUs
//   node bench.mjs --mix offer ... # a 3 KB offer each way (default: cycles of offer, answer, 8 candidates)
//
// Latency is one-way, sender to receiver, both ends in one generator process (one clock). The load
// generator shares the machine's cores with the server, so absolute rates are a floor; the
// comparison is what matters, and server CPU-seconds are measured from /proc, not inferred.
import { fork, spawn as spawnAny, spawnSync } from 'node:child_process';
import readline from 'node:readline';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

import { cpuSeconds, freePort, httpOk, netDrops, rssKb, runqWaitS, sleep, startRedis, stopChild, stopRedis, waitUntil } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const arg = (name, def) => {
	const i = argv.indexOf('--' + name);
	return i >= 0 ? argv[i + 1] : def;
};
const CONNS = +arg('conns', 10000);
const SECONDS = +arg('seconds', 10);
const SIGNAL = arg('signal', path.resolve(here, '../../build/signaling/iceway-signal'));
const ONLY = arg('only', 'both'); // iceway | peerjs | cluster | both | all
const INSTANCES = 3; // cluster: iceway-signal instances sharing one redis-server
const REDIS = arg('redis-server', 'redis-server');
// 0: closed loop, each pair bounces one message as fast as it can (throughput). N > 0: open
// loop, each pair sends one message every N ms and nobody bounces (latency at a fixed load).
let PACE_MS = +arg('pace', 0);
// --base PATH: a second iceway-signal build (e.g. before a change), run as target `base`.
const BASE = arg('base', null);
// --rates: offered messages/s, each run as a paced load (pace = pairs / rate); CPU per message
// at each rate, for every target, with ratios.
const RATES = (arg('rates', '') || '').split(',').filter(Boolean).map(Number);
const TICK_MS = 10;
let RATE_NOW = 0; // the rate --rates is offering now
const SDP_LEN = 3000; // --mix offer: a typical offer with a few m-lines
const BATCH = 250; // connections opened concurrently
const CONNECT_TIMEOUT_MS = 120000;
// Load generator processes; each takes its share of the pairs (the generator must not be the
// bottleneck: its own CPU is printed).
const PROCS = Math.max(1, +arg('procs', 1));
// The generator: gen.c (iw_siggen, built with the tree) or this file's Node.js one.
const SIGGEN = arg('siggen', path.resolve(path.dirname(SIGNAL), '../bench/signal/iw_siggen'));
const GEN = arg('gen', fs.existsSync(SIGGEN) ? 'c' : 'node');
if (GEN !== 'c' && GEN !== 'node') throw new Error('--gen: c or node');
if (GEN === 'c' && !fs.existsSync(SIGGEN)) throw new Error(`--gen c: no ${SIGGEN} (build the tree, or --siggen PATH)`);
const FLOOR = arg('floor', path.resolve(path.dirname(SIGNAL), '../bench/signal/iw_tcpfloor'));
// --pin CPU: every server on that CPU (taskset), the generators on the others.
const PIN = arg('pin', null);
const CPUS = os.availableParallelism();
const GEN_CPUS = PIN === null ? null : [...Array(CPUS).keys()].filter((c) => c !== +PIN).join(',') || PIN;
// What each pair sends. cycle: a negotiation of 10 messages, again and again: an offer (4 KB),
// the answer (4 KB), then 8 candidates (190 B), the two peers taking turns. offer: one 3 KB
// offer each way (what the bench sent before the cycle).
const MIX = arg('mix', 'cycle');
if (MIX !== 'cycle' && MIX !== 'offer') throw new Error('--mix: cycle or offer');
const CYCLE = 10;
const OFFER_LEN = 4096;
const CAND_LEN = 190;

const filler = 'a=x-bench:' + 'x'.repeat(SDP_LEN);
// The k-th message of a pair's cycle, and its SDP or candidate line stamped with ts (where a
// browser writes the session id of the o= line, or the candidate's foundation); the sizes are
// those iceway receives, the same text goes to PeerJS in its envelope. gen.c writes the same.
const kindOf = (k) => (MIX === 'offer' || k % CYCLE === 0 ? 'offer' : k % CYCLE === 1 ? 'answer' : 'candidate');
const sdpHead = (ts) => `v=0\r\no=- ${ts} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n`;
const sdpPad = (() => {
	const line = 'a=x-bench:' + 'x'.repeat(56) + '\r\n';
	const base = JSON.stringify({ type: 'offer', to: 'p0', sdp: sdpHead('0'.repeat(19)) }).length;
	let pad = '';
	const len = (str) => JSON.stringify(str).length - 2; // as it travels, escaped
	while (base + len(pad) + len(line) <= OFFER_LEN) pad += line;
	return pad + 'x'.repeat(Math.max(0, OFFER_LEN - base - len(pad)));
})();
const candLine = (ts, pad) => `candidate:${ts} 1 udp 1677729535 192.0.2.7 61327 typ srflx raddr 10.0.0.2 rport 61327 generation 0${pad}`;
const candPad = (() => {
	const n = CAND_LEN - JSON.stringify({ type: 'candidate', to: 'p0', candidate: { candidate: candLine('0'.repeat(19), ''), sdpMid: '0', sdpMLineIndex: 0 } }).length;
	return n > 7 ? ' ufrag ' + 'x'.repeat(n - 7) : '';
})();
function sdpOf(ts) {
	return MIX === 'offer' ? `${ts}\n${filler}` : sdpHead(ts) + sdpPad;
}
const candidateOf = (ts) => ({ candidate: candLine(ts, candPad), sdpMid: '0', sdpMLineIndex: 0 });
// The stamp in a relayed SDP or candidate line, or null.
function stampOf(text) {
	const m = /^(?:v=0\r\no=- |candidate:)?(\d+)/.exec(text);
	return m ? +m[1] : null;
}

async function waitHttp(port, pathName, timeoutMs = 20000) {
	await waitUntil(`server on ${port} up`, () => httpOk(port, pathName), timeoutMs);
}

// Ready once /healthz says the instance holds its Redis connection, as the integration test does.
async function waitRedisUp(port, timeoutMs = 20000) {
	await waitUntil(`instance on ${port} on redis`, () => httpOk(port, '/healthz', 'ok\nredis: up\n'),
		timeoutMs);
}

// A server, on CPU PIN when --pin is given (taskset execs it: the PID is the server's).
function spawn(bin, args, opts) {
	return PIN === null ? spawnAny(bin, args, opts) : spawnAny('taskset', ['-c', PIN, bin, ...args], opts);
}

function spawnIceway(port, extra, bin = SIGNAL) {
	return spawn(bin, ['--listen', `127.0.0.1:${port}`, '--web-root', here,
		'--max-connections', String(CONNS + 100), '--max-message-rate', '10000',
		'--max-message-burst', '10000', '--max-rooms', String(CONNS), '--log-level', 'warn',
		// welcome carries iceServers with TURN credentials, as in a deployment
		'--static-auth-secret', 'bench-secret', '--turn-uri', 'turn:127.0.0.1:3478', ...extra],
	{ stdio: ['ignore', 'ignore', 'inherit'] });
}

function pct(sorted, p) {
	if (!sorted.length) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// A target describes how to reach one server and speak its protocol.
const targets = {
	iceway: {
		async start(port) {
			const child = spawnIceway(port, []);
			await waitHttp(port, '/healthz');
			return child;
		},
		url: (port) => `ws://127.0.0.1:${port}/ws`,
		open(ws, pair, idx) {
			ws.send(JSON.stringify({ type: 'join', room: `bench-${pair}`, peer: `p${idx}` }));
		},
		isReady: (m) => m.type === 'welcome',
		send(ws, to, ts, kind) {
			ws.send(JSON.stringify(kind === 'candidate' ? { type: 'candidate', to, candidate: candidateOf(ts) }
				: { type: kind, to, sdp: sdpOf(ts) }));
		},
		payloadTs: (m) => (m.type === 'offer' || m.type === 'answer' ? stampOf(m.sdp)
			: m.type === 'candidate' ? stampOf(m.candidate.candidate) : null),
		peerId: (idx) => `p${idx}`,
	},
	// The same server protocol, another build.
	base: {
		async start(port) {
			const child = spawnIceway(port, [], BASE);
			await waitHttp(port, '/healthz');
			return child;
		},
	},
	// Three instances over one redis-server; peer A of pair k on instance k mod 3 and peer B on
	// the next one, so every message crosses Redis.
	cluster: {
		async startAll() {
			const redis = await startRedis(REDIS);
			const url = `redis://127.0.0.1:${redis.port}/0`;
			const procs = [];
			const ports = [];
			try {
				for (let i = 0; i < INSTANCES; i++) {
					const port = await freePort();
					procs.push(spawnIceway(port, ['--redis', url]));
					ports.push(port);
				}
				for (const port of ports) await waitRedisUp(port);
			} catch (e) {
				for (const c of procs) await stopChild(c);
				await stopRedis(redis);
				throw e;
			}
			return { procs, ports, redis };
		},
		instanceOf: (idx) => ((idx >> 1) + (idx & 1)) % INSTANCES,
	},
	// The kernel's floor: iw_tcpfloor's server alone (raw TCP, pairs in accept order, no
	// framing, no JSON), fed by gen.c with the same messages, each behind a 4-byte length.
	floor: {
		async start() {
			const child = spawn(FLOOR, ['--serve', '1', '--conns', String(CONNS)],
				{ stdio: ['ignore', 'pipe', 'inherit'] });
			const line = await new Promise((resolve, reject) => {
				readline.createInterface({ input: child.stdout }).once('line', resolve);
				child.once('exit', (code) => reject(new Error(`${FLOOR} exited (${code})`)));
			});
			child.port = JSON.parse(line).port;
			return child;
		},
	},
	peerjs: {
		async start(port) {
			const child = spawn(process.execPath, [path.join(here, 'node_modules/peer/dist/bin/peerjs.js'),
				'--port', String(port), '--host', '127.0.0.1', '-c', String(CONNS + 100)],
			{ stdio: ['ignore', 'ignore', 'inherit'] });
			await waitHttp(port, '/');
			return child;
		},
		url: (port, idx) => `ws://127.0.0.1:${port}/peerjs?key=peerjs&id=p${idx}&token=t${idx}`,
		open() {},
		isReady: (m) => m.type === 'OPEN',
		send(ws, to, ts, kind) {
			ws.send(JSON.stringify(kind === 'candidate' ? { type: 'CANDIDATE', dst: to, payload: { candidate: candidateOf(ts) } }
				: { type: kind.toUpperCase(), dst: to, payload: { sdp: { type: kind, sdp: sdpOf(ts) } } }));
		},
		payloadTs: (m) => (m.type === 'OFFER' || m.type === 'ANSWER' ? stampOf(m.payload.sdp.sdp)
			: m.type === 'CANDIDATE' ? stampOf(m.payload.candidate.candidate) : null),
		peerId: (idx) => `p${idx}`,
	},
};

function targetOf(name) {
	return name === 'cluster' || name === 'base' ? { ...targets.iceway, ...targets[name] } : targets[name];
}

// One load generator process: connects the pairs of [lo, hi) and, told by the parent, sends,
// measures and reports. Pairs never span two generators, so latency is taken on one clock.
async function genWorker(spec) {
	const [name, lo, hi, portList] = spec.split(':');
	const t = targetOf(name);
	const first = +lo;
	const end = +hi;
	const ports = portList.split(',').map(Number);
	const portOf = (idx) => ports[t.instanceOf ? t.instanceOf(idx) : 0];
	const socks = new Array(end);
	let running = false;
	let measuring = false;
	let msgs = 0;
	let sent = 0;
	let errors = 0;
	const seq = new Uint32Array(end >> 1); // messages each pair has sent, its place in the cycle
	const sendNext = (from) => {
		if (measuring) sent++;
		t.send(socks[from], t.peerId(from ^ 1), process.hrtime.bigint(), kindOf(seq[from >> 1]++));
	};
	let cpu0 = null;
	let pacer = null;
	const lat = [];

	function connect(idx) {
		return new Promise((resolve, reject) => {
			const pair = idx >> 1;
			const ws = new WebSocket(t.url(portOf(idx), idx), { perMessageDeflate: false });
			const timer = setTimeout(() => reject(new Error(`connect ${idx} timed out`)), CONNECT_TIMEOUT_MS);
			ws.on('open', () => t.open(ws, pair, idx));
			ws.on('error', (e) => {
				clearTimeout(timer);
				reject(e);
			});
			ws.on('message', (data) => {
				const m = JSON.parse(data);
				if (t.isReady(m)) {
					clearTimeout(timer);
					resolve(ws);
					return;
				}
				const ts = t.payloadTs(m);
				if (ts === null) {
					if (m.type === 'error' || m.type === 'ERROR') errors++;
					return;
				}
				if (measuring) {
					msgs++;
					lat.push(Number(process.hrtime.bigint() - BigInt(ts)) / 1e6);
				}
				// bounce: one message in flight per pair
				if (running && !PACE_MS) sendNext(idx);
			});
			socks[idx] = ws;
		});
	}

	function start() {
		running = true;
		if (!PACE_MS) {
			for (let i = first; i < end; i += 2) sendNext(i);
			return;
		}
		// Spread the pairs over the period so the offered load is smooth.
		const slots = Math.max(1, Math.round(PACE_MS / TICK_MS));
		let tick = 0;
		pacer = setInterval(() => {
			const slot = tick++ % slots;
			for (let i = first + slot * 2; i < end; i += slots * 2) {
				sendNext(seq[i >> 1] & 1 ? i + 1 : i);
			}
		}, TICK_MS);
	}

	process.on('message', (m) => {
		if (m === 'start') {
			start();
		} else if (m === 'measure') {
			measuring = true;
			msgs = sent = 0;
			lat.length = 0;
			cpu0 = process.cpuUsage();
		} else if (m === 'stop') {
			measuring = false;
			running = false;
			if (pacer) clearInterval(pacer);
			const c = process.cpuUsage(cpu0);
			process.send({ msgs, sent, errors, lat, cpuS: (c.user + c.system) / 1e6 });
		} else if (m === 'exit') {
			for (let i = first; i < end; i++) socks[i]?.terminate();
			process.exit(0);
		}
	});
	for (let i = first; i < end; i += BATCH) {
		const batch = [];
		for (let k = i; k < Math.min(end, i + BATCH); k++) batch.push(connect(k));
		await Promise.all(batch);
	}
	process.send('ready');
}

// A generator as runOne drives it: send(command), next() (its next answer: 'ready' once
// connected, its figures after 'stop'; rejected when it exits first) and exited.
function nodeGen(child) {
	return {
		send: (m) => child.send(m),
		next: () => genNext(child),
		exited: new Promise((r) => child.once('exit', r)),
	};
}

// gen.c's iw_siggen: commands on its stdin, JSON lines on its stdout.
function cGen(name, lo, hi, ports) {
	const pairs = (hi - lo) / 2;
	const args = ['--target', name === 'peerjs' || name === 'floor' ? name : 'iceway', '--ports', ports.join(','),
		'--lo', String(lo), '--hi', String(hi), '--mix', MIX];
	// the rate offered (--rates; --pace: pairs / pace), split between the generators by their pairs
	if (RATE_NOW) args.push('--rate', String((RATE_NOW * pairs) / (CONNS / 2)));
	else if (PACE_MS) args.push('--rate', String((1000 * pairs) / PACE_MS));
	const child = GEN_CPUS === null ? spawnAny(SIGGEN, args, { stdio: ['pipe', 'pipe', 'inherit'] })
		: spawnAny('taskset', ['-c', GEN_CPUS, SIGGEN, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
	const lines = [];
	const waiting = [];
	let gone = null;
	readline.createInterface({ input: child.stdout }).on('line', (l) => {
		const m = JSON.parse(l);
		const v = m.ready !== undefined ? 'ready'
			: { msgs: m.msgs, sent: m.sent, errors: m.errors, closes: m.closes, cpuS: m.cpu_s, waitS: m.wait_s,
				wallS: m.wall_s,
				lat: m.lat_us.map((us) => us / 1000) };
		if (waiting.length) waiting.shift().resolve(v);
		else lines.push(v);
	});
	const exited = new Promise((r) => child.once('exit', (code) => {
		gone = new Error(`load generator exited (${code})`);
		for (const w of waiting.splice(0)) w.reject(gone);
		r(code);
	}));
	child.stdin.on('error', () => {});
	return {
		send: (m) => child.stdin.write(m + '\n'),
		next: () => (lines.length ? Promise.resolve(lines.shift())
			: gone ? Promise.reject(gone) : new Promise((resolve, reject) => waiting.push({ resolve, reject }))),
		exited,
	};
}

// The next message from a generator (its first, when it failed: it exits non-zero).
function genNext(g) {
	return new Promise((resolve, reject) => {
		const onMsg = (m) => {
			g.off('exit', onExit);
			resolve(m);
		};
		const onExit = (code) => {
			g.off('message', onMsg);
			reject(new Error(`load generator exited (${code})`));
		};
		g.once('message', onMsg);
		g.once('exit', onExit);
	});
}

async function runOne(name) {
	const t = targetOf(name);
	let srv;
	if (t.startAll) {
		srv = await t.startAll();
	} else {
		let port = await freePort();
		const child = await t.start(port);
		port = child.port ?? port;
		srv = { procs: [child], ports: [port], redis: null };
	}
	const pids = srv.procs.map((c) => c.pid);
	const sum = (f) => pids.reduce((a, p) => a + f(p), 0);
	const rssBase = sum(rssKb);

	// Pairs split between the generators, each a process of its own.
	const gens = [];
	const per = Math.ceil(CONNS / 2 / PROCS) * 2;
	const t0 = Date.now();
	const setupCpu0 = sum(cpuSeconds);
	for (let lo = 0; lo < CONNS; lo += per) {
		const hi = Math.min(CONNS, lo + per);
		if (GEN === 'c') {
			// One after the other: the floor server pairs connections in accept order.
			gens.push(cGen(name, lo, hi, srv.ports));
			await gens[gens.length - 1].next();
			continue;
		}
		const spec = `${name}:${lo}:${hi}:${srv.ports.join(',')}`;
		const args = ['--gen-worker', spec, '--pace', String(PACE_MS), '--conns', String(CONNS), '--mix', MIX];
		gens.push(nodeGen(GEN_CPUS === null ? fork(fileURLToPath(import.meta.url), args,
			{ stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
			: fork(fileURLToPath(import.meta.url), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
				execPath: 'taskset', execArgv: ['-c', GEN_CPUS, process.execPath] })));
	}
	const all = (m) => Promise.all(gens.map((g) => {
		const next = g.next();
		if (m) g.send(m);
		return next;
	}));
	if (GEN !== 'c') await all(null); // every generator connected its pairs
	const connectS = (Date.now() - t0) / 1000;
	const setupCpuS = sum(cpuSeconds) - setupCpu0;
	await sleep(500);
	const rssConnected = sum(rssKb);

	for (const g of gens) g.send('start');
	await sleep(1000); // warm-up
	for (const g of gens) g.send('measure');
	const cpu0 = sum(cpuSeconds);
	const wait0 = sum(runqWaitS);
	const redisCpu0 = srv.redis ? cpuSeconds(srv.redis.child.pid) : 0;
	const w0 = process.hrtime.bigint();
	const load0 = os.loadavg()[0];
	const drops0 = netDrops();
	await sleep(SECONDS * 1000);
	const drops1 = netDrops();
	// The window ends when stop is sent: the generators' reports (every latency) take a while.
	const wall = Number(process.hrtime.bigint() - w0) / 1e9;
	const cpu = sum(cpuSeconds) - cpu0;
	const waitS = sum(runqWaitS) - wait0;
	const got = await all('stop');
	const rssLoaded = sum(rssKb);
	const redisCpu = srv.redis ? cpuSeconds(srv.redis.child.pid) - redisCpu0 : NaN;
	const redisRss = srv.redis ? rssKb(srv.redis.child.pid) : NaN;
	await sleep(300);
	for (const g of gens) {
		const done = g.exited;
		g.send('exit');
		await done;
	}
	for (const c of srv.procs) await stopChild(c);
	if (srv.redis) {
		await stopRedis(srv.redis);
	}

	const msgs = got.reduce((a, r) => a + r.msgs, 0);
	const sent = got.reduce((a, r) => a + r.sent, 0);
	// gen.c counts between reading measure and reading stop: a generator that lags takes
	// them late, and its rates are over its own window (printed beside the bench's).
	const genWall = got.every((r) => r.wallS) ? Math.max(...got.map((r) => r.wallS)) : wall;
	const lat = got.flatMap((r) => r.lat).sort((a, b) => a - b);
	return {
		name,
		conns: CONNS,
		connectS,
		setupMs: (1000 * setupCpuS) / CONNS,
		msgs,
		msgsPerS: msgs / genWall,
		sentPerS: sent / genWall,
		genWall,
		closes: got.reduce((a, r) => a + (r.closes || 0), 0),
		serverCpuS: cpu,
		serverCpuPct: (100 * cpu) / wall,
		serverWaitPct: (100 * waitS) / wall,
		wall,
		genWaitS: got.reduce((a, r) => a + (r.waitS ?? NaN), 0), // gen.c's only
		load: [load0, os.loadavg()[0]],
		// machine-wide, over the window: packets the kernel dropped before TCP saw them, and
		// TCP retransmission timeouts (a window with either is stalled by seconds: see README)
		backlogDrops: drops1.backlog - drops0.backlog,
		rtoTimeouts: drops1.rto - drops0.rto,
		msgsPerCpuS: cpu > 0 ? msgs / cpu : NaN,
		genCpuS: got.reduce((a, r) => a + r.cpuS, 0),
		gens: gens.length,
		p50: pct(lat, 50),
		p99: pct(lat, 99),
		rssBaseKb: rssBase,
		rssLoadedKb: Math.max(rssConnected, rssLoaded),
		kbPerConn: (Math.max(rssConnected, rssLoaded) - rssBase) / CONNS,
		idleKbPerConn: (rssConnected - rssBase) / CONNS,
		errors: got.reduce((a, r) => a + r.errors, 0),
		instances: srv.procs.length,
		redisCpuS: redisCpu,
		redisRssKb: redisRss,
	};
}

if (arg('gen-worker', null)) {
	await genWorker(arg('gen-worker'));
} else {
	await main();
}

async function main() {
	const names = { both: ['iceway', 'peerjs'], all: ['iceway', 'peerjs', 'cluster'] }[ONLY] || [ONLY];
	if (BASE && !names.includes('base')) names.splice(1, 0, 'base');
	// gen.c feeds the floor server the same load, as a target of its own after the servers.
	const floorTarget = GEN === 'c' && ONLY !== 'cluster' && fs.existsSync(FLOOR);
	if (floorTarget && !names.includes('floor')) names.push('floor');
	if (names.includes('floor') && GEN !== 'c') throw new Error('the floor target needs --gen c');
	process.stderr.write(`bench: generator ${GEN === 'c' ? SIGGEN : 'node'}, mix ${MIX}` +
		`${PIN === null ? '' : `, servers on CPU ${PIN}, generators on ${GEN_CPUS}`}\n`);
	for (const name of names) if (!targets[name]) throw new Error(`--only: unknown target ${name}`);

	async function runAll() {
		const out = [];
		for (const name of names) {
			process.stderr.write(`bench: ${name}, ${CONNS} connections, ${SECONDS} s` +
				`${PACE_MS ? `, 1 message/${PACE_MS} ms/pair` : ''} ...\n`);
			out.push(await runOne(name));
		}
		return out;
	}

	if (RATES.length) {
		// Paced runs, one per rate; the targets take turns within each rate.
		const byRate = [];
		for (const rate of RATES) {
			PACE_MS = Math.max(TICK_MS, Math.round((1000 * CONNS) / 2 / rate));
			RATE_NOW = rate;
			byRate.push({ rate, pace: PACE_MS, results: await runAll() });
		}
		const us = (r) => (r.msgs ? (1e6 * r.serverCpuS) / r.msgs : NaN);
		// One line per rate and target: what the generators sent and what arrived, a second.
		// srv CPU %: the server's CPU over the window (100: one core, all the time); srv wait %:
		// the time it was ready to run but waited for a CPU (other work on its core); load: the
		// machine's 1-minute load average at the window's start and end (other work on the cores);
		// gen s: the generators' own window (the bench's is --seconds), over which sent/s and
		// relayed/s are taken.
		const cols = [['offered', 9], ['target', 8], ['sent/s', 9], ['relayed/s', 10], ['us/msg', 8],
			['srv CPU %', 10], ['srv wait %', 11], ['p50 ms', 9], ['p99 ms', 10], ['gen CPU s', 10], ['gen us/msg', 11], ['gen wait %', 11],
			['gen s', 7], ['errors', 7], ['closes', 7], ['drops', 7], ['RTOs', 6], ['load', 10]];
		console.log(cols.map(([h, w]) => h.padStart(w)).join(''));
		for (const b of byRate) {
			for (const r of b.results) {
				const v = [b.rate, r.name, r.sentPerS.toFixed(0), r.msgsPerS.toFixed(0), us(r).toFixed(1),
					r.serverCpuPct.toFixed(0), r.serverWaitPct.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), r.genCpuS.toFixed(2),
					((1e6 * r.genCpuS) / Math.max(1, r.msgs)).toFixed(1),
					Number.isNaN(r.genWaitS) ? '-' : ((100 * r.genWaitS) / r.genWall).toFixed(0),
					r.genWall.toFixed(1), r.errors, r.closes, r.backlogDrops, r.rtoTimeouts,
					r.load.map((l) => l.toFixed(1)).join('-')];
				console.log(v.map((x, i) => String(x).padStart(cols[i][1])).join(''));
			}
		}
		const has = (n) => names.includes(n);
		console.log('\nserver CPU per relayed message, ratios (and p99, iceway/peerjs):');
		for (const b of byRate) {
			const get = (n) => b.results[names.indexOf(n)];
			const parts = [];
			if (has('peerjs')) {
				parts.push(`iceway/peerjs ${(us(get('iceway')) / us(get('peerjs'))).toFixed(2)}`);
			}
			if (has('floor')) parts.push(`iceway/floor ${(us(get('iceway')) / us(get('floor'))).toFixed(2)}`);
			if (has('floor') && has('peerjs')) {
				parts.push(`peerjs/floor ${(us(get('peerjs')) / us(get('floor'))).toFixed(2)}`);
			}
			if (has('base') && has('peerjs')) {
				parts.push(`base/peerjs ${(us(get('base')) / us(get('peerjs'))).toFixed(2)}`);
			}
			if (has('base')) parts.push(`iceway/base ${(us(get('iceway')) / us(get('base'))).toFixed(2)}`);
			if (has('peerjs')) parts.push(`p99 ${(get('iceway').p99 / get('peerjs').p99).toFixed(2)}`);
			console.log(`  ${b.rate} msg/s: ${parts.join(', ')}`);
		}
		const out = arg('json', null);
		if (out) fs.writeFileSync(out, JSON.stringify(byRate, null, 2));
		process.exit(0);
	}

	const results = await runAll();

	const row = (label, f) => `${label.padEnd(34)}${results.map((r) => String(f(r)).padStart(16)).join('')}`;
	console.log(row('', (r) => r.name));
	console.log(row('connections', (r) => r.conns));
	console.log(row('load', () => (PACE_MS ? `1/${PACE_MS}ms/pair` : 'closed loop')));
	console.log(row('connect time (s)', (r) => r.connectS.toFixed(1)));
	console.log(row('server CPU per set-up (ms)', (r) => r.setupMs.toFixed(3)));
	console.log(row('messages relayed', (r) => r.msgs));
	console.log(row('messages sent/s (wall)', (r) => r.sentPerS.toFixed(0)));
	console.log(row('messages/s (wall)', (r) => r.msgsPerS.toFixed(0)));
	console.log(row('server CPU (s)', (r) => r.serverCpuS.toFixed(2)));
	console.log(row('load generator CPU (s)', (r) => `${r.genCpuS.toFixed(2)} in ${r.gens}`));
	console.log(row('server waiting for a CPU (%)', (r) => r.serverWaitPct.toFixed(0)));
	console.log(row('messages per server CPU-second', (r) => r.msgsPerCpuS.toFixed(0)));
	console.log(row('relay latency p50 (ms)', (r) => r.p50.toFixed(2)));
	console.log(row('relay latency p99 (ms)', (r) => r.p99.toFixed(2)));
	console.log(row('server RSS idle (KB)', (r) => r.rssBaseKb));
	console.log(row('server RSS loaded (KB)', (r) => r.rssLoadedKb));
	console.log(row('RSS per connection (KB)', (r) => r.kbPerConn.toFixed(2)));
	console.log(row('idle RSS per connection (KB)', (r) => r.idleKbPerConn.toFixed(2)));
	console.log(row('error replies', (r) => r.errors));
	console.log(row('connections closed under load', (r) => r.closes));
	console.log(row('backlog drops, TCP RTOs (machine)', (r) => `${r.backlogDrops}, ${r.rtoTimeouts}`));
	if (results.some((r) => r.name === 'cluster')) {
		// Server CPU and RSS above are summed over the instances; the shared redis-server apart.
		const na = (v, f) => (Number.isNaN(v) ? '-' : f(v));
		console.log(row('signal instances', (r) => r.instances));
		console.log(row('redis-server CPU (s)', (r) => na(r.redisCpuS, (v) => v.toFixed(2))));
		console.log(row('redis-server RSS loaded (KB)', (r) => na(r.redisRssKb, (v) => v)));
	}
	const a = results.find((r) => r.name === 'iceway');
	const b = results.find((r) => r.name === 'peerjs');
	const base = results.find((r) => r.name === 'base');
	if (a && b) {
		console.log(`\niceway/peerjs: ${(a.msgsPerCpuS / b.msgsPerCpuS).toFixed(1)}x messages per CPU-second, ` +
			`${(b.kbPerConn / a.kbPerConn).toFixed(1)}x less memory per connection ` +
			`(idle: ${(a.idleKbPerConn / b.idleKbPerConn).toFixed(2)}x PeerJS's); ` +
			`server CPU per message ${(b.msgsPerCpuS / a.msgsPerCpuS).toFixed(2)}x PeerJS's, ` +
			`per connection set-up ${(a.setupMs / b.setupMs).toFixed(2)}x PeerJS's`);
	}
	if (base && b) {
		console.log(`base/peerjs: server CPU per message ${(b.msgsPerCpuS / base.msgsPerCpuS).toFixed(2)}x PeerJS's`);
	}
	if (base && a) {
		console.log(`iceway/base: server CPU per message ${(base.msgsPerCpuS / a.msgsPerCpuS).toFixed(2)}x`);
	}
	// The kernel's floor: a C server that only moves bytes between paired TCP connections (no
	// WebSocket, no JSON), same connections, same message size, closed loop. No server on this
	// machine can spend less CPU per relayed message than this.
	const fc = results.find((r) => r.name === 'floor');
	if (fc) {
		for (const r of [a, b, base].filter(Boolean)) {
			console.log(`${r.name}: server CPU per message ${(fc.msgsPerCpuS / r.msgsPerCpuS).toFixed(2)}x the floor's`);
		}
	} else if (ONLY !== 'cluster' && fs.existsSync(FLOOR)) {
		const fl = spawnSync(FLOOR, ['--conns', String(CONNS), '--size', String(SDP_LEN + 100),
			'--seconds', String(SECONDS)], { encoding: 'utf8' });
		const f = fl.status === 0 ? JSON.parse(fl.stdout) : null;
		if (f) {
			console.log(`\nkernel floor (raw TCP byte relay, ${f.conns} connections, ${f.size} B): ` +
				`${f.msgs_per_cpu_s} messages per server CPU-second`);
			for (const r of [a, base].filter(Boolean)) {
				console.log(`${r.name}: server CPU per message ${(f.msgs_per_cpu_s / r.msgsPerCpuS).toFixed(2)}x the floor's`);
			}
			if (b) {
				console.log(`target 5x PeerJS = ${(5 * b.msgsPerCpuS).toFixed(0)} messages per CPU-second, ` +
					`${(5 * b.msgsPerCpuS / f.msgs_per_cpu_s).toFixed(2)}x the floor`);
			}
			results.push({ name: 'floor', ...f });
		} else {
			console.log(`\nkernel floor: ${FLOOR} failed: ${fl.stderr || fl.error}`);
		}
	}
	const out = arg('json', null);
	if (out) fs.writeFileSync(out, JSON.stringify(results, null, 2));
}
