// What bench.mjs and storm.mjs both need: ports, process CPU and memory, waiting for a server,
// a private redis-server, stopping children.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const TICKS = 100; // /proc/PID/stat clock ticks per second on Linux

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const p = s.address().port;
			s.close(() => resolve(p));
		});
		s.on('error', reject);
	});
}

// utime + stime of a process, in seconds; 0 once it is gone.
export function cpuSeconds(pid) {
	try {
		const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
		return (+rest[11] + +rest[12]) / TICKS;
	} catch (e) {
		return 0;
	}
}

// Machine-wide: packets dropped from the per-CPU input backlog (/proc/net/softnet_stat, second
// column; loopback traffic goes through it) and TCP retransmission timeouts (TcpExt
// TCPTimeouts). Either one during a window means some segment waited for a retransmission.
export function netDrops() {
	let backlog = 0;
	let rto = 0;
	try {
		for (const line of fs.readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n')) {
			backlog += parseInt(line.split(/\s+/)[1], 16);
		}
		const ext = fs.readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
		const keys = ext[0].split(/\s+/);
		rto = +ext[1].split(/\s+/)[keys.indexOf('TCPTimeouts')];
	} catch (e) {
		return { backlog: NaN, rto: NaN };
	}
	return { backlog, rto };
}

// Seconds a process (all its threads) was ready to run but waited for a CPU
// (/proc/PID/task/TID/schedstat, second field); 0 once it is gone.
export function runqWaitS(pid) {
	try {
		let ns = 0;
		for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
			ns += +fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[1];
		}
		return ns / 1e9;
	} catch (e) {
		return 0;
	}
}

export function rssKb(pid) {
	const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? +m[1] : 0;
}

export async function waitUntil(what, fn, timeoutMs = 20000) {
	const end = Date.now() + timeoutMs;
	while (Date.now() < end) {
		if (await fn()) return;
		await sleep(50);
	}
	throw new Error(`${what}: not within ${timeoutMs} ms`);
}

// The server on port answers p (below 500, and with body when one is given).
export async function httpOk(port, p, body) {
	try {
		const r = await fetch(`http://127.0.0.1:${port}${p}`);
		return r.status < 500 && (body === undefined || (await r.text()) === body);
	} catch (e) {
		return false;
	}
}

export function redisPing(port) {
	return new Promise((resolve) => {
		const c = net.connect(port, '127.0.0.1', () => c.write('PING\r\n'));
		c.setTimeout(1000, () => c.destroy());
		c.on('data', (d) => {
			c.destroy();
			resolve(d.toString().startsWith('+PONG'));
		});
		c.on('error', () => resolve(false));
		c.on('close', () => resolve(false));
	});
}

// A private redis-server on a free port (or on port), answering PING; { child, port, dir }.
export async function startRedis(bin, port) {
	port ??= await freePort();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iw-bench-redis-'));
	const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
		'--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'],
	{ stdio: ['ignore', 'ignore', 'inherit'] });
	let exited = false;
	child.on('exit', () => { exited = true; });
	const end = Date.now() + 20000;
	while (Date.now() < end && !exited) {
		if (await redisPing(port)) return { child, port, dir };
		await sleep(50);
	}
	child.kill('SIGKILL');
	fs.rmSync(dir, { recursive: true, force: true });
	throw new Error('redis-server did not start');
}

export async function stopRedis(r) {
	await stopChild(r.child, 'SIGKILL');
	fs.rmSync(r.dir, { recursive: true, force: true });
}

export function stopChild(child, sig = 'SIGTERM') {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	const done = new Promise((r) => child.on('exit', r));
	child.kill(sig);
	return done;
}
