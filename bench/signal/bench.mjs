// Signaling load: N WebSocket connections in pairs, each pair bouncing an offer-sized message
// back and forth (one in flight per pair, closed loop), against iceway-signal and then the
// PeerJS server (npm `peer`) under the same load, in one run. Prints messages/s, server CPU
// per message, p50/p99 relay latency and resident memory per connection, side by side.
//
//   node bench.mjs --signal ../../build/signaling/iceway-signal [--conns 10000] [--seconds 10]
//
// Latency is one-way, sender to receiver, both ends in this process (one clock). The load
// generator shares the machine's cores with the server, so absolute rates are a floor; the
// comparison is what matters, and server CPU-seconds are measured from /proc, not inferred.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const arg = (name, def) => {
	const i = argv.indexOf('--' + name);
	return i >= 0 ? argv[i + 1] : def;
};
const CONNS = +arg('conns', 10000);
const SECONDS = +arg('seconds', 10);
const SIGNAL = arg('signal', path.resolve(here, '../../build/signaling/iceway-signal'));
const ONLY = arg('only', 'both'); // iceway | peerjs | both
// 0: closed loop, each pair bounces one message as fast as it can (throughput). N > 0: open
// loop, each pair sends one message every N ms and nobody bounces (latency at a fixed load).
const PACE_MS = +arg('pace', 0);
const TICK_MS = 10;
const SDP_LEN = 3000; // a typical offer with a few m-lines
const BATCH = 250; // connections opened concurrently
const CONNECT_TIMEOUT_MS = 120000;
const TICKS = 100; // /proc/PID/stat clock ticks per second on Linux

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const filler = 'a=x-bench:' + 'x'.repeat(SDP_LEN);

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const p = s.address().port;
			s.close(() => resolve(p));
		});
		s.on('error', reject);
	});
}

function cpuSeconds(pid) {
	const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
	return (+rest[11] + +rest[12]) / TICKS; // utime + stime
}

function rssKb(pid) {
	const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? +m[1] : 0;
}

async function waitHttp(port, pathName, timeoutMs = 20000) {
	const end = Date.now() + timeoutMs;
	while (Date.now() < end) {
		try {
			const r = await fetch(`http://127.0.0.1:${port}${pathName}`);
			if (r.status < 500) return;
		} catch (e) {
			/* not up yet */
		}
		await sleep(100);
	}
	throw new Error(`server on ${port} did not come up`);
}

function pct(sorted, p) {
	if (!sorted.length) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// A target describes how to reach one server and speak its protocol.
const targets = {
	iceway: {
		async start(port) {
			const child = spawn(SIGNAL, ['--listen', `127.0.0.1:${port}`, '--web-root', here,
				'--max-connections', String(CONNS + 100), '--max-message-rate', '10000',
				'--max-message-burst', '10000', '--max-rooms', String(CONNS), '--log-level', 'warn'],
			{ stdio: ['ignore', 'ignore', 'inherit'] });
			await waitHttp(port, '/healthz');
			return child;
		},
		url: (port) => `ws://127.0.0.1:${port}/ws`,
		open(ws, pair, idx) {
			ws.send(JSON.stringify({ type: 'join', room: `bench-${pair}`, peer: `p${idx}` }));
		},
		isReady: (m) => m.type === 'welcome',
		send(ws, to, ts) {
			ws.send(JSON.stringify({ type: 'offer', to, sdp: `${ts}\n${filler}` }));
		},
		payloadTs: (m) => (m.type === 'offer' ? +m.sdp.slice(0, m.sdp.indexOf('\n')) : null),
		peerId: (idx) => `p${idx}`,
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
		send(ws, to, ts) {
			ws.send(JSON.stringify({ type: 'OFFER', dst: to, payload: { sdp: { type: 'offer', sdp: `${ts}\n${filler}` } } }));
		},
		payloadTs: (m) => (m.type === 'OFFER' ? +m.payload.sdp.sdp.slice(0, m.payload.sdp.sdp.indexOf('\n')) : null),
		peerId: (idx) => `p${idx}`,
	},
};

async function runOne(name) {
	const t = targets[name];
	const port = await freePort();
	const child = await t.start(port);
	const pid = child.pid;
	const rssBase = rssKb(pid);
	const socks = new Array(CONNS);
	let running = false;
	let measuring = false;
	let msgs = 0;
	let errors = 0;
	const lat = [];

	function connect(idx) {
		return new Promise((resolve, reject) => {
			const pair = idx >> 1;
			const other = idx ^ 1;
			const ws = new WebSocket(t.url(port, idx), { perMessageDeflate: false });
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
				if (running && !PACE_MS) t.send(ws, t.peerId(other), process.hrtime.bigint());
			});
			socks[idx] = ws;
		});
	}

	const t0 = Date.now();
	for (let i = 0; i < CONNS; i += BATCH) {
		const batch = [];
		for (let k = i; k < Math.min(CONNS, i + BATCH); k++) batch.push(connect(k));
		await Promise.all(batch);
	}
	const connectS = (Date.now() - t0) / 1000;
	await sleep(500);
	const rssConnected = rssKb(pid);

	running = true;
	let pacer = null;
	if (PACE_MS) {
		// Spread the pairs over the period so the offered load is smooth.
		const slots = Math.max(1, Math.round(PACE_MS / TICK_MS));
		let tick = 0;
		pacer = setInterval(() => {
			const slot = tick++ % slots;
			for (let i = slot * 2; i < CONNS; i += slots * 2) {
				const from = (tick & 1) ? i : i + 1;
				t.send(socks[from], t.peerId(from ^ 1), process.hrtime.bigint());
			}
		}, TICK_MS);
	} else {
		for (let i = 0; i < CONNS; i += 2) t.send(socks[i], t.peerId(i + 1), process.hrtime.bigint());
	}
	await sleep(1000); // warm-up
	measuring = true;
	const cpu0 = cpuSeconds(pid);
	const w0 = process.hrtime.bigint();
	await sleep(SECONDS * 1000);
	measuring = false;
	const wall = Number(process.hrtime.bigint() - w0) / 1e9;
	const cpu = cpuSeconds(pid) - cpu0;
	const rssLoaded = rssKb(pid);
	running = false;
	if (pacer) clearInterval(pacer);
	await sleep(300);
	for (const ws of socks) ws.terminate();
	child.kill('SIGTERM');
	await new Promise((r) => child.on('exit', r));

	lat.sort((a, b) => a - b);
	return {
		name,
		conns: CONNS,
		connectS,
		msgs,
		msgsPerS: msgs / wall,
		serverCpuS: cpu,
		msgsPerCpuS: cpu > 0 ? msgs / cpu : NaN,
		p50: pct(lat, 50),
		p99: pct(lat, 99),
		rssBaseKb: rssBase,
		rssLoadedKb: Math.max(rssConnected, rssLoaded),
		kbPerConn: (Math.max(rssConnected, rssLoaded) - rssBase) / CONNS,
		errors,
	};
}

const results = [];
for (const name of ONLY === 'both' ? ['iceway', 'peerjs'] : [ONLY]) {
	process.stderr.write(`bench: ${name}, ${CONNS} connections, ${SECONDS} s ...\n`);
	results.push(await runOne(name));
}

const row = (label, f) => `${label.padEnd(34)}${results.map((r) => String(f(r)).padStart(16)).join('')}`;
console.log(row('', (r) => r.name));
console.log(row('connections', (r) => r.conns));
console.log(row('load', () => (PACE_MS ? `1/${PACE_MS}ms/pair` : 'closed loop')));
console.log(row('connect time (s)', (r) => r.connectS.toFixed(1)));
console.log(row('messages relayed', (r) => r.msgs));
console.log(row('messages/s (wall)', (r) => r.msgsPerS.toFixed(0)));
console.log(row('server CPU (s)', (r) => r.serverCpuS.toFixed(2)));
console.log(row('messages per server CPU-second', (r) => r.msgsPerCpuS.toFixed(0)));
console.log(row('relay latency p50 (ms)', (r) => r.p50.toFixed(2)));
console.log(row('relay latency p99 (ms)', (r) => r.p99.toFixed(2)));
console.log(row('server RSS idle (KB)', (r) => r.rssBaseKb));
console.log(row('server RSS loaded (KB)', (r) => r.rssLoadedKb));
console.log(row('RSS per connection (KB)', (r) => r.kbPerConn.toFixed(2)));
console.log(row('error replies', (r) => r.errors));
if (results.length === 2) {
	const [a, b] = results;
	console.log(`\niceway/peerjs: ${(a.msgsPerCpuS / b.msgsPerCpuS).toFixed(1)}x messages per CPU-second, ` +
		`${(b.kbPerConn / a.kbPerConn).toFixed(1)}x less memory per connection`);
}
const out = arg('json', null);
if (out) fs.writeFileSync(out, JSON.stringify(results, null, 2));
