"""The HTML page shared by ``report.html`` and the live page of a run: one renderer (JavaScript) drawing a snapshot.

A snapshot is a JSON object: ``title``, ``subtitle``, ``version``, ``status`` (rows of label/value: the live page's
connection and account), ``summary`` (rows), ``charts`` (plotly figure specs from :mod:`runtime.report.figures`),
``tables``, ``log`` and ``errors`` (lines). ``report.html`` embeds plotly.js and one snapshot (a single file that
works offline); the live page loads plotly.js from its own server and fetches a fresh snapshot every second.

Size: the charts' shared x values (the session dates) are sent once, in ``axes``, and a trace names them
(``"x": "@0"``); the report embeds plotly.js gzip-compressed (base64, about 2 MB instead of 4.8 MB), unpacked by the
browser's own ``DecompressionStream`` (Chrome/Edge 80+, Firefox 113+, Safari 16.4+). The compressed copy is made
once per plotly version and kept in the cache folder (``IBALGO_CACHE_DIR``, else ``~/.cache/ibalgo``); without a
writable cache the page embeds plotly.js as it is.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from runtime.errors import IbAlgoError

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222;
       background: #f3f4f6; }
header { background: #1f3b57; color: white; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; font-weight: 600; }
header .sub { opacity: .8; font-size: 13px; margin-top: 4px; }
main { padding: 16px 24px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
.card { background: white; border-radius: 6px; box-shadow: 0 1px 2px rgba(0,0,0,.12); padding: 10px 14px;
        overflow: auto; }
.card h2 { font-size: 15px; margin: 4px 0 8px; font-weight: 600; }
.kv { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 4px 18px; font-size: 13px; }
.kv div { display: flex; justify-content: space-between; border-bottom: 1px solid #eee; padding: 3px 0; }
.kv span:first-child { color: #555; }
.kv span:last-child { font-weight: 600; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; font-size: 12px; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th { background: #f7f7f9; position: sticky; top: 0; }
td:first-child, th:first-child { text-align: left; }
.scroll { max-height: 340px; overflow: auto; }
pre { font-size: 12px; margin: 0; max-height: 260px; overflow: auto; white-space: pre-wrap; }
pre.errors { color: #b00020; }
.note { color: #666; font-size: 12px; margin-top: 4px; }
.state-ok { color: #2ca02c; } .state-bad { color: #d62728; }
"""

_RENDERER = r"""
function esc(v) {
  if (v === null || v === undefined) return "";
  return String(v).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
}
function section(id, title, parent) {
  let el = document.getElementById(id);
  if (!el) {
    el = document.createElement("div"); el.id = id; el.className = "card";
    el.innerHTML = "<h2>" + esc(title) + "</h2><div class='body'></div>";
    document.getElementById(parent).appendChild(el);
  }
  return el.querySelector(".body");
}
function kv(rows) {
  return "<div class='kv'>" + rows.map(r => "<div><span>" + esc(r[0]) + "</span><span class='" +
    esc(r[2] || "") + "'>" + esc(r[1]) + "</span></div>").join("") + "</div>";
}
function tableHtml(t) {
  let h = "<div class='scroll'><table><thead><tr>" + t.columns.map(c => "<th>" + esc(c) + "</th>").join("") +
    "</tr></thead><tbody>";
  h += t.rows.map(r => "<tr>" + r.map(v => "<td>" + esc(v) + "</td>").join("") + "</tr>").join("");
  h += "</tbody></table></div>";
  if (t.rows.length === 0) h += "<div class='note'>none</div>";
  else if (t.total > t.rows.length) h += "<div class='note'>newest " + t.rows.length + " of " + t.total +
    " rows (the CSV files hold all)</div>";
  return h;
}
function render(snap) {
  document.title = snap.title;
  document.getElementById("title").textContent = snap.title;
  document.getElementById("subtitle").textContent = snap.subtitle || "";
  document.body.dataset.version = snap.version;
  if (snap.status && snap.status.length) section("status", "Run", "top").innerHTML = kv(snap.status);
  (snap.panels || []).forEach(p => { section("panel-" + p.id, p.title, "top").innerHTML = kv(p.rows); });
  section("summary", "Summary", "top").innerHTML = kv(snap.summary || []);
  const tablesAt = snap.tables_first ? "early" : "tables";
  (snap.tables || []).forEach(t => { section("table-" + t.id, t.title, tablesAt).innerHTML = tableHtml(t); });
  // every chart's card first (the grid settles), then the charts, each as wide as its card
  const bodies = (snap.charts || []).map(c => {
    const body = section("chart-" + c.id, c.title, "charts");
    if (!body.firstChild) { const d = document.createElement("div"); body.appendChild(d); }
    return body;
  });
  const axes = snap.axes || [];
  (snap.charts || []).forEach((c, i) => {
    const layout = Object.assign({}, c.figure.layout, {title: undefined});
    const data = c.figure.data.map(t => typeof t.x === "string" && t.x[0] === "@" ?
      Object.assign({}, t, {x: axes[Number(t.x.slice(1))]}) : t);
    Plotly.react(bodies[i].firstChild, data, layout, {responsive: true, displaylogo: false});
  });
  if (snap.log) section("log", "Log (last lines)", "tables").innerHTML = "<pre>" + esc(snap.log.join("\n")) + "</pre>";
  if (snap.errors) section("errors", "Algorithm errors", "tables").innerHTML =
    "<pre class='errors'>" + esc(snap.errors.length ? snap.errors.join("\n") : "none") + "</pre>";
}
"""

_LIVE = r"""
let last = null;
async function poll() {
  try {
    const r = await fetch("snapshot.json", {cache: "no-store"});
    if (r.ok) { const s = await r.json(); if (s.version !== last) { last = s.version; render(s); } }
    document.body.dataset.reachable = "yes";
  } catch (e) { document.body.dataset.reachable = "no";
    document.getElementById("subtitle").textContent = "the run's page server is not answering (run ended?)"; }
  setTimeout(poll, 1000);
}
poll();
"""


_UNPACK = r"""
async function plotlyReady() {
  const packed = document.getElementById("plotly-gz");
  if (!packed || window.Plotly) return;
  if (typeof DecompressionStream === "undefined")
    throw new Error("this browser cannot unpack the report's charts (it needs DecompressionStream: Chrome/Edge 80+, " +
                    "Firefox 113+, Safari 16.4+)");
  const raw = atob(packed.textContent);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const script = document.createElement("script");
  script.text = await new Response(stream).text();
  document.head.appendChild(script);
}
const snapshot = JSON.parse(document.getElementById("snapshot").textContent);
plotlyReady().then(() => render(snapshot)).catch(e => {
  render(Object.assign({}, snapshot, {charts: []}));
  document.getElementById("subtitle").textContent = "charts not drawn: " + e.message;
});
"""


def _plotly_path() -> Path:
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise IbAlgoError("the report needs plotly (pip install 'plotly>=5.18'): it draws the charts")
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise IbAlgoError(f"plotly.js not found at {path}: reinstall plotly")
    return path


def _cache_folder() -> Path | None:
    root = os.environ.get("IBALGO_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "ibalgo")
    return None if root.lower() in ("", "0", "off", "none") else Path(root) / "report"


@functools.lru_cache(maxsize=1)
def plotly_js_packed() -> str | None:
    """plotly.js gzip-compressed and base64-encoded (what ``report.html`` embeds), from the cache folder (made
    there on first use); None when there is no writable cache folder (the page then embeds plotly.js as it is)."""
    path = _plotly_path()
    folder = _cache_folder()
    if folder is None:
        return None
    stat = path.stat()
    key = hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    cached = folder / f"plotly-{key}.js.gz.b64"
    try:
        return cached.read_text(encoding="ascii")
    except OSError:
        pass
    packed = base64.b64encode(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)).decode("ascii")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(packed, encoding="ascii")
        os.replace(tmp, cached)  # atomic: a reader never sees half a file
    except OSError:
        return None  # a read-only home: plotly.js as it is (compressing it every time costs more than it saves)
    return packed


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js as shipped inside the plotly Python package (the page inlines or serves it: no CDN)."""
    return _plotly_path().read_text(encoding="utf-8")


def compact(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``snapshot`` with each x list that several traces share sent once, in ``axes`` (the traces say ``"@i"``)."""
    charts = snapshot.get("charts")
    if not charts:
        return snapshot
    axes: list[list[Any]] = []
    index: dict[int, str] = {}
    out_charts = []
    for chart in charts:
        traces = []
        for trace in chart["figure"]["data"]:
            x = trace.get("x")
            if isinstance(x, list) and len(x) > 12:
                ref = index.get(id(x))
                if ref is None:
                    for i, axis in enumerate(axes):
                        if axis == x:
                            ref = f"@{i}"
                            break
                    else:
                        axes.append(x)
                        ref = f"@{len(axes) - 1}"
                    index[id(x)] = ref
                trace = {**trace, "x": ref}
            traces.append(trace)
        out_charts.append({**chart, "figure": {**chart["figure"], "data": traces}})
    return {**snapshot, "charts": out_charts, "axes": axes}


def snapshot_json(snapshot: dict[str, Any]) -> str:
    """The snapshot as the pages read it (compact JSON, shared axes once; see :func:`compact`)."""
    return json.dumps(compact(snapshot), separators=(",", ":"), allow_nan=False, default=str)


def _json_for_script(snapshot: dict[str, Any]) -> str:
    return snapshot_json(snapshot).replace("</", "<\\/")


def _page(title: str, head_scripts: str, body_script: str, data_block: str = "") -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><style>{_STYLE}</style>{head_scripts}</head><body>"
        "<header><h1 id='title'></h1><div class='sub' id='subtitle'></div></header>"
        "<main><div id='top' class='grid'></div><h3></h3><div id='early' class='grid'></div><h3></h3>"
        "<div id='charts' class='grid'></div><h3></h3>"
        f"<div id='tables' class='grid'></div></main>{data_block}"
        f"<script>{_RENDERER}</script><script>{body_script}</script></body></html>\n"
    )


def report_html(snapshot: dict[str, Any]) -> str:
    """The self-contained ``report.html`` of one snapshot (plotly.js inlined, compressed when the cache allows:
    see the module's notes; works offline)."""
    data = _json_for_script(snapshot)
    packed = plotly_js_packed()
    head = (f"<script type='application/octet-stream' id='plotly-gz'>{packed}</script>" if packed is not None
            else f"<script>{plotly_js()}</script>")
    return _page("ibalgo report", head, _UNPACK, f"<script type='application/json' id='snapshot'>{data}</script>")


def live_html() -> str:
    """The live page: loads plotly.js and snapshots from the run's own loopback server."""
    return _page("ibalgo run", "<script src='plotly.min.js'></script>", _LIVE)
