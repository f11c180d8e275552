// iceway.js: a small browser client for iceway-signal. No dependencies; an ES module.
//
//   import { Signaling, Call } from '/iceway.js';
//   const sig = new Signaling('ws://127.0.0.1:8080/ws', { room: 'demo' });
//   // the newcomer calls the peers already there; they answer its offer
//   const calls = new Map();
//   sig.addEventListener('peer', (e) => calls.set(e.detail.peer, new Call(sig, e.detail.peer)));
//   sig.addEventListener('signal', (e) => {
//     if (e.detail.type === 'offer' && !calls.has(e.detail.from))
//       calls.set(e.detail.from, new Call(sig, e.detail.from, { offer: e.detail }));
//   });
//   sig.connect();
//
// Signaling keeps one WebSocket, joins the room, reconnects with exponential backoff and
// jitter, and rejoins with the resume token so the peer id survives a reconnect.
// Call runs "perfect negotiation" (W3C WebRTC §10.7) with trickle ICE over it.

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;

export class Signaling extends EventTarget {
  // url: the /ws endpoint; opts: { room, peer?, token? (JWT, sent as access_token) }
  constructor(url, opts = {}) {
    super();
    this.url = url;
    this.room = opts.room;
    this.token = opts.token || null;
    this.peer = opts.peer || null; // our id once welcomed
    this.resume = null;
    this.iceServers = [];
    this.peers = new Set();
    this.state = 'new';
    this.ws = null;
    this.attempt = 0;
    this.closedByUser = false;
    this.timer = null;
  }

  connect() {
    this.closedByUser = false;
    this._open();
  }

  close() {
    this.closedByUser = true;
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.close(1000, 'leaving');
      this.ws = null;
    }
    this._setState('closed');
  }

  // Send a message to one peer: type is offer, answer, candidate, end-of-candidates or bye.
  send(to, type, fields = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ ...fields, type, to }));
    return true;
  }

  _setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: { state: s } }));
  }

  _open() {
    const u = new URL(this.url, location.href);
    if (this.token) u.searchParams.set('access_token', this.token);
    this._setState(this.attempt ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(u.toString());
    this.ws = ws;
    ws.onopen = () => {
      const join = { type: 'join', room: this.room };
      if (this.peer) join.peer = this.peer;
      if (this.peer && this.resume) join.resume = this.resume;
      ws.send(JSON.stringify(join));
    };
    ws.onmessage = (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      this._onMessage(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      // 4001: another tab resumed our id; 1008: the server refused us. Do not fight it.
      if (this.closedByUser || ev.code === 4001 || ev.code === 1008) {
        this._setState('closed');
        this.dispatchEvent(new CustomEvent('closed', { detail: { code: ev.code, reason: ev.reason } }));
        return;
      }
      this._setState('reconnecting');
      // Exponential backoff with full jitter, so that a restarted server is not hit by every
      // client at the same instant.
      const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
      this.attempt++;
      this.timer = setTimeout(() => this._open(), Math.random() * cap);
    };
  }

  _onMessage(m) {
    switch (m.type) {
      case 'welcome': {
        const resumed = m.resumed;
        this.attempt = 0;
        this.peer = m.peer;
        this.resume = m.resume;
        this.iceServers = m.iceServers || [];
        this.peers = new Set(m.peers);
        this._setState('open');
        this.dispatchEvent(new CustomEvent('welcome', { detail: m }));
        if (!resumed) for (const p of m.peers) this.dispatchEvent(new CustomEvent('peer', { detail: { peer: p } }));
        break;
      }
      case 'peer-joined':
        this.peers.add(m.peer);
        this.dispatchEvent(new CustomEvent('peer-joined', { detail: m }));
        break;
      case 'peer-left':
        this.peers.delete(m.peer);
        this.dispatchEvent(new CustomEvent('peer-left', { detail: m }));
        break;
      case 'error':
        // A resume token the server no longer knows: join again with a fresh id.
        if (m.code === 'peer-id-taken' && this.resume) {
          this.peer = null;
          this.resume = null;
          this.ws.send(JSON.stringify({ type: 'join', room: this.room }));
        }
        this.dispatchEvent(new CustomEvent('error', { detail: m }));
        break;
      default:
        this.dispatchEvent(new CustomEvent('signal', { detail: m }));
    }
  }
}

// One RTCPeerConnection to one remote peer, negotiated with perfect negotiation: the peer
// with the smaller id is polite and yields on glare.
export class Call extends EventTarget {
  // opts: { relayOnly, dataChannel (bool), stream (MediaStream), offer (the signal message
  // with the remote peer's offer, when this call answers one) }
  constructor(sig, remote, opts = {}) {
    super();
    this.sig = sig;
    this.remote = remote;
    this.polite = sig.peer < remote;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.pc = new RTCPeerConnection({
      iceServers: sig.iceServers,
      iceTransportPolicy: opts.relayOnly ? 'relay' : 'all',
    });
    this.pc.onicecandidate = ({ candidate }) => {
      if (candidate) sig.send(remote, 'candidate', { candidate: candidate.toJSON() });
      else sig.send(remote, 'end-of-candidates');
    };
    this.pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await this.pc.setLocalDescription();
        sig.send(remote, this.pc.localDescription.type, { sdp: this.pc.localDescription.sdp });
        this._emit('negotiation', { step: `${this.pc.localDescription.type} sent` });
      } catch (e) {
        this._emit('failure', { error: String(e) });
      } finally {
        this.makingOffer = false;
      }
    };
    this.pc.onconnectionstatechange = () => {
      this._emit('state', { state: this.pc.connectionState });
      if (this.pc.connectionState === 'connected') this.selectedCandidateType().then((t) => this._emit('selected', t));
    };
    this.pc.ontrack = (ev) => this._emit('track', { track: ev.track, streams: ev.streams });
    this.pc.ondatachannel = (ev) => this._channel(ev.channel);
    this.onSignal = (ev) => this._onSignal(ev.detail);
    sig.addEventListener('signal', this.onSignal);
    if (opts.stream) for (const t of opts.stream.getTracks()) this.pc.addTrack(t, opts.stream);
    // The caller opens the channel (its offer carries it); the answerer gets it by ondatachannel.
    if (opts.dataChannel && !opts.offer) this._channel(this.pc.createDataChannel('chat'));
    // Created while that offer's 'signal' event is dispatched: the listener above misses it.
    // A microtask later, so the caller's listeners on this call are in place.
    if (opts.offer) queueMicrotask(() => this._onSignal(opts.offer));
  }

  send(text) {
    if (this.dc && this.dc.readyState === 'open') this.dc.send(text);
  }

  hangup() {
    this.sig.send(this.remote, 'bye');
    this.close();
  }

  close() {
    this.sig.removeEventListener('signal', this.onSignal);
    this.pc.close();
    this._emit('state', { state: 'closed' });
  }

  // { local, remote }: candidate types (host, srflx, prflx, relay) of the selected pair.
  async selectedCandidateType() {
    const stats = await this.pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
    if (!pair) return { local: null, remote: null };
    const l = stats.get(pair.localCandidateId);
    const r = stats.get(pair.remoteCandidateId);
    return { local: l && l.candidateType, remote: r && r.candidateType };
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _channel(dc) {
    this.dc = dc;
    dc.onopen = () => this._emit('channel-open', {});
    dc.onmessage = (ev) => this._emit('message', { data: ev.data });
  }

  async _onSignal(m) {
    if (m.from !== this.remote) return;
    try {
      if (m.type === 'offer' || m.type === 'answer') {
        const collision = m.type === 'offer' && (this.makingOffer || this.pc.signalingState !== 'stable');
        this.ignoreOffer = !this.polite && collision;
        this._emit('negotiation', { step: `${m.type} received${this.ignoreOffer ? ', ignored (both offered; the other side yields)' : ''}` });
        if (this.ignoreOffer) return;
        await this.pc.setRemoteDescription({ type: m.type, sdp: m.sdp });
        if (m.type === 'offer') {
          await this.pc.setLocalDescription();
          this.sig.send(this.remote, 'answer', { sdp: this.pc.localDescription.sdp });
          this._emit('negotiation', { step: 'answer sent' });
        }
      } else if (m.type === 'candidate') {
        try {
          await this.pc.addIceCandidate(m.candidate);
        } catch (e) {
          if (!this.ignoreOffer) throw e;
        }
      } else if (m.type === 'end-of-candidates') {
        await this.pc.addIceCandidate();
      } else if (m.type === 'bye') {
        this.close();
      }
    } catch (e) {
      this._emit('failure', { error: String(e) });
    }
  }
}
