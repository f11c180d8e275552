// End to end on one public TCP 443 (run_443.sh makes the namespaces and the firewall; this runs
// in the server namespace and starts Chromium in the client one). For nginx, then HAProxy, in
// front on :443 with the shipped config: two pages load https://www.example.com/, join a room
// over wss://www.example.com/ws, take the welcome's iceServers (one turns: URL on 443) with
// iceTransportPolicy 'relay', connect relay/relay over TLS and move 1 MiB intact; both
// services show the browser's address (10.201.0.2), not the proxy's (127.0.0.1).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { assert, createHarness, makePki, metricValue, tcpOpen } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const SRC = env.IW_SRC || path.resolve(here, '../..');
const ART = env.IW_E2E_ARTIFACTS || path.join(here, 'artifacts-443');
const PUBLIC = '10.201.0.1'; // the server namespace's only outside address
const BROWSER = '10.201.0.2'; // where Chromium's connections come from
const TURN_NAME = 'turn.example.com'; // the relay's name in the shipped configs
const WEB_NAME = 'www.example.com';
// The ports the shipped configs forward to; nothing else listens in this namespace.
const RELAY_TLS = 5349;
const SIG_TLS = 8443;
const RELAY_PORT = 3478; // loopback only, unreachable from the client
const RELAY_METRICS = 9641;
const SIG_METRICS = 9642;
const BLOB = 1024 * 1024;
const T = { start: 15000, connect: 30000, transfer: 30000, step: 10000 };
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

const secret = crypto.randomBytes(18).toString('base64');
const consoles = [];
let tmp = null;
const { note, until, start, stop, scenario, runMain, stopAll, dumpLogs, finish, relayCall } =
	createHarness({ tag: 'e2e-443', art: ART, clean: /\.(log|json|txt|conf|cfg)$/, step: T.step });

async function metrics(port) {
	const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
	assert(r.status === 200, `/metrics on ${port} answers 200`, r.status);
	return r.text();
}

function run(cmd, args) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10000 });
	assert(r.status === 0, `${cmd} ${args.slice(0, 4).join(' ')} failed`, (r.stderr || String(r.error)).trim());
	return r.stdout;
}

// The shipped nginx config as an operator on Debian runs it: the stream module loaded, IPv4
// only (IPv6 is off here), the log into a file. Routing, ports and PROXY lines are untouched.
function nginxConf(dir) {
	let c = fs.readFileSync(path.join(SRC, 'docker/nginx/iceway-443.conf'), 'utf8');
	const edits = [
		['\n# load_module ' + STREAM_MODULE, '\nload_module ' + STREAM_MODULE],
		['\n        listen [::]:443;', ''],
		['access_log /dev/stdout iceway;', `access_log ${dir}/nginx-access.log iceway;`],
		['worker_processes auto;', 'worker_processes 1;'],
	];
	for (const [from, to] of edits) {
		assert(c.includes(from), 'the shipped nginx config still has', from);
		c = c.replace(from, to);
	}
	for (const want of ['listen 443;', `server 127.0.0.1:${RELAY_TLS};`, `server 127.0.0.1:${SIG_TLS};`, 'proxy_protocol on;'])
		assert(c.includes(want), 'the shipped nginx config has', want);
	fs.writeFileSync(path.join(dir, 'nginx.conf'), c);
	fs.copyFileSync(path.join(dir, 'nginx.conf'), path.join(ART, 'nginx.conf'));
	return path.join(dir, 'nginx.conf');
}

function haproxyCfg(dir) {
	let c = fs.readFileSync(path.join(SRC, 'docker/haproxy/iceway-443.cfg'), 'utf8');
	const edits = [
		['bind :::443 v4v6', 'bind :443'],
		// The open-file limit of a test is below what the shipped maxconn asks for.
		['maxconn 32768', 'maxconn 1000'],
	];
	for (const [from, to] of edits) {
		assert(c.includes(from), 'the shipped HAProxy config still has', from);
		c = c.replace(from, to);
	}
	for (const want of [`127.0.0.1:${RELAY_TLS} send-proxy-v2`, `127.0.0.1:${SIG_TLS} send-proxy-v2`])
		assert(c.includes(want), 'the shipped HAProxy config has', want);
	fs.writeFileSync(path.join(dir, 'haproxy.cfg'), c);
	fs.copyFileSync(path.join(dir, 'haproxy.cfg'), path.join(ART, 'haproxy.cfg'));
	return path.join(dir, 'haproxy.cfg');
}

function startProxy(kind) {
	if (kind === 'nginx') {
		const conf = nginxConf(tmp);
		run('nginx', ['-t', '-q', '-e', 'stderr', '-p', tmp, '-c', conf, '-g', `pid ${tmp}/nginx.pid;`]);
		return start('nginx', 'nginx', ['-e', 'stderr', '-p', tmp, '-c', conf, '-g',
			`pid ${tmp}/nginx.pid; daemon off; master_process off;`]);
	}
	const cfg = haproxyCfg(tmp);
	run('haproxy', ['-c', '-q', '-f', cfg]);
	return start('haproxy', 'haproxy', ['-db', '-f', cfg]);
}

function iptablesCount(ns, chain, match) {
	const out = run('ip', ['netns', 'exec', ns, 'iptables', '-L', chain, '-v', '-x', '-n']);
	const line = out.split('\n').find((l) => match.test(l));
	assert(line, `an iptables rule in ${chain} matching ${match}`, out);
	return Number(line.trim().split(/\s+/)[0]);
}

async function call(browser, kind) {
	const ctxs = [await browser.newContext(), await browser.newContext()];
	const pages = [];
	try {
		for (const [i, ctx] of ctxs.entries()) {
			await ctx.addInitScript({ path: path.join(here, 'peer.js') });
			const p = await ctx.newPage();
			const tag = `${kind}:${'ab'[i]}`;
			p.on('console', (m) => consoles.push(`${tag} ${m.type()}: ${m.text()}`));
			p.on('pageerror', (e) => consoles.push(`${tag} pageerror: ${e}`));
			// The page itself comes over https:// through the proxy, like a visitor's.
			const r = await p.goto(`https://${WEB_NAME}/`, { timeout: T.start });
			assert(r && r.ok(), `https://${WEB_NAME}/ through ${kind} answered`, r && r.status());
			await p.waitForFunction(() => window.iwE2E !== undefined, null, { timeout: T.step });
			pages.push(p);
		}
		note(`${kind}: both pages loaded over https://`);
		const [a, b] = pages;
		const ev = (page, fn, arg) => page.evaluate(fn, arg);
		const room = `${kind}-${crypto.randomBytes(4).toString('hex')}`;
		const ws = `wss://${WEB_NAME}/ws`;
		const wa = await ev(a, ([u, r]) => window.iwE2E.join(u, r), [ws, room]);
		const wb = await ev(b, ([u, r]) => window.iwE2E.join(u, r), [ws, room]);
		// The welcome's iceServers, as signaling hands them out: one turns: URL on 443.
		for (const w of [wa, wb]) {
			const urls = w.iceServers.flatMap((s) => [].concat(s.urls));
			assert(urls.length === 1 && urls[0] === `turns:${TURN_NAME}:443?transport=tcp`,
				'the welcome hands out one turns: URL on 443', w.iceServers);
		}
		note(`${kind}: both pages joined over wss://`);
		await relayCall(a, b, wb.peer, { via: `through ${kind} on 443`, proto: 'tls', bytes: BLOB, connect: T.connect, transfer: T.transfer });
	} finally {
		for (const c of ctxs)
			await c.close();
	}
}

function logHas(name, re) {
	return re.test(fs.readFileSync(path.join(ART, `${name}.log`), 'utf8'));
}

async function main() {
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iw-e2e-443-'));
	// One certificate for both names, which both services present.
	const pki = makePki(tmp, { cn: WEB_NAME, san: `DNS:${WEB_NAME},DNS:${TURN_NAME}`, caName: 'iceway e2e-443 throwaway CA' });
	note('server certificate SPKI sha256', pki.spki);
	start('relay', env.IW_RELAY, ['-n', '--listening-ip', '127.0.0.1', '--listening-port', String(RELAY_PORT),
		'--tls-listening-port', String(RELAY_TLS), '--cert', pki.cert, '--pkey', pki.key,
		'--proxy-protocol', '--proxy-trusted', '127.0.0.1',
		'--min-port', '50000', '--max-port', '50999', '--realm', 'iceway.test', '--allow-loopback-peers',
		'--use-auth-secret', '--static-auth-secret', secret,
		'--prometheus', '--prometheus-port', String(RELAY_METRICS), '--verbose']);
	start('signal', env.IW_SIGNAL, ['--listen', `127.0.0.1:${SIG_TLS}`, '--cert', pki.cert, '--pkey', pki.key,
		'--proxy-protocol', '--proxy-trusted', '127.0.0.1', '--static-auth-secret', secret,
		'--turn-uri', `turns:${TURN_NAME}:443?transport=tcp`, '--web-root', path.join(SRC, 'web'),
		'--prometheus', '--prometheus-port', String(SIG_METRICS), '--log-level', 'debug']);
	await until('both services listening', async () =>
		(await tcpOpen('127.0.0.1', RELAY_TLS)) && (await tcpOpen('127.0.0.1', SIG_TLS)) &&
		(await tcpOpen('127.0.0.1', SIG_METRICS)) && (await tcpOpen('127.0.0.1', RELAY_METRICS)), T.start, 100);

	const browser = await chromium.launch({
		executablePath: env.IW_E2E_CHROMIUM_WRAPPER,
		headless: true,
		timeout: T.start,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync',
			'--disable-features=WebRtcHideLocalIpsWithMdns',
			// Both names are the server's public address; nothing asks a DNS server.
			`--host-resolver-rules=MAP ${TURN_NAME} ${PUBLIC}, MAP ${WEB_NAME} ${PUBLIC}`,
			// Trusts the one server key, for https://, wss:// and turns: alike.
			`--ignore-certificate-errors-spki-list=${pki.spki}`].concat(env.IW_E2E_NETLOG ? [`--log-net-log=${env.IW_E2E_NETLOG}`] : []),
	});
	note('chromium', browser.version());
	try {
		for (const kind of ['nginx', 'haproxy']) {
			await scenario(`${kind} on 443: https, wss and turns: relay/relay over TLS, 1 MiB intact`, async () => {
				const relayBefore = await metrics(RELAY_METRICS);
				const sigBefore = await metrics(SIG_METRICS);
				startProxy(kind);
				await until(`${kind} listening on ${PUBLIC}:443`, () => tcpOpen(PUBLIC, 443), T.start, 100);
				try {
					await call(browser, kind);
				} finally {
					await stop(kind);
				}
				const rel = await metrics(RELAY_METRICS);
				const sig = await metrics(SIG_METRICS);
				const d = (text, before, name, label) => metricValue(text, name, label) - (metricValue(before, name, label) || 0);
				const got = {
					relayHeaders: d(rel, relayBefore, 'iceway_relay_stream_proxy_total', 'result="header",transport="tls"'),
					relayAllocs: d(rel, relayBefore, 'iceway_relay_allocations_total', 'result="success"'),
					sigHeaders: d(sig, sigBefore, 'iceway_signal_proxy_connections_total', 'result="header"'),
					sigRefused: d(sig, sigBefore, 'iceway_signal_connections_rejected_total'),
				};
				note(`${kind} metrics`, JSON.stringify(got));
				assert(got.relayHeaders >= 2 && got.relayAllocs >= 2, 'the relay read PROXY headers and allocated for both pages', got);
				assert(got.sigHeaders >= 2, 'signaling read PROXY headers for the pages and sockets', got);
				// Each page's WebSocket got in at its first attempt (not after a refused one over h2).
				assert(got.sigRefused === 0, 'signaling refused no WebSocket', got);
			});
		}
	} finally {
		await browser.close();
	}

	await scenario('both services show the browser\'s address, never the proxy\'s', async () => {
		// iceway-relay --verbose logs each Allocate with its client; iceway-signal at debug each
		// WebSocket with its client.
		const esc = BROWSER.replace(/\./g, '\\.');
		assert(logHas('relay', new RegExp(`allocate ${esc}:\\d+ `)), `the relay logged allocations from ${BROWSER}`);
		assert(!logHas('relay', /allocate 127\.0\.0\.1:/), 'the relay logged no allocation from 127.0.0.1');
		assert(logHas('signal', new RegExp(`WebSocket from ${esc}\\b`)), `signaling logged WebSockets from ${BROWSER}`);
		assert(!logHas('signal', /WebSocket from 127\.0\.0\.1\b/), 'signaling logged no WebSocket from 127.0.0.1');
		const access = fs.readFileSync(path.join(tmp, 'nginx-access.log'), 'utf8');
		fs.writeFileSync(path.join(ART, 'nginx-access.log'), access);
		assert(new RegExp(`^${esc}:\\d+ .*-> 127\\.0\\.0\\.1:${RELAY_TLS} `, 'm').test(access) &&
			new RegExp(`^${esc}:\\d+ .*-> 127\\.0\\.0\\.1:${SIG_TLS} `, 'm').test(access),
		'nginx routed the browser to both backends', access);
	});

	await scenario('nothing but TCP 443 was used: no UDP left the browser, nothing else got in', async () => {
		const udpOut = iptablesCount(env.IW_E2E_CLI_NS, 'OUTPUT', /DROP\s+17\b/);
		const otherOut = iptablesCount(env.IW_E2E_CLI_NS, 'OUTPUT', /DROP\s+0\b/);
		const in443 = iptablesCount(env.IW_E2E_SRV_NS, 'INPUT', /ACCEPT\s+6\b.*dpt:443/);
		const udpIn = iptablesCount(env.IW_E2E_SRV_NS, 'INPUT', /DROP\s+17\b/);
		const c = { udpOut, otherOut, in443, udpIn };
		note('firewall counters', JSON.stringify(c));
		assert(in443 >= 8, 'connections to 443 (pages, sockets, TURN) went through the firewall', c);
		assert(udpOut === 0 && udpIn === 0, 'no UDP packet between browser and server', c);
		assert(otherOut === 0, 'no packet to another port', c);
		const rel = await metrics(RELAY_METRICS);
		const udpClient = metricValue(rel, 'iceway_relay_bytes_received_total', 'side="client",transport="udp"') || 0;
		assert(udpClient === 0, 'the relay received no client bytes over UDP', udpClient);
	});
}

const fatal = await runMain(main);
await stopAll(fatal, 'relay and signaling exit cleanly on SIGTERM');
if (tmp)
	fs.rmSync(tmp, { recursive: true, force: true });
finish(fatal, () => {
	console.log('----- page consoles -----\n' + consoles.slice(-200).join('\n'));
	dumpLogs(80);
});
