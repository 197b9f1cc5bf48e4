// The web view's page: one HTML document, its stylesheet and its script, served by ui-server.ts from these
// strings (no framework, nothing fetched from elsewhere; the Content-Security-Policy allows only 'self').
// The script follows the URL's hash (#/ the overview, #/task/<id> one task), opens one EventSource for the
// view and re-renders on each snapshot; it never reloads the page. Built for a phone too: one column under
// 700 px, tables scroll sideways, the least useful columns hide.

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Taskerman</title>
<link rel="stylesheet" href="/app.css">
<link rel="icon" href="data:,">
</head>
<body>
<header>
  <a href="#/" class="brand">Taskerman</a>
  <span id="live" class="live off" data-testid="live-status" title="live updates">connecting</span>
</header>
<div id="banner" class="banner" hidden></div>
<main id="main" data-testid="main"><p class="muted">Loading…</p></main>
<script src="/app.js"></script>
</body>
</html>
`;

export const APP_CSS = String.raw`
:root { --bg: #fff; --fg: #1b1f24; --muted: #6a737d; --line: #e1e4e8; --card: #f6f8fa;
  --ok: #2da44e; --bad: #cf222e; --warn: #bf8700; --run: #0969da; --skip: #8c959f; --int: #fb8500; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #8b949e; --line: #30363d; --card: #161b22; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; justify-content: space-between; padding: .6rem 1rem; border-bottom: 1px solid var(--line); position: sticky; top: 0; background: var(--bg); z-index: 2; }
.brand { font-weight: 700; color: var(--fg); text-decoration: none; font-size: 1.1rem; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.25rem; margin: .2rem 0 .6rem; word-break: break-all; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
a { color: var(--run); }
.muted { color: var(--muted); }
.live { font-size: .8rem; padding: .15rem .55rem; border-radius: 1rem; border: 1px solid var(--line); }
.live.on { color: var(--ok); border-color: var(--ok); }
.live.on::before { content: "● "; }
.live.off { color: var(--warn); border-color: var(--warn); }
.banner { background: var(--warn); color: #000; padding: .4rem 1rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
td.wrap { white-space: normal; min-width: 14rem; }
th { background: var(--card); font-weight: 600; }
tr:last-child td { border-bottom: 0; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; color: #fff; background: var(--skip); }
.s-succeeded, .s-SUCCEEDED { background: var(--ok); }
.s-failed, .s-halted, .s-DEAD, .s-FAILED { background: var(--bad); }
.s-running, .s-routed, .s-routing, .s-STARTED { background: var(--run); }
.s-WAITING, .s-paused { background: var(--warn); }
.s-cancelled, .s-SKIPPED, .s-QUEUED { background: var(--skip); }
.progress { display: flex; height: .7rem; min-width: 8rem; background: var(--line); border-radius: .35rem; overflow: hidden; }
.progress span { display: block; height: 100%; }
.p-ok { background: var(--ok); } .p-dead { background: var(--bad); } .p-skip { background: var(--skip); }
.facts { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; margin: .3rem 0 .8rem; }
.facts div { font-size: .9rem; } .facts b { color: var(--muted); font-weight: 500; margin-right: .3rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: .8rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .7rem .8rem; }
.card h3 { margin: 0 0 .4rem; font-size: .95rem; word-break: break-all; }
.card ul { margin: .2rem 0 .4rem; padding-left: 1.1rem; font-size: .85rem; }
.timeline { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .6rem; }
.tl-row { display: flex; align-items: center; gap: .5rem; height: 1.6rem; }
.tl-label { flex: 0 0 7.5rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-size: .82rem; }
.tl-track { position: relative; flex: 1; height: 1.05rem; background: var(--card); border-radius: 3px; }
.bar { position: absolute; top: 0; height: 100%; min-width: 3px; border-radius: 3px; }
.o-succeeded { background: var(--ok); } .o-failed { background: var(--bad); } .o-running { background: var(--run); }
.o-interrupted { background: var(--int); } .o-cancelled { background: var(--skip); }
.tl-axis { display: flex; justify-content: space-between; margin-left: 8rem; font-size: .75rem; color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: .8rem; font-size: .8rem; margin: .4rem 0; }
.legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
@media (max-width: 700px) {
  main { padding: .6rem; }
  .wide { display: none; }
  .tl-label { flex-basis: 4.5rem; }
  .tl-axis { margin-left: 5rem; }
}
`;

export const APP_JS = String.raw`
(function () {
  'use strict';
  var loads = Number(sessionStorage.getItem('taskerman.loads') || '0') + 1;
  sessionStorage.setItem('taskerman.loads', String(loads));
  var main = document.getElementById('main');
  var live = document.getElementById('live');
  var banner = document.getElementById('banner');
  var source = null;
  var last = null;
  /** The server's clock minus ours: times are shown on the server's clock, which wrote the records. */
  var offset = 0;
  var FINAL = { succeeded: 1, failed: 1, halted: 1, cancelled: 1 };

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function time(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return '<time datetime="' + esc(iso) + '" title="' + esc(iso) + '">' + esc(d.toLocaleTimeString([], { hour12: false })) + '</time>';
  }
  function ago(iso, now) {
    if (!iso) return '';
    var s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.round(s / 60) + 'm ago';
    if (s < 86400) return Math.round(s / 3600) + 'h ago';
    return Math.round(s / 86400) + 'd ago';
  }
  function dur(ms) {
    if (ms < 10000) return (ms / 1000).toFixed(1) + 's';
    var s = Math.round(ms / 1000);
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + (s % 60 ? ' ' + (s % 60) + 's' : '');
    return Math.floor(s / 3600) + 'h ' + Math.round((s % 3600) / 60) + 'm';
  }
  function badge(state, testid) {
    return '<span class="badge s-' + esc(state) + '"' + (testid ? ' data-testid="' + testid + '"' : '') + '>' + esc(state) + '</span>';
  }
  function taskState(t) {
    return t.paused && !FINAL[t.state] ? 'paused' : t.state;
  }
  function progress(t) {
    var n = Math.max(1, t.targets), p = t.progress;
    var pct = function (x) { return (100 * x / n).toFixed(2) + '%'; };
    return '<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="' + t.targets + '" aria-valuenow="' + p.terminal + '" title="' +
      p.succeeded + ' succeeded, ' + p.dead + ' dead, ' + p.skipped + ' skipped of ' + t.targets + '">' +
      '<span class="p-ok" data-w="' + pct(p.succeeded) + '"></span><span class="p-dead" data-w="' + pct(p.dead) + '"></span><span class="p-skip" data-w="' + pct(p.skipped) + '"></span></div>' +
      '<div class="muted" data-testid="progress-text">' + p.terminal + ' / ' + t.targets + ' done' + (p.dead ? ', ' + p.dead + ' dead' : '') + '</div>';
  }
  function table(head, rows, empty) {
    if (!rows.length) return '<p class="muted">' + esc(empty) + '</p>';
    return '<div class="scroll"><table><thead><tr>' + head.map(function (h) {
      return '<th' + (h.wide ? ' class="wide"' : '') + '>' + esc(h.t) + '</th>';
    }).join('') + '</tr></thead><tbody>' + rows.join('') + '</tbody></table></div>';
  }
  function clusterCards(clusters) {
    if (!clusters.length) return '<p class="muted">No cluster has live runners or grants.</p>';
    return '<div class="cards">' + clusters.map(function (c) {
      var g = function (x) { return '<li><b>' + esc(x.node) + '</b> <a href="#/task/' + encodeURIComponent(x.task_id) + '">' + esc(x.task_id) + '</a> ' + time(x.since) + '</li>'; };
      return '<div class="card" data-testid="cluster" data-cluster="' + esc(c.cluster) + '" data-held="' + c.held.length + '" data-waiting="' + c.waiting.length + '">' +
        '<h3>' + esc(c.cluster) + '</h3>' +
        '<div>' + c.held.length + ' grant(s) held · ' + c.waiting.length + ' waiting · ' + c.members.length + ' live runner(s)</div>' +
        (c.held.length ? '<div class="muted">held</div><ul>' + c.held.map(g).join('') + '</ul>' : '') +
        (c.waiting.length ? '<div class="muted">waiting, in order</div><ul>' + c.waiting.map(g).join('') + '</ul>' : '') +
        '</div>';
    }).join('') + '</div>';
  }
  function deadLetters(items) {
    return table([{ t: 'node' }, { t: 'code' }, { t: 'reason' }, { t: 'task' }, { t: 'attempts', wide: 1 }, { t: 'dead at', wide: 1 }, { t: 'queue', wide: 1 }], items.map(function (d) {
      return '<tr data-testid="dead-letter" data-task-id="' + esc(d.task_id) + '" data-node="' + esc(d.node) + '">' +
        '<td>' + esc(d.node) + '</td><td>' + esc(d.code) + '</td><td class="wrap">' + esc(d.reason) + '</td>' +
        '<td>' + (d.task_id ? '<a href="#/task/' + encodeURIComponent(d.task_id) + '">' + esc(d.task_id) + '</a>' : '') + '</td>' +
        '<td class="wide">' + esc(d.attempts) + '</td><td class="wide">' + time(d.dead_at) + '</td><td class="wide">' + esc(d.queue) + '</td></tr>';
    }), 'No dead letters.');
  }

  function renderOverview(d) {
    var now = Date.now() + offset;
    var rows = d.tasks.map(function (t) {
      return '<tr data-testid="task-row" data-task-id="' + esc(t.task_id) + '" data-state="' + esc(taskState(t)) + '">' +
        '<td><a href="#/task/' + encodeURIComponent(t.task_id) + '">' + esc(t.name) + '</a><div class="muted wide">' + esc(t.task_id) + '</div></td>' +
        '<td>' + badge(taskState(t)) + '</td><td>' + progress(t) + '</td>' +
        '<td>' + esc(t.cluster) + '</td><td class="wide">' + esc(t.action) + '</td>' +
        '<td class="wide">' + esc(t.emitted_by) + '</td><td class="wide" title="' + esc(t.emitted_at) + '">' + ago(t.emitted_at, now) + '</td></tr>';
    });
    main.innerHTML = '<h1>Recent tasks</h1>' +
      table([{ t: 'task' }, { t: 'state' }, { t: 'progress' }, { t: 'cluster' }, { t: 'action', wide: 1 }, { t: 'emitted by', wide: 1 }, { t: 'emitted', wide: 1 }], rows, 'No task recorded yet.') +
      '<h2>Clusters</h2>' + clusterCards(d.clusters) +
      '<h2>Dead letters</h2>' + (d.dead_letters_error ? '<p class="muted">' + esc(d.dead_letters_error) + '</p>' : '') + deadLetters(d.dead_letters) +
      '<p class="muted">Dead letters read ' + (d.dead_letters_read_at ? ago(d.dead_letters_read_at, now) : 'not yet') + '.</p>';
  }

  function timeline(d, now) {
    var attempts = [];
    d.nodes.forEach(function (n) { n.history.forEach(function (h) { attempts.push(h); }); });
    if (!attempts.length) return '<p class="muted">No attempt started yet.</p>';
    var t0 = Math.min.apply(null, attempts.map(function (h) { return Date.parse(h.started_at); }));
    var t1 = Math.max.apply(null, attempts.map(function (h) { return h.ended_at ? Date.parse(h.ended_at) : now; }).concat([t0 + 1000]));
    var span = t1 - t0;
    var nodes = d.nodes.slice().sort(function (a, b) {
      var sa = a.history.length ? a.history[0].started_at : '~', sb = b.history.length ? b.history[0].started_at : '~';
      return sa < sb ? -1 : sa > sb ? 1 : a.node < b.node ? -1 : 1;
    });
    var rows = nodes.map(function (n) {
      var bars = n.history.map(function (h) {
        var s = Date.parse(h.started_at), e = h.ended_at ? Date.parse(h.ended_at) : now;
        var left = (100 * (s - t0) / span).toFixed(3), width = Math.max(0.3, 100 * (e - s) / span).toFixed(3);
        var tip = n.node + ' attempt ' + h.attempt + ': ' + h.outcome + ', ' + dur(e - s) + (h.error ? ' — ' + h.error : '');
        return '<div class="bar o-' + esc(h.outcome) + '" data-testid="bar" data-node="' + esc(n.node) + '" data-attempt="' + h.attempt + '" data-outcome="' + esc(h.outcome) + '" data-l="' + left + '%" data-w="' + width + '%" title="' + esc(tip) + '"></div>';
      }).join('');
      return '<div class="tl-row"><div class="tl-label" title="' + esc(n.node) + '">' + esc(n.node) + '</div><div class="tl-track">' + bars + '</div></div>';
    }).join('');
    var ticks = [0, 0.25, 0.5, 0.75, 1].map(function (f) { return '<span>' + (f === 0 ? time(new Date(t0).toISOString()) : '+' + dur(f * span)) + '</span>'; }).join('');
    return '<div class="legend">' + ['succeeded', 'failed', 'running', 'interrupted', 'cancelled'].map(function (o) { return '<span><i class="o-' + o + '"></i>' + o + '</span>'; }).join('') + '</div>' +
      '<div class="timeline" data-testid="timeline">' + rows + '<div class="tl-axis">' + ticks + '</div></div>';
  }

  function renderTask(d) {
    if (d.missing) {
      main.innerHTML = '<p><a href="#/">← all tasks</a></p><h1>' + esc(d.task_id) + '</h1><p class="muted" data-testid="task-missing">No such task in ZooKeeper (never routed, or already cleaned up).</p>';
      return;
    }
    var t = d.task;
    var now = Date.now() + offset;
    var nodes = d.nodes.slice().sort(function (a, b) { return a.node < b.node ? -1 : 1; });
    var rows = nodes.map(function (n) {
      return '<tr data-testid="node-row" data-node="' + esc(n.node) + '" data-state="' + esc(n.state) + '">' +
        '<td>' + esc(n.node) + '</td><td>' + badge(n.state) + '</td><td>' + n.attempts + '</td>' +
        '<td class="wide">' + time(n.started_at) + '</td><td class="wide">' + time(n.ended_at) + '</td>' +
        '<td class="wrap">' + esc(n.error || n.reason || '') + '</td></tr>';
    });
    main.innerHTML = '<p><a href="#/">← all tasks</a></p>' +
      '<h1>' + esc(t.name) + ' ' + badge(taskState(t), 'task-state') + '</h1>' +
      '<div class="facts"><div><b>task</b>' + esc(t.task_id) + '</div><div><b>action</b>' + esc(t.action) + '</div><div><b>cluster</b>' + esc(t.cluster) +
      '</div><div><b>limit</b>' + t.limit + '</div><div><b>by</b>' + esc(t.emitted_by) + '</div><div><b>emitted</b>' + time(t.emitted_at) + '</div>' +
      (t.ended_at ? '<div><b>ended</b>' + time(t.ended_at) + '</div>' : '') + '</div>' +
      (t.reason ? '<p data-testid="task-reason">' + esc(t.reason) + '</p>' : '') +
      progress(t) +
      '<h2>Timeline</h2>' + timeline(d, now) +
      '<h2>Nodes</h2>' + table([{ t: 'node' }, { t: 'state' }, { t: 'attempts' }, { t: 'started', wide: 1 }, { t: 'ended', wide: 1 }, { t: 'error / reason' }], rows, 'No node.') +
      (d.cluster ? '<h2>Cluster</h2>' + clusterCards([d.cluster]) : '') +
      (d.dead_letters && d.dead_letters.length ? '<h2>Dead letters of this task</h2>' + deadLetters(d.dead_letters) : '');
  }

  // Sizes go through the CSSOM, not style attributes: the Content-Security-Policy forbids inline styles.
  function applySizes() {
    main.querySelectorAll('[data-w]').forEach(function (el) { el.style.width = el.getAttribute('data-w'); });
    main.querySelectorAll('[data-l]').forEach(function (el) { el.style.left = el.getAttribute('data-l'); });
  }
  function render() {
    if (!last) return;
    if (last.view === 'task') renderTask(last); else renderOverview(last);
    applySizes();
  }
  function setLive(on) {
    live.className = 'live ' + (on ? 'on' : 'off');
    live.textContent = on ? 'live' : 'reconnecting';
  }
  function connect(view, task) {
    if (source) source.close();
    last = null;
    main.innerHTML = '<p class="muted">Loading…</p>';
    source = new EventSource('/events?view=' + view + (task ? '&task=' + encodeURIComponent(task) : ''));
    source.addEventListener('snapshot', function (e) {
      last = JSON.parse(e.data);
      offset = Date.parse(last.now) - Date.now();
      banner.hidden = true;
      render();
    });
    source.addEventListener('problem', function (e) {
      banner.textContent = 'Cannot read ZooKeeper: ' + JSON.parse(e.data).error + ' (retrying)';
      banner.hidden = false;
    });
    source.onopen = function () { setLive(true); };
    source.onerror = function () { setLive(false); };
  }
  function route() {
    var m = /^#\/task\/(.+)$/.exec(location.hash);
    if (m) connect('task', decodeURIComponent(m[1])); else connect('overview');
    window.scrollTo(0, 0);
  }
  // Snapshots come only when something changed; between them the clock moves on: running attempts grow
  // (every second) and "5s ago" ages (every 5 s).
  var ticks = 0;
  setInterval(function () {
    ticks++;
    if (!last) return;
    if (last.view === 'task' ? last.task && !FINAL[last.task.state] : ticks % 5 === 0) render();
  }, 1000);
  window.addEventListener('hashchange', route);
  route();
})();
`;
