"""Side-by-side benchmarks: ibalgo against backtrader and zipline-reloaded, with plain-Python and numpy floors.

Usage:
    python bench/run.py [--runs 5] [--quick] [--only W1-20,W3] [--no-install]

Every figure is the median of separate whole processes (one process per framework, workload and run, the runs
interleaved). The peers are installed with pip into their own virtual environments under bench/.envs/ on first
use; a peer that cannot be installed is reported and skipped. Each workload checks that every framework placed
the same number of orders. The table is printed as markdown; raw figures go to bench/results/ as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import datasets  # noqa: E402
import envs  # noqa: E402
import report  # noqa: E402

CACHE = HERE / ".cache"
BUNDLED = ROOT / "runtime" / "data" / "sample" / "us-stocks-daily-2000-2013.csv.gz"
OURS, BACKTRADER, ZIPLINE, LOOP, NUMPY = "ibalgo", "backtrader", "zipline-reloaded", "python loop", "numpy"
FRAMEWORKS = (OURS, BACKTRADER, ZIPLINE, LOOP, NUMPY)


@dataclass(frozen=True)
class Workload:
    """One row group of the table: a logic (w1 dual MA, w2 minute schedule, w3 start-up) over one data set."""

    key: str
    logic: str
    dataset: str
    title: str


WORKLOADS = (
    Workload("W1-20", "w1", "daily20", "W1 dual MA 20/50, 20 synthetic symbols x 10 y daily"),
    Workload("W1-100", "w1", "daily100", "W1 dual MA 20/50, 100 synthetic symbols x 10 y daily"),
    Workload("W1-real", "w1", "real", "W1 dual MA 20/50, AAPL IBM MSFT GOOG 2004-08..2012 daily (real)"),
    Workload("W2", "w2", "minute10", "W2 minute bars, 10 symbols x 20 sessions, open+15 / close-30"),
    Workload("W2-1y1", "w2", "minute1y1", "W2 minute bars, 1 symbol x 1 y (2012), open+15 / close-30"),
    Workload("W2-1y5", "w2", "minute1y5", "W2 minute bars, 5 symbols x 1 y (2012), open+15 / close-30"),
    Workload("W3", "w3", "startup1", "W3 start-up: 1 symbol, 250 daily bars"),
    Workload("W6", "w6", "pipeline500", "W6 Pipeline: 2 SMAs, ADV top-100 screen, rank, top 20, monthly; "
             "500 synthetic symbols x 10 y daily"),
)
#: workloads only ibalgo and zipline-reloaded run (no Pipeline in backtrader or the plain references)
PIPELINE_LOGICS = {"w6"}
PIPELINE_DATASETS = {"pipeline500"}


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> tuple[dict | None, str]:
    """One process: its BENCH_RESULT (with 'wall', the whole-process seconds) or None and the error text."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    wall = time.perf_counter() - started
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        tail = "\n".join((proc.stderr.strip() or proc.stdout.strip()).splitlines()[-6:])
        return None, f"exit {proc.returncode}: {tail}"
    result = json.loads(line.removeprefix("BENCH_RESULT "))
    result["wall"] = wall
    return result, ""


class Suite:
    """Runs the workloads for every available framework and collects the raw results."""

    def __init__(self, runs: int, data: dict[str, Path], peers: dict[str, envs.Peer], out: Path) -> None:
        self.runs = runs
        self.data = data
        self.peers = peers
        self.out = out
        self.zipline_env = {**os.environ, "ZIPLINE_ROOT": str(CACHE / "zipline")}

    def command(self, framework: str, w: Workload, run: int) -> tuple[list[str], dict[str, str] | None] | None:
        data = str(self.data[w.dataset])
        if framework == OURS:
            out = str(self.out / f"{w.key}-{run}")
            return [sys.executable, str(HERE / "peers" / "ours.py"), w.logic, data, out], None
        if w.logic in PIPELINE_LOGICS and framework not in (OURS, ZIPLINE):
            return None
        if framework == ZIPLINE and w.logic in PIPELINE_LOGICS:
            peer = self.peers.get(ZIPLINE)
            if peer is None or not peer.ok:
                return None
            return ([str(peer.python), str(HERE / "peers" / "zipline_pipeline.py"), "run", data, _bundle(w.dataset),
                     str(HERE / "algos" / "pipeline_w6.py")], self.zipline_env)
        if framework == BACKTRADER:
            peer = self.peers.get(BACKTRADER)
            if peer is None or not peer.ok:
                return None
            return [str(peer.python), str(HERE / "peers" / "backtrader_bench.py"), w.logic, data], None
        if framework == ZIPLINE:
            peer = self.peers.get(ZIPLINE)
            if peer is None or not peer.ok:
                return None
            return ([str(peer.python), str(HERE / "peers" / "zipline_bench.py"), w.logic, data, _bundle(w.dataset)],
                    self.zipline_env)
        kind = "loop" if framework == LOOP else "numpy"
        return [sys.executable, str(HERE / "peers" / "refs.py"), kind, w.logic, data], None

    def ingest_zipline(self, names: set[str]) -> None:
        """Ingest one zipline bundle per data set (once; again only when the CSV files changed)."""
        peer = self.peers.get(ZIPLINE)
        if peer is None or not peer.ok:
            return
        root = CACHE / "zipline"
        root.mkdir(parents=True, exist_ok=True)
        for name in sorted(names):
            folder = self.data[name]
            stamp = root / f"{_bundle(name)}.stamp"
            fingerprint = _fingerprint(folder)
            if stamp.exists() and stamp.read_text() == fingerprint:
                continue
            log(f"zipline-reloaded: ingesting bundle {_bundle(name)} from {folder.relative_to(ROOT)}")
            runner = "zipline_pipeline.py" if name in PIPELINE_DATASETS else "zipline_bench.py"
            result, error = _run([str(peer.python), str(HERE / "peers" / runner), "ingest", str(folder),
                                  _bundle(name)], self.zipline_env, timeout=1800)
            if result is None:
                peer.error = f"bundle ingest failed for {name}: {error}"
                log(peer.error)
                return
            stamp.write_text(fingerprint)

    def workload(self, w: Workload) -> dict[str, object]:
        meta = datasets.read_meta(self.data[w.dataset])
        found: dict[str, dict[str, object]] = {}
        for framework in FRAMEWORKS:
            if self.command(framework, w, 0) is None:
                peer = self.peers.get(framework)
                if w.logic in PIPELINE_LOGICS and framework not in (OURS, ZIPLINE):
                    found[framework] = {"skipped": "no Pipeline"}
                else:
                    found[framework] = {"skipped": peer.error if peer and peer.error else "not installed"}
            else:
                found[framework] = {"runs": []}
        for run in range(self.runs):
            for framework in FRAMEWORKS:
                entry = found[framework]
                if "runs" not in entry or "error" in entry:
                    continue
                spec = self.command(framework, w, run)
                assert spec is not None
                result, error = _run(*spec)
                if result is None:
                    entry["error"] = error
                    log(f"{w.key} {framework}: FAILED {error}")
                    continue
                entry["runs"].append(result)  # type: ignore[union-attr]
                log(f"{w.key} {framework} run {run + 1}/{self.runs}: loop {result['loop']:.3f} s, whole process "
                    f"{result['wall']:.2f} s, {result['orders']} orders")
        n_symbols = len(meta["symbols"])
        for entry in found.values():
            runs = entry.get("runs")
            if not runs or "error" in entry:
                continue
            median = {k: statistics.median(r[k] for r in runs) for k in ("import", "setup", "loop", "wall")}
            if all("peak_rss_mb" in r for r in runs):
                median["peak_rss_mb"] = statistics.median(r["peak_rss_mb"] for r in runs)
            entry["median"] = median
            entry["orders"] = sorted({r["orders"] for r in runs})
            entry["bars_per_second"] = meta["bars"] * n_symbols / median["loop"] if median["loop"] > 0 else None
        orders = {fw: e["orders"] for fw, e in found.items() if "orders" in e}
        agree = len({tuple(v) for v in orders.values()}) == 1 and all(len(v) == 1 for v in orders.values())
        return {"title": w.title, "symbols": n_symbols, "bars_per_symbol": meta["bars"],
                "bars": meta["bars"] * n_symbols, "frameworks": found, "orders_agree": agree,
                "orders": orders}


def _bundle(dataset: str) -> str:
    return f"ibalgo-bench-{dataset}"


def _fingerprint(folder: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def optional_script(name: str, out: Path, runs: int, quick_args: tuple[str, ...] = (), quick: bool = False
                    ) -> dict[str, object]:
    """Run bench/NAME.py (written separately) if present, passing only the options its ``--help`` lists:
    ``--runs N`` and ``--out FILE`` (or ``--json FILE``) for its JSON figures, and ``quick_args`` in --quick."""
    script = HERE / name
    if not script.exists():
        return {"status": "not available yet", "detail": f"bench/{name} is not there yet"}
    target = out / f"{script.stem}.json"
    usage = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True,
                           timeout=120, check=False).stdout
    cmd = [sys.executable, str(script)]
    if "--runs" in usage:
        cmd += ["--runs", str(runs)]
    for flag in ("--out", "--json"):
        if flag in usage:
            cmd += [flag, str(target)]
            break
    if quick:
        cmd += [a for i, a in enumerate(quick_args) if a in usage or (i and quick_args[i - 1] in usage)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr.strip() or proc.stdout.strip()).splitlines()[-6:])
        return {"status": "failed", "detail": tail, "wall": wall}
    figures = json.loads(target.read_text()) if target.exists() else None
    return {"status": "ok", "figures": figures, "stdout": proc.stdout[-2000:], "wall": wall, "command": cmd[1:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="separate process runs per figure (median; default 5)")
    parser.add_argument("--quick", action="store_true", help="1 run each, fewer TCP round trips (about 2 minutes)")
    parser.add_argument("--only", help="comma-separated workload keys (" + ", ".join(w.key for w in WORKLOADS) +
                        ", W4, M1, W5); without it everything runs")
    parser.add_argument("--no-install", action="store_true", help="use installed peers only, never run pip")
    parser.add_argument("--json", help="where the raw results go (default bench/results/bench-<time>.json)")
    opts = parser.parse_args(argv)
    runs = 1 if opts.quick else opts.runs
    if runs < 1:
        parser.error("--runs must be at least 1")
    chosen = [w for w in WORKLOADS if not opts.only or w.key in opts.only.split(",")]
    started = time.perf_counter()
    log("data sets (generated once under bench/.cache/data) ...")
    data = datasets.ensure_all(CACHE / "data", BUNDLED, {w.dataset for w in chosen})
    peers: dict[str, envs.Peer] = {}
    for name in (BACKTRADER, ZIPLINE):
        folder_python = envs.ENVS / name / "bin" / "python"
        if opts.no_install and not folder_python.exists():
            peers[name] = envs.Peer(name, None, None, "not installed (--no-install)")
        else:
            peers[name] = envs.ensure_peer(name, log)
        peer = peers[name]
        log(f"{name}: {peer.version}" if peer.ok else f"{name}: SKIPPED ({peer.error})")
    results: dict[str, object] = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine(), "runs": runs,
        "peers": {n: {"version": p.version, "error": p.error} for n, p in peers.items()},
        "lumibot": "not run: optional peer, no lumibot strategies in this suite yet",
    }
    with tempfile.TemporaryDirectory(prefix="ibalgo-bench-") as tmp:
        out = Path(tmp)
        suite = Suite(runs, data, peers, out)
        suite.ingest_zipline({w.dataset for w in chosen})
        results["workloads"] = {w.key: suite.workload(w) for w in chosen}
        wanted = set(opts.only.split(",")) if opts.only else None
        if wanted is None or "W4" in wanted:
            log("W4 (the simulated gateway with the raw ibapi client) ...")
            results["W4"] = optional_script("bench_gateway.py", out, runs, ("--seconds", "2", "--orders", "300"),
                                           opts.quick)
            log("W4 (the runtime's live path: engine, adapter, ibapi, simulated gateway) ...")
            results["W4-runtime"] = optional_script("bench_live.py", out, runs, ("--orders", "300"), opts.quick)
        if wanted is None or "M1" in wanted:
            log("M1 (minute backtests in bounded memory: 1/5/20 symbols x 1/10 years) ...")
            results["M1"] = optional_script("bench_minute.py", out, runs, ("--cases", "1x1,5x1,20x1,1x10"),
                                           opts.quick)
        if wanted is None or "W5" in wanted:
            log("W5 (simulated scheduler) ...")
            results["W5"] = optional_script("bench_scheduler.py", out, max(runs, 3))
        if wanted is None:
            log("reference: loopback TCP round trips ...")
            tcp, error = _run([sys.executable, str(HERE / "peers" / "refs.py"), "tcp",
                               "5000" if opts.quick else "20000"])
            results["tcp"] = tcp if tcp is not None else {"error": error}
    results["seconds"] = time.perf_counter() - started
    target = Path(opts.json) if opts.json else HERE / "results" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=1) + "\n")
    sys.stdout.write(report.table(results) + "\n")
    sys.stdout.write(f"\nraw results: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}; "
                     f"whole bench {results['seconds'] / 60:.1f} min\n")
    failed = [k for k, v in results["workloads"].items() if not v["orders_agree"]]  # type: ignore[union-attr]
    if failed:
        sys.stdout.write(f"ORDER COUNTS DISAGREE in {', '.join(failed)}: the signal logic is not the same\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
