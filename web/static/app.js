/*
 * smpweb's page: the session drawn from smpweb's WebSocket. Messages are
 * queued as they arrive and applied once per animation frame, and the dots
 * live on an off-screen layer repainted one dot at a time as fates change,
 * so a 100k-dot plan costs one blit per frame, not 100k draws.
 *
 * Messages (JSON, field "t"): hello (envelope), plan (ids, x, y), fates (one
 * digit per dot: 0 undelivered, 1 delivered, 2 uncertain, 3 accepted as is),
 * status / event / dot (smpd's own objects in "m", docs/protocol.md), feed
 * (how long since smpweb heard from smpd).
 */
'use strict';

const FATE_COLOURS = ['#3d4452', '#2fbf71', '#f5a623', '#8e6cd8'];
const STALE_S = 3;

const model = {
  n: 0, ids: null, x: null, y: null, fate: null, idIndex: new Map(),
  envelope: null, status: null, state: 'connecting', lastDot: -1,
  grid: null, lastStatusAt: 0, feedAge: -1, wsOpen: false, lost: 0,
  messages: 0, planNote: '',
};

const $ = (id) => document.getElementById(id);
const canvas = $('map');
const ctx = canvas.getContext('2d');
const layer = document.createElement('canvas');
const lctx = layer.getContext('2d');
let view = { s: 1, ox: 0, oy: 0, r: 2 };
let queue = [];
let dirtyDots = [];
let fullRepaint = true;
let ws = null;
let retryMs = 500;

/* ---------------------------------------------------------- geometry */

function fitView() {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(100, Math.round(canvas.clientWidth * dpr));
  if (canvas.width !== w || canvas.height !== w) {
    canvas.width = canvas.height = w;
  }
  layer.width = layer.height = w;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  /* The plan fills the view when there is one (the envelope is outlined
   * where it shows); the envelope otherwise. Both axes share one scale. */
  if (model.envelope && model.n === 0) {
    x0 = model.envelope.min[0]; x1 = model.envelope.max[0];
    y0 = model.envelope.min[1]; y1 = model.envelope.max[1];
  }
  for (let i = 0; i < model.n; i++) {
    const x = model.x[i], y = model.y[i];
    if (x < x0) x0 = x; if (x > x1) x1 = x;
    if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  if (!isFinite(x0)) { x0 = -10; x1 = 10; y0 = -10; y1 = 10; }
  const span = Math.max(x1 - x0, y1 - y0, 5) * 1.1;
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  view.s = w / span;                          /* pixels per mm, both axes */
  view.ox = w / 2 - cx * view.s;
  view.oy = w / 2 + cy * view.s;              /* y grows upwards on the machine */
  /* A dot is drawn 0.3 mm wide, at least 2 px, so that dense plans stay a
   * surface and sparse ones still show each insertion. */
  view.r = Math.max(1, Math.min(8, 0.15 * view.s));
  fullRepaint = true;
}

const px = (x) => view.ox + x * view.s;
const py = (y) => view.oy - y * view.s;

function buildGrid() {
  const g = new Map();
  for (let i = 0; i < model.n; i++) {
    const k = Math.floor(model.x[i]) + ',' + Math.floor(model.y[i]);
    let c = g.get(k);
    if (!c) g.set(k, c = []);
    c.push(i);
  }
  model.grid = g;
}

/* The undelivered dot under the needle (within 0.05 mm), or -1. */
function dotUnderNeedle(x, y) {
  if (!model.grid) return -1;
  let best = -1, bd = 0.05;
  for (let gx = Math.floor(x) - 1; gx <= Math.floor(x) + 1; gx++)
    for (let gy = Math.floor(y) - 1; gy <= Math.floor(y) + 1; gy++) {
      const c = model.grid.get(gx + ',' + gy);
      if (!c) continue;
      for (const i of c) {
        const d = Math.hypot(model.x[i] - x, model.y[i] - y);
        if (d <= bd && model.fate[i] !== 1) { bd = d; best = i; }
      }
    }
  return best;
}

/* ---------------------------------------------------------- drawing */

function paintDot(i) {
  lctx.fillStyle = FATE_COLOURS[model.fate[i]] || FATE_COLOURS[0];
  const r = view.r;
  if (r < 3) {                      /* dense plans: a square is a pixel's worth */
    lctx.fillRect(px(model.x[i]) - r, py(model.y[i]) - r, 2 * r, 2 * r);
  } else {
    lctx.beginPath();
    lctx.arc(px(model.x[i]), py(model.y[i]), r, 0, 2 * Math.PI);
    lctx.fill();
  }
}

function paintLayer() {
  lctx.clearRect(0, 0, layer.width, layer.height);
  if (model.envelope) {
    const e = model.envelope;
    lctx.strokeStyle = '#2a2f38';
    lctx.lineWidth = 1;
    lctx.strokeRect(px(e.min[0]), py(e.max[1]), (e.max[0] - e.min[0]) * view.s,
                    (e.max[1] - e.min[1]) * view.s);
  }
  /* Undelivered first so that fates on top stay visible where dots touch. */
  for (let pass = 0; pass < 4; pass++)
    for (let i = 0; i < model.n; i++)
      if (model.fate[i] === pass) paintDot(i);
}

function render() {
  if (fullRepaint) { paintLayer(); fullRepaint = false; dirtyDots = []; }
  for (const i of dirtyDots) paintDot(i);
  dirtyDots = [];
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(layer, 0, 0);
  const st = model.status;
  const wpos = st && Array.isArray(st.wpos) ? st.wpos : null;
  let cur = -1;
  if (wpos && (model.state === 'running' || model.state === 'resuming'))
    cur = dotUnderNeedle(wpos[0], wpos[1]);
  if (cur < 0) cur = model.lastDot;
  if (cur >= 0 && cur < model.n) {
    ctx.strokeStyle = '#4db8ff';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(px(model.x[cur]), py(model.y[cur]), view.r + 5, 0, 2 * Math.PI);
    ctx.stroke();
  }
  if (wpos) {
    const x = px(wpos[0]), y = py(wpos[1]);
    ctx.strokeStyle = st.needle ? '#ff4d4f' : '#ffffff';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x - 10, y); ctx.lineTo(x + 10, y);
    ctx.moveTo(x, y - 10); ctx.lineTo(x, y + 10);
    ctx.stroke();
  }
}

/* ---------------------------------------------------------- text */

function hms(s) {
  if (typeof s !== 'number' || !isFinite(s) || s < 0) return '–';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
  return (h ? h + ':' : '') + String(m).padStart(h ? 2 : 1, '0') + ':' +
         String(x).padStart(2, '0');
}

function showStatus() {
  const st = model.status;
  if (!st) return;
  const d = st.dots || {};
  const total = d.total || 0, done = d.delivered || 0;
  $('state').textContent = st.state || '?';
  document.querySelector('.state').className = 'state state-' + (st.state || '');
  $('reason').textContent = st.reason || '';
  $('machine').textContent = st.machine || '';
  $('dots').textContent = done + ' / ' + total;
  const pct = total ? (100 * done / total) : 0;
  $('pct').textContent = total ? pct.toFixed(1) + ' %' : '–';
  $('bar').style.width = pct + '%';
  $('rate').textContent = st.elapsed_s > 0 ? (done / st.elapsed_s * 60).toFixed(1) : '–';
  $('elapsed').textContent = hms(st.elapsed_s);
  $('eta').textContent = st.eta_s == null ? '–' : hms(st.eta_s);
  $('needle').textContent = st.needle ? 'ON' : 'off';
  $('needle').className = st.needle ? 'on' : '';
  $('uncertain').textContent = (d.uncertain || 0) + (d.acked ? ' (+' + d.acked + ' accepted)' : '');
  $('controller').textContent = st.controller || '–';
  $('link').textContent = st.link || '–';
  $('pos').textContent = Array.isArray(st.wpos) ? st.wpos.map((v) => v.toFixed(2)).join(', ') : '–';
}

function describe(e) {
  switch (e.type) {
    case 'transition': return e.from + ' → ' + e.to + (e.reason ? ': ' + e.reason : '');
    case 'alarm': return 'ALARM ' + e.code + ': ' + e.message;
    case 'error': return 'error ' + e.code + ': ' + e.message + (e.dot >= 0 ? ' (dot ' + e.dot + ')' : '');
    case 'session_start': return 'session started: ' + e.dots + ' dots, estimate ' + hms(e.estimate_s);
    case 'session_end': return 'session ' + e.result + ': ' + e.delivered + ' of ' + e.total +
      ' delivered, ' + e.uncertain + ' uncertain, ' + hms(e.elapsed_s);
    case 'uncertain': return 'uncertain dots ' + (e.ids || []).join(', ') + (e.message ? ': ' + e.message : '');
    case 'done': return e.op + (e.ok ? ' done' : ' FAILED') + (e.message ? ': ' + e.message : '');
    default: return e.type + (e.message ? ': ' + e.message : '');
  }
}

function addEvent(e) {
  const li = document.createElement('li');
  li.className = e.type || '';
  const t = document.createElement('time');
  t.textContent = typeof e.ts === 'number' ? new Date(e.ts * 1000).toLocaleTimeString() : '';
  li.appendChild(t);
  li.appendChild(document.createTextNode(describe(e)));
  const list = $('events');
  list.insertBefore(li, list.firstChild);
  while (list.childNodes.length > 200) list.removeChild(list.lastChild);
}

function showBanner() {
  const now = performance.now() / 1000;
  let text = '';
  if (!model.wsOpen)
    text = 'No connection to smpweb: reconnecting…';
  else if (model.feedAge < 0 && now - model.openedAt > STALE_S)
    text = 'smpd has not been heard from: the daemon is not running or not reachable';
  else if (model.feedAge > STALE_S || (model.lastStatusAt && now - model.lastStatusAt > STALE_S + 1))
    text = 'No status from smpd for ' + Math.round(Math.max(model.feedAge, now - model.lastStatusAt)) +
      ' s: the daemon is gone or not reachable';
  else if (model.status && model.status.link && model.status.link !== 'up')
    text = 'Controller link ' + model.status.link + ' (' + (model.status.reason || model.status.state) + ')';
  const b = $('banner');
  b.hidden = text === '';
  b.textContent = text;
}

/* ---------------------------------------------------------- messages */

function apply(msg) {
  model.messages++;
  switch (msg.t) {
    case 'hello':
      /* A (re)connection: the backlog that follows replaces the list. */
      $('events').textContent = '';
      model.envelope = msg.envelope || null;
      fitView();
      break;
    case 'plan':
      model.n = msg.n;
      model.ids = msg.ids;
      model.x = Float64Array.from(msg.x);
      model.y = Float64Array.from(msg.y);
      model.fate = new Uint8Array(model.n);
      model.idIndex = new Map();
      for (let i = 0; i < model.n; i++) model.idIndex.set(model.ids[i], i);
      model.lastDot = -1;
      model.planNote = msg.note || (model.n ? '' : 'no plan geometry yet');
      $('plannote').textContent = model.planNote;
      buildGrid();
      fitView();
      break;
    case 'fates':
      for (let i = 0; i < model.n && i < msg.f.length; i++)
        model.fate[i] = msg.f.charCodeAt(i) - 48;
      fullRepaint = true;
      break;
    case 'status':
      model.status = msg.m;
      model.state = msg.m.state || model.state;
      model.lastStatusAt = performance.now() / 1000;
      break;
    case 'dot': {
      const i = msg.m.index;
      if (i >= 0 && i < model.n && model.ids[i] === msg.m.id) {
        model.fate[i] = 1;
        model.lastDot = i;
        dirtyDots.push(i);
      }
      break;
    }
    case 'event': {
      const e = msg.m;
      addEvent(e);
      if (e.type === 'transition' && e.to) model.state = e.to;
      if (e.type === 'uncertain' && Array.isArray(e.ids))
        for (const id of e.ids) {
          const i = model.idIndex.get(id);
          if (i !== undefined) { model.fate[i] = 2; dirtyDots.push(i); }
        }
      break;
    }
    case 'feed':
      model.feedAge = msg.age_s;
      model.lost = msg.lost;
      break;
  }
}

function frame() {
  const batch = queue;
  queue = [];
  let statusChanged = false;
  for (const m of batch) {
    apply(m);
    if (m.t === 'status') statusChanged = true;
  }
  if (statusChanged) showStatus();
  showBanner();
  render();
  requestAnimationFrame(frame);
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const tok = new URLSearchParams(location.search).get('token');
  ws = new WebSocket(proto + location.host + '/ws' + (tok ? '?token=' + encodeURIComponent(tok) : ''), 'smpweb');
  ws.onopen = () => { model.wsOpen = true; model.openedAt = performance.now() / 1000; retryMs = 500; };
  ws.onmessage = (ev) => {
    try { queue.push(JSON.parse(ev.data)); } catch (e) { /* not ours */ }
  };
  ws.onclose = () => {
    model.wsOpen = false;
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 5000);
  };
}

/* For tests and the curious: the page's own view of the session. */
window.smpweb = {
  model,
  counts() {
    const c = [0, 0, 0, 0];
    for (let i = 0; i < model.n; i++) c[model.fate[i]]++;
    return { total: model.n, pending: c[0], delivered: c[1], uncertain: c[2], acked: c[3] };
  },
  banner() { return $('banner').hidden ? '' : $('banner').textContent; },
  /* Figures for the 100k-dot check: a full repaint of the dot layer, and a
   * frame applying k dot messages (the worst batch a frame sees at speed). */
  bench(k) {
    const t0 = performance.now();
    fullRepaint = true;
    render();
    const t1 = performance.now();
    const saved = model.fate.slice();
    for (let i = 0; i < k && i < model.n; i++)
      queue.push({ t: 'dot', m: { id: model.ids[i], index: i, t: 0, how: 'dwell' } });
    const batch = queue; queue = [];
    const t2 = performance.now();
    for (const m of batch) apply(m);
    render();
    const t3 = performance.now();
    let s = 0;
    for (let r = 0; r < 20; r++) { const a = performance.now(); render(); s += performance.now() - a; }
    model.fate.set(saved); fullRepaint = true;
    return { dots: model.n, full_repaint_ms: t1 - t0, frame_with_k_dots_ms: t3 - t2, k,
             idle_frame_ms: s / 20 };
  },
};

window.addEventListener('resize', fitView);
fitView();
connect();
requestAnimationFrame(frame);
