// What the browser tests share (e2e.mjs, e2e_443.mjs): a log with the time since the start,
// waiting on a condition, the servers they start and stop, named scenarios with a summary and
// results.json, a throwaway CA with one server certificate, and reading /metrics text.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export function assert(cond, msg, detail) {
	if (!cond)
		throw new Error(msg + (detail === undefined ? '' : ': ' + JSON.stringify(detail)));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// True once a TCP connection to host:port is accepted (then closed at once).
export function tcpOpen(host, port) {
	return new Promise((resolve) => {
		const c = net.connect({ host, port, timeout: 500 });
		const done = (v) => {
			c.destroy();
			resolve(v);
		};
		c.once('connect', () => done(true));
		c.once('error', () => done(false));
		c.once('timeout', () => done(false));
	});
}

// Sum of a metric's samples (those whose labels contain label, when given); null if absent.
export function metricValue(text, name, label) {
	let sum = null;
	for (const line of text.split('\n')) {
		if (line.startsWith('#'))
			continue;
		const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
		if (m && m[1] === name && (!label || (m[2] || '').includes(label)))
			sum = (sum || 0) + Number(m[3]);
	}
	return sum;
}

// A throwaway CA in dir and a server certificate it signs for cn with the subjectAltName san
// ("IP:..." or "DNS:a,DNS:b"). Chromium is told to trust exactly this key by its SPKI hash
// (spki), not to ignore certificate errors in general. cert is the chain a server presents:
// the leaf, then its CA.
export function makePki(dir, { cn, san, caName }) {
	const openssl = (args) => {
		const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 10000 });
		assert(r.status === 0, `openssl ${args[0]} failed`, (r.stderr || String(r.error)).trim());
	};
	const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
	openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
		'-subj', `/CN=${caName}`, '-addext', 'basicConstraints=critical,CA:TRUE',
		'-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
	openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${cn}`]);
	fs.writeFileSync(path.join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\n' +
		`keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
	openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
		'-days', '2', '-extfile', 'server.ext', '-out', 'server.pem']);
	const leaf = fs.readFileSync(path.join(dir, 'server.pem'), 'utf8');
	fs.writeFileSync(path.join(dir, 'chain.pem'), leaf + fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'));
	const x509 = new crypto.X509Certificate(leaf);
	const spki = crypto.createHash('sha256').update(x509.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
	return { dir, cert: path.join(dir, 'chain.pem'), key: path.join(dir, 'server.key'), spki, x509 };
}

// One run's state: art, the artifacts directory (files matching clean are removed from it
// first); tag, the log prefix; step, how long until() waits by default.
export function createHarness({ tag, art, clean, step }) {
	fs.mkdirSync(art, { recursive: true });
	for (const f of fs.readdirSync(art))
		if (clean.test(f))
			fs.rmSync(path.join(art, f));
	const tStart = Date.now();
	const note = (...a) => console.log(`[${tag} +${((Date.now() - tStart) / 1000).toFixed(1)}s]`, ...a);
	const procs = new Map(); // name -> { child, log, file, exited }
	const results = [];

	// Polls fn until it returns a truthy value; fails naming what it waited for and the last
	// value, or at once when a server it started has died.
	async function until(what, fn, timeout = step, every = 100) {
		const t0 = Date.now();
		const end = t0 + timeout;
		let last;
		for (;;) {
			try {
				last = await fn();
				if (last) {
					if (Date.now() - t0 > 3000)
						note(`waited ${((Date.now() - t0) / 1000).toFixed(1)} s for ${what}`);
					return last;
				}
			} catch (e) {
				last = String(e);
			}
			for (const [name, p] of procs)
				if (p.exited)
					throw new Error(`${name} exited (${JSON.stringify(p.exited)}) while waiting for ${what}`);
			if (Date.now() > end)
				throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
			await sleep(every);
		}
	}

	// Starts bin with its output into art/NAME.log.
	function start(name, bin, args) {
		const file = path.join(art, `${name}.log`);
		const log = fs.openSync(file, 'a');
		fs.writeSync(log, `# ${bin} ${args.join(' ')}\n`);
		const child = spawn(bin, args, { stdio: ['ignore', log, log] });
		const p = { child, log, file, exited: null };
		child.on('exit', (code, sig) => {
			p.exited = { code, sig };
			note(`${name} (pid ${child.pid}) exited`, code, sig);
		});
		procs.set(name, p);
		note(`started ${name} pid ${child.pid}`);
		return p;
	}

	// Sends signal and waits for the exit (SIGKILL after 10 s); the exit, or null when name
	// was not running.
	async function stop(name, signal = 'SIGTERM') {
		const p = procs.get(name);
		if (!p)
			return null;
		procs.delete(name);
		if (!p.exited) {
			const gone = new Promise((r) => p.child.once('exit', r));
			p.child.kill(signal);
			const t = setTimeout(() => p.exited || p.child.kill('SIGKILL'), 10000);
			await gone;
			clearTimeout(t);
		}
		fs.closeSync(p.log);
		return p.exited;
	}

	function alive(name) {
		const p = procs.get(name);
		if (!p || p.exited)
			throw new Error(`${name} is not running (${JSON.stringify(p && p.exited)})`);
	}

	// Runs a named scenario: a failure is recorded (and onFail awaited) and the run goes on.
	async function scenario(name, fn, onFail) {
		const t0 = Date.now();
		try {
			await fn();
			results.push({ name, ok: true });
			note(`PASS ${name} (${Date.now() - t0} ms)`);
		} catch (e) {
			results.push({ name, ok: false, err: e });
			note(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
			if (onFail)
				await onFail(name);
		}
	}

	// Awaits main; what it threw (the run has then failed), or null.
	async function runMain(main) {
		try {
			await main();
			return null;
		} catch (e) {
			note('FATAL', e && e.stack ? e.stack : e);
			return e;
		}
	}

	// SIGTERM to every server still running, then a scenario that they all exited with 0
	// (unless fatal: the run already failed).
	async function stopAll(fatal, what) {
		const exits = {};
		for (const name of [...procs.keys()])
			exits[name] = await stop(name);
		if (!fatal)
			await scenario(what, async () => {
				for (const [name, e] of Object.entries(exits))
					assert(e && e.code === 0, `${name} exit status`, e);
			});
	}

	// The last lines of every server log in art; the relay's warnings and errors first, so a
	// failure early in a run is not lost behind later lines.
	function dumpLogs(lines) {
		for (const f of fs.readdirSync(art).filter((x) => x.endsWith('.log'))) {
			const text = fs.readFileSync(path.join(art, f), 'utf8').split('\n');
			if (f === 'relay.log') {
				const bad = text.filter((l) => / (WARN|ERROR) /.test(l));
				console.log(`----- ${f}: ${bad.length} warnings and errors -----`);
				console.log(bad.slice(-200).join('\n'));
			}
			const n = f === 'relay.log' ? 2 * lines : lines;
			console.log(`----- ${f} (last ${n} of ${text.length} lines) -----`);
			console.log(text.slice(-n).join('\n'));
		}
	}

	// results.json, the report (onFailure prints what helps when anything failed), and the
	// exit status.
	function finish(fatal, onFailure) {
		const failed = results.filter((r) => !r.ok).length + (fatal ? 1 : 0);
		fs.writeFileSync(path.join(art, 'results.json'), JSON.stringify(results.map((r) => ({ name: r.name, ok: r.ok, err: r.err ? String(r.err) : undefined })), null, 1));
		if (failed)
			onFailure();
		note(`total ${((Date.now() - tStart) / 1000).toFixed(1)} s`);
		console.log(`${results.filter((r) => r.ok).length} passed, ${failed} failed`);
		process.exit(failed ? 1 : 0);
	}

	// Pages a and b (peer.js loaded) have joined one room, peer being b's id: a calls b; the
	// data channel opens within connect (or the pages' candidate errors say why not), both
	// selected pairs are relay/relay with the relay candidate allocated over proto, and bytes
	// sent by a on the channel arrive at b intact within transfer. via says how, in messages.
	async function relayCall(a, b, peer, { via, proto, bytes, connect, transfer }) {
		const ev = (page, fn, arg) => page.evaluate(fn, arg);
		await until('a sees b', () => ev(a, (id) => window.iwE2E.state.remotePeers.has(id), peer));
		await ev(a, (id) => window.iwE2E.call(id), peer);
		try {
			await until(`data channel open ${via}`, async () =>
				(await ev(a, () => window.iwE2E.channelOpen())) && (await ev(b, () => window.iwE2E.channelOpen())), connect);
		} catch (e) {
			// The browser's own reason (e.g. a TLS failure) beats a bare timeout.
			const errs = { a: await ev(a, () => window.iwE2E.candErrors()), b: await ev(b, () => window.iwE2E.candErrors()) };
			throw new Error(`${e.message}; candidate errors ${JSON.stringify(errs)}`);
		}
		for (const [tag, p] of [['a', a], ['b', b]]) {
			const pi = await until(`selected pair on ${tag}`, () => ev(p, () => window.iwE2E.pairInfo()));
			note(`${tag} selected pair ${via}`, JSON.stringify(pi));
			assert(pi.local === 'relay' && pi.remote === 'relay', `selected pair on ${tag} is relay/relay`, pi);
			assert(pi.relayProtocol === proto, `${tag}'s relay candidate was allocated over ${proto}`, pi);
		}
		const sent = await ev(a, (n) => window.iwE2E.sendBlob('data', n), bytes);
		const got = await until(`${bytes} bytes at b ${via}`, async () => {
			const r = await ev(b, () => window.iwE2E.received('data'));
			return r && r.hash ? r : null;
		}, transfer, 200);
		assert(got.bytes === bytes && got.expect === bytes, `b received exactly ${bytes} bytes`, got);
		assert(got.hash === sent, 'SHA-256 at b equals the sender\'s', { sent, got: got.hash });
		note(`${bytes} bytes relay/relay ${via}, sha256 ${sent.slice(0, 16)}...`);
	}

	return { note, until, start, stop, alive, scenario, runMain, stopAll, dumpLogs, finish, relayCall };
}
