// In-page side of the end-to-end test, loaded into every page before the page's own scripts
// (page.addInitScript). It observes the RTCPeerConnections and WebSockets that the demo page
// and iceway.js create, and it has its own small client of the signaling protocol for the
// scenarios that need a raw join (credential expiry, candidate gathering). Everything the
// test asserts on is read back through window.iwE2E by page.evaluate().
'use strict';

window.iwE2E = (() => {
	const log = (...a) => console.log('[e2e]', ...a);
	const pcs = []; // every RTCPeerConnection of the page: { pc, harness, channels, candErrors }
	const sockets = []; // every WebSocket of the page: { url, at, opened, closed, joins, welcome }
	const recv = {}; // channel label -> { bytes, chunks, hash, expect, pings }

	// Bulk transfers and pings are read with addEventListener, next to whatever onmessage the
	// page set, so observing a channel changes nothing for iceway.js.
	function watch(rec, dc) {
		rec.channels[dc.label] = dc;
		if (dc.label !== 'chat')
			dc.binaryType = 'arraybuffer';
		dc.addEventListener('message', async (ev) => {
			const r = recv[dc.label] || (recv[dc.label] = { bytes: 0, chunks: [], hash: null, expect: -1, pings: 0 });
			if (typeof ev.data !== 'string') {
				if (ev.data instanceof ArrayBuffer) {
					r.chunks.push(ev.data);
					r.bytes += ev.data.byteLength;
				}
				return;
			}
			let m;
			try {
				m = JSON.parse(ev.data);
			} catch (e) {
				return; // chat text
			}
			if (m.ping !== undefined)
				r.pings++;
			if (m.expect !== undefined) {
				r.expect = m.expect;
				r.bytes = 0;
				r.chunks = [];
				r.hash = null;
			}
			if (m.done) {
				const all = new Uint8Array(r.bytes);
				let off = 0;
				for (const c of r.chunks) {
					all.set(new Uint8Array(c), off);
					off += c.byteLength;
				}
				r.chunks = [];
				r.hash = hex(await crypto.subtle.digest('SHA-256', all));
			}
		});
	}

	const NativePC = window.RTCPeerConnection;
	class ObservedPC extends NativePC {
		constructor(...args) {
			super(...args);
			const rec = { pc: this, harness: false, channels: {}, candErrors: [] };
			pcs.push(rec);
			this.addEventListener('datachannel', (ev) => watch(rec, ev.channel));
			this.addEventListener('icecandidateerror', (ev) =>
				rec.candErrors.push({ code: ev.errorCode, text: ev.errorText, url: ev.url }));
		}
		createDataChannel(...args) {
			const dc = super.createDataChannel(...args);
			watch(pcs.find((r) => r.pc === this), dc);
			return dc;
		}
	}
	window.RTCPeerConnection = ObservedPC;

	const NativeWS = window.WebSocket;
	const live = [];
	class ObservedWS extends NativeWS {
		constructor(...args) {
			super(...args);
			const rec = { url: String(args[0]), at: Date.now(), opened: false, closed: false, joins: [], welcome: null };
			this.rec = rec;
			sockets.push(rec);
			live.push(this);
			this.addEventListener('open', () => (rec.opened = true));
			this.addEventListener('close', () => (rec.closed = true));
			this.addEventListener('message', (ev) => {
				try {
					const m = JSON.parse(ev.data);
					if (m.type === 'welcome')
						rec.welcome = m;
				} catch (e) {
					/* not ours to judge */
				}
			});
		}
		send(d) {
			try {
				const m = JSON.parse(d);
				if (m.type === 'join')
					this.rec.joins.push(m);
			} catch (e) {
				/* binary or not JSON */
			}
			return super.send(d);
		}
	}
	window.WebSocket = ObservedWS;

	// The call the demo page (iceway.js) made: its newest connection that is not ours.
	const demoRec = () => pcs.filter((r) => !r.harness && r.pc.connectionState !== 'closed').pop();
	const s = {
		room: null,
		peer: null,
		resume: null,
		iceServers: null,
		welcomes: [],
		remotePeers: new Set(),
		errors: [],
		ws: null,
		wsUrl: null,
		pc: null,
		remote: null,
		policy: 'relay',
		mode: 'own', // 'own': the connection this harness made; 'demo': the demo page's
		pendingCands: [],
	};

	function send(m) {
		if (!s.ws || s.ws.readyState !== WebSocket.OPEN)
			throw new Error('signaling socket not open');
		s.ws.send(JSON.stringify(m));
	}

	// Opens a socket and joins; resolves with the welcome.
	function open() {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(s.wsUrl);
			let welcomed = false;
			ws.onopen = () => {
				s.ws = ws;
				const j = { type: 'join', room: s.room };
				ws.send(JSON.stringify(j));
			};
			ws.onmessage = (ev) => {
				let m;
				try {
					m = JSON.parse(ev.data);
				} catch (e) {
					log('bad json from server', ev.data);
					return;
				}
				if (m.type === 'welcome' && !welcomed) {
					welcomed = true;
					s.peer = m.peer;
					s.resume = m.resume;
					s.iceServers = m.iceServers;
					s.welcomes.push(m);
					for (const p of m.peers || [])
						s.remotePeers.add(typeof p === 'string' ? p : p.peer);
					log('welcome', m.peer, 'peers', JSON.stringify(m.peers));
					resolve(m);
					return;
				}
				onSignal(m).catch((e) => log('signal handling failed', m.type, String(e)));
			};
			ws.onerror = () => log('signaling socket error');
			ws.onclose = () => {
				if (s.ws === ws)
					s.ws = null;
				if (!welcomed)
					reject(new Error('signaling socket closed before welcome'));
			};
		});
	}

	async function onSignal(m) {
		switch (m.type) {
		case 'peer-joined':
			s.remotePeers.add(m.peer);
			return;
		case 'peer-left':
			s.remotePeers.delete(m.peer);
			return;
		case 'error':
			s.errors.push(m);
			log('server error', m.code, m.message);
			return;
		case 'offer': {
			if (!s.pc || s.remote !== m.from)
				makePc(m.from);
			await s.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
			await flushCands();
			await s.pc.setLocalDescription();
			send({ type: 'answer', to: m.from, sdp: s.pc.localDescription.sdp });
			return;
		}
		case 'answer':
			if (!s.pc || s.remote !== m.from) {
				log('answer from unexpected peer', m.from);
				return;
			}
			await s.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
			await flushCands();
			return;
		case 'candidate':
			if (!s.pc || s.remote !== m.from) {
				log('candidate from unexpected peer', m.from);
				s.errors.push({ code: 'unexpected-candidate', message: 'from ' + m.from });
				return;
			}
			if (!s.pc.remoteDescription) {
				s.pendingCands.push(m.candidate);
				return;
			}
			await s.pc.addIceCandidate(m.candidate);
			return;
		case 'end-of-candidates':
		case 'bye':
			return;
		default:
			log('unknown message', JSON.stringify(m));
		}
	}

	async function flushCands() {
		const c = s.pendingCands.splice(0);
		for (const x of c)
			await s.pc.addIceCandidate(x);
	}

	function makePc(remote) {
		if (s.pc)
			s.pc.close();
		const pc = new RTCPeerConnection({ iceServers: s.iceServers, iceTransportPolicy: s.policy });
		pcs[pcs.length - 1].harness = true;
		s.pc = pc;
		s.remote = remote;
		s.pendingCands = [];
		pc.onicecandidate = (ev) => {
			if (ev.candidate) {
				send({ type: 'candidate', to: remote, candidate: ev.candidate.toJSON() });
			} else {
				send({ type: 'end-of-candidates', to: remote });
			}
		};
		pc.onicecandidateerror = (ev) => log('candidate error', ev.errorCode, ev.errorText, ev.url);
		pc.onconnectionstatechange = () => log('connection', pc.connectionState);
		return pc;
	}

	async function negotiate() {
		await s.pc.setLocalDescription();
		send({ type: 'offer', to: s.remote, sdp: s.pc.localDescription.sdp });
	}

	function hex(buf) {
		return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
	}

	// The connection the scenario is about.
	function cur() {
		if (s.mode === 'demo')
			return demoRec() || null;
		return (s.pc && pcs.find((r) => r.pc === s.pc)) || null;
	}

	function channel(label) {
		const r = cur();
		return r ? r.channels[label] : undefined;
	}

	async function pairInfo() {
		const rec = cur();
		if (!rec)
			return null;
		const st = await rec.pc.getStats();
		let pairId = null;
		st.forEach((r) => {
			if (r.type === 'transport' && r.selectedCandidatePairId)
				pairId = r.selectedCandidatePairId;
		});
		const pair = pairId && st.get(pairId);
		if (!pair)
			return null;
		const l = st.get(pair.localCandidateId);
		const r = st.get(pair.remoteCandidateId);
		return {
			state: pair.state,
			local: l && l.candidateType,
			remote: r && r.candidateType,
			localAddr: l && l.address + ':' + l.port,
			remoteAddr: r && r.address + ':' + r.port,
			relayProtocol: l && l.relayProtocol,
			bytesSent: pair.bytesSent,
			bytesReceived: pair.bytesReceived,
		};
	}

	return {
		state: s,
		async join(wsUrl, room) {
			s.wsUrl = wsUrl;
			s.room = room;
			const w = await open();
			return { peer: w.peer, resume: w.resume, peers: w.peers, iceServers: w.iceServers };
		},
		// Rejoin on a new socket for fresh credentials (the old one is closed first).
		async rejoin() {
			const old = s.ws;
			if (old)
				old.close();
			const w = await open();
			return { peer: w.peer, iceServers: w.iceServers };
		},
		setPolicy(p) {
			s.policy = p;
		},
		// The iceServers of this page's next connection, in place of the welcome's.
		setIceServers(ice) {
			s.iceServers = ice;
		},
		// Caller side: a fresh connection to remote, with a data channel, and the offer sent.
		async call(remote, label = 'data') {
			makePc(remote);
			s.pc.createDataChannel(label);
			await negotiate();
		},
		// Drive the demo page's call (iceway.js) instead of this harness's own.
		useDemo() {
			s.mode = 'demo';
		},
		useOwn() {
			s.mode = 'own';
		},
		demoCalls() {
			return pcs.filter((r) => !r.harness).length;
		},
		// A new data channel on the current call; iceway.js renegotiates it by itself.
		openChannel(label) {
			const r = cur();
			if (!r)
				throw new Error('no call');
			r.pc.createDataChannel(label);
			if (s.mode === 'own')
				return negotiate();
		},
		channelOpen(label = 'data') {
			const dc = channel(label);
			return !!dc && dc.readyState === 'open';
		},
		connectionState() {
			const r = cur();
			return r ? r.pc.connectionState : 'none';
		},
		signalingState() {
			const r = cur();
			return r ? r.pc.signalingState : 'none';
		},
		// Drops the newest open signaling socket as a network failure would (no leave).
		dropSocket() {
			const ws = live.filter((w) => w.readyState === NativeWS.OPEN).pop();
			if (!ws)
				return false;
			ws.close(4000, 'dropped by test');
			return true;
		},
		sockets() {
			return sockets.map((x) => ({ ...x }));
		},
		candErrors() {
			const r = cur();
			return r ? r.candErrors : [];
		},
		pairInfo,
		// Sends len random bytes on a channel with flow control; returns their SHA-256.
		async sendBlob(label, len) {
			const dc = channel(label);
			const data = new Uint8Array(len);
			for (let off = 0; off < len; off += 65536)
				crypto.getRandomValues(data.subarray(off, Math.min(off + 65536, len)));
			const hash = hex(await crypto.subtle.digest('SHA-256', data));
			const chunk = 16384;
			dc.bufferedAmountLowThreshold = 256 * 1024;
			dc.send(JSON.stringify({ expect: len }));
			for (let off = 0; off < len; off += chunk) {
				if (dc.bufferedAmount > 1024 * 1024)
					await new Promise((r) => (dc.onbufferedamountlow = r));
				dc.send(data.subarray(off, Math.min(off + chunk, len)));
			}
			dc.send(JSON.stringify({ done: true }));
			return hash;
		},
		received(label = 'data') {
			const r = recv[label];
			return r ? { bytes: r.bytes, hash: r.hash, expect: r.expect, pings: r.pings } : null;
		},
		ping(label = 'data') {
			const dc = channel(label);
			if (!dc || dc.readyState !== 'open')
				return false;
			dc.send(JSON.stringify({ ping: Date.now() }));
			return true;
		},
		// Gathers candidates on a throwaway connection and reports them (no signaling).
		async gather(iceServers, policy) {
			const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: policy });
			pcs[pcs.length - 1].harness = true;
			const out = { candidates: [], errors: [] };
			pc.onicecandidateerror = (ev) =>
				out.errors.push({ code: ev.errorCode, text: ev.errorText, url: ev.url });
			const done = new Promise((resolve) => {
				pc.onicecandidate = (ev) => {
					if (!ev.candidate)
						return resolve();
					out.candidates.push({ type: ev.candidate.type, address: ev.candidate.address,
						port: ev.candidate.port, url: ev.url });
				};
			});
			pc.createDataChannel('probe');
			await pc.setLocalDescription();
			await done;
			pc.close();
			return out;
		},
		async inbound() {
			const r = cur();
			if (!r)
				return null;
			const st = await r.pc.getStats();
			const out = { video: null, audio: null };
			st.forEach((r) => {
				if (r.type !== 'inbound-rtp')
					return;
				if (r.kind === 'video')
					out.video = { framesDecoded: r.framesDecoded || 0, packetsReceived: r.packetsReceived || 0 };
				if (r.kind === 'audio')
					out.audio = { packetsReceived: r.packetsReceived || 0 };
			});
			return out;
		},
		// Decodes a PNG in the page and measures it, so that a blank screenshot is caught.
		// rect (CSS pixels, optional) limits the measure to one element's box.
		async imageStats(dataUrl, rect) {
			const img = new Image();
			img.src = dataUrl;
			await img.decode();
			const c = document.createElement('canvas');
			c.width = img.width;
			c.height = img.height;
			const g = c.getContext('2d');
			g.drawImage(img, 0, 0);
			const r = rect ? rect.map((v) => Math.round(v * (img.width / window.innerWidth)))
				: [0, 0, c.width, c.height];
			const px = g.getImageData(r[0], r[1], Math.max(1, r[2]), Math.max(1, r[3])).data;
			const colors = new Set();
			let sum = 0, sum2 = 0, n = 0;
			for (let i = 0; i < px.length; i += 4 * 7) {
				const l = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
				sum += l;
				sum2 += l * l;
				n++;
				if (colors.size < 5000)
					colors.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
			}
			const mean = sum / n;
			return { width: c.width, height: c.height, region: r, colors: colors.size,
				stddev: Math.sqrt(Math.max(0, sum2 / n - mean * mean)) };
		},
	};
})();
