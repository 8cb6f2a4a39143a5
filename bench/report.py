"""The markdown table of a bench run (what the README keeps)."""

from __future__ import annotations

OURS, BACKTRADER, ZIPLINE = "ibalgo", "backtrader", "zipline-reloaded"
COLUMNS = (OURS, BACKTRADER, ZIPLINE, "python loop", "numpy")
TARGET_LOOP = {BACKTRADER: 10.0, ZIPLINE: 20.0}
TARGET_STARTUP_SECONDS = 1.0
TARGET_PIPELINE_WALL = 5.0  # W6: at least 5x zipline-reloaded for the whole process


def _cell(entry: dict, what: str) -> str:
    if "skipped" in entry:
        return "skipped"
    if "error" in entry:
        return "FAILED"
    m = entry.get("median")
    if not m:
        return "-"
    if what == "throughput":
        return f"{entry['bars_per_second']:,.0f}" if entry.get("bars_per_second") else "-"
    if what == "parts":
        return f"{m['import']:.2f} / {m['setup']:.2f} / {m['loop']:.3f}"
    if what == "wall":
        return f"{m['wall']:.2f}"
    if what == "orders":
        return "/".join(str(n) for n in entry["orders"])
    raise ValueError(what)


def _ratio(ours: dict, peer: dict, what: str) -> float | None:
    """ibalgo's speed over the peer's (> 1: ibalgo is faster)."""
    if "median" not in ours or "median" not in peer:
        return None
    if what == "throughput":
        return ours["bars_per_second"] / peer["bars_per_second"]
    return peer["median"]["wall"] / ours["median"]["wall"]


def _fmt(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1f}x"


def table(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['system']}; medians of "
        f"{results['runs']} separate process runs each.",
        "Peers: " + ", ".join(f"{n} {p['version']}" if p["version"] else f"{n} skipped ({p['error']})"
                              for n, p in results["peers"].items()) + f"; lumibot: {results['lumibot']}.",
        "",
        "| workload | measure | " + " | ".join(COLUMNS) + " | ibalgo vs backtrader | ibalgo vs zipline | target |",
        "|---|---|" + "---:|" * len(COLUMNS) + "---:|---:|---|",
    ]
    for key, w in results["workloads"].items():
        fws = w["frameworks"]
        ours = fws[OURS]
        rows = []
        startup = key.startswith("W3")
        measures = ["wall", "parts", "orders"] if startup else ["throughput", "parts", "wall", "orders"]
        for what in measures:
            label = {"throughput": "loop, bars/s", "parts": "import / set-up / loop, s", "wall": "whole process, s",
                     "orders": "orders placed"}[what]
            cells = [_cell(fws[c], what) for c in COLUMNS]
            if what == "orders":
                ratios = ["agree" if w["orders_agree"] else "DISAGREE"] * 2
                target = ""
            elif what == "parts":
                ratios, target = ["", ""], ""
            else:
                r = {p: _ratio(ours, fws[p], what) for p in (BACKTRADER, ZIPLINE)}
                ratios = [_fmt(r[BACKTRADER]), _fmt(r[ZIPLINE])]
                target = ""
                if key.startswith("W6"):
                    if what == "wall":
                        z = r[ZIPLINE]
                        target = f">= {TARGET_PIPELINE_WALL:.0f}x zipline: " + (
                            "n/a" if z is None else "met" if z >= TARGET_PIPELINE_WALL else "missed")
                elif what == "throughput":
                    missed = [p for p, need in TARGET_LOOP.items() if r[p] is not None and r[p] < need]
                    target = ">= 10x / 20x: " + ("missed" if missed else "met" if all(r.values()) else "n/a")
                if what == "wall" and startup and "median" in ours:
                    met = ours["median"]["wall"] < TARGET_STARTUP_SECONDS
                    target = f"< {TARGET_STARTUP_SECONDS:.1f} s: " + ("met" if met else "missed")
            rows.append(f"| {w['title'] if not rows else ''} | {label} | " + " | ".join(cells) + " | "
                        + " | ".join(ratios) + f" | {target} |")
        lines.extend(rows)
    if "W4" in results:  # absent when --only left them out
        lines.append(_extra_row("W4 simulated gateway <-> raw ibapi client over loopback", results.get("W4", {}),
                                ">= 20,000 msg/s; order to fill p50 < 1 ms", "W4"))
    if "W4-runtime" in results:
        lines.append(_extra_row("W4 runtime live path: order() -> fill in context.portfolio (engine, adapter, "
                                "ibapi, embedded gateway)", results.get("W4-runtime", {}),
                                "p50 < 2 ms, p99 < 10 ms; replay < 15 s", "W4-runtime"))
    if "M1" in results:
        lines.append(_extra_row("M1 minute backtests of generated minutes, W2's logic: peak RSS and loop bars/s "
                                "(symbols x years)", results.get("M1", {}), "20 x 10 y < 2,048 MB peak"))
    if "W5" in results:
        lines.append(_extra_row("W5 simulated scheduler: events/s", results.get("W5", {}), ">= 200,000 /s", "W5"))
    if "tcp" in results:
        tcp = results["tcp"]
        if "p50_us" in tcp:
            figure = (f"p50 {tcp['p50_us']:.1f} us, p99 {tcp['p99_us']:.1f} us "
                      f"({tcp['per_second']:,.0f} round trips/s)")
        else:
            figure = f"FAILED: {tcp.get('error', '?')}"
        lines.append(f"| reference: Python loopback TCP round trip, 64 bytes | latency | {figure} |"
                     + " |" * (len(COLUMNS) + 2))
    return "\n".join(lines)


# (path in the script's JSON, label) of the figures the table shows; other keys stay in the raw JSON.
PICK = {
    "W4": (("client_msgs_per_s", "msg/s decoded by ibapi"),
           ("round_trip_p50_ms", "order to execDetails p50 ms (gateway process)"),
           ("round_trip_p99_ms", "p99 ms"),
           ("round_trip_thread_p50_ms", "p50 ms (gateway thread)"),
           ("round_trip_thread_p99_ms", "p99 ms")),
    "W4-runtime": (("order_to_fill_p50_ms", "p50 ms"),
                   ("order_to_fill_p99_ms", "p99 ms"),
                   ("replay_3_months_5_symbols_s", "3-month 5-symbol daily replay s")),
    "W5": (("timeline.events_per_s_iterate", "iterate ev/s"),
           ("timeline.events_per_s_build_and_iterate", "build + iterate ev/s"),
           ("heap_reference.events_per_s", "reference heap loop ev/s"),
           ("live_dispatch.lateness_p50_ms", "live dispatch lateness p50 ms"),
           ("live_dispatch.lateness_p99_ms", "p99 ms")),
}


def _dig(figures: dict, path: str) -> object:
    for part in path.split("."):
        if not isinstance(figures, dict) or part not in figures:
            return None
        figures = figures[part]
    return figures


def _extra_row(title: str, entry: dict, target: str, key: str = "") -> str:
    status = entry.get("status", "not available yet")
    if status == "ok":
        figures = entry.get("figures")
        if isinstance(figures, dict) and key in PICK:
            text = ", ".join(f"{label} {_short(v)}" for path, label in PICK[key]
                             if (v := _dig(figures, path)) is not None)
        elif isinstance(figures, dict):
            text = ", ".join(f"{k}: {_short(v)}" for k, v in figures.items() if isinstance(v, (int, float)))
        else:  # no JSON: the script's own lines
            text = "; ".join(line.strip() for line in (entry.get("stdout") or "ok").strip().splitlines()[-4:])
    else:
        text = f"{status}" + (f" ({entry['detail']})" if entry.get("detail") else "")
    text = text.replace("|", "/").replace("\n", " ")
    return f"| {title} | | {text} |" + " |" * (len(COLUMNS) + 1) + f" {target} |"


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)
