/**
 * The web dashboard served at `/` (SPEC §12.11): one static page, no data in it. Its
 * script polls `/v1/summary` once a second with the token the user typed (kept in
 * localStorage), and its buttons call the admin endpoints.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>subrun pool</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.5em}
table{border-collapse:collapse;min-width:40em}td,th{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left}
.free{color:#175}.held{color:#a50}.maintenance,.quarantined{color:#a11}.resetting{color:#55a}
#err,#msg{color:#a11}button{font:inherit}
</style></head><body>
<h1>subrun pool <small id="updated"></small></h1>
<p><label>Token <input id="token" type="password" size="30" autocomplete="off"></label> <span id="err" role="alert"></span> <span id="msg" role="status"></span></p>
<h2>Pools</h2><table id="pools"><thead><tr><th>type</th><th>total</th><th>free</th><th>held</th><th>out of service</th><th>waiting</th><th>longest wait</th></tr></thead><tbody></tbody></table>
<h2>Resources</h2><table id="resources"><thead><tr><th>id</th><th>attributes</th><th>state</th><th>holder</th><th>fence</th><th></th></tr></thead><tbody></tbody></table>
<h2>Queue</h2><table id="queue"><thead><tr><th>#</th><th>client</th><th>needs</th><th>waiting</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const tokenInput = document.getElementById('token');
tokenInput.value = localStorage.getItem('subrun-pool-token') || '';
tokenInput.addEventListener('change', () => { localStorage.setItem('subrun-pool-token', tokenInput.value); refresh(); });
function headers() { const t = tokenInput.value.trim(); return t ? { authorization: 'Bearer ' + t } : {}; }
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
function secs(ms) { return ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(1) + ' s'; }
async function act(id, what) {
  const r = await fetch('/v1/resources/' + encodeURIComponent(id) + '/' + what, { method: 'POST', headers: headers() });
  const e = await r.json().catch(() => ({}));
  document.getElementById('msg').textContent = r.ok ? id + ': ' + e.resource.state : (e.code || r.status) + ': ' + (e.message || '');
  refresh();
}
function fill(id, rows, render) { const body = document.querySelector('#' + id + ' tbody'); body.textContent = ''; for (const x of rows) render(body.insertRow(), x); }
async function refresh() {
  let s;
  try {
    const r = await fetch('/v1/summary', { headers: headers() });
    s = await r.json();
    if (!r.ok) { document.getElementById('err').textContent = s.code + ': ' + s.message; return; }
  } catch (e) { document.getElementById('err').textContent = 'pool unreachable'; return; }
  document.getElementById('err').textContent = '';
  document.getElementById('updated').textContent = new Date(s.now).toLocaleTimeString();
  fill('pools', s.pools, (row, p) => { cell(row, p.type); cell(row, p.total); cell(row, p.free); cell(row, p.held); cell(row, p.outOfService); cell(row, p.waiting); cell(row, p.longestWaitMs ? secs(p.longestWaitMs) : ''); });
  fill('resources', s.resources, (row, r) => {
    row.dataset.id = r.id;
    cell(row, r.id); cell(row, Object.entries(r.attrs).map(([k, v]) => k + '=' + v).join(', ')); cell(row, r.state, r.state);
    cell(row, r.holder ? r.holder.client + ' (' + secs(r.holder.heldMs) + ')' : ''); cell(row, r.fence || '');
    const b = document.createElement('button'); b.textContent = r.enabled ? 'disable' : 'enable';
    b.addEventListener('click', () => act(r.id, r.enabled ? 'disable' : 'enable')); row.insertCell().appendChild(b);
  });
  fill('queue', s.queue, (row, w) => { cell(row, w.position); cell(row, w.client); cell(row, w.needs.map((n) => n.count + '×' + n.type).join(' + ')); cell(row, secs(w.waitingMs)); });
}
refresh(); setInterval(refresh, 1000);
</script></body></html>
`;
