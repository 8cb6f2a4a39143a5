"""Record zipline-reloaded's orders, fills and pipeline outputs for the Pipeline algorithm files (the oracle).

    python tests/oracle/make_pipeline_expected.py            # all files in tests/algos/pipeline/
    python tests/oracle/make_pipeline_expected.py --only momentum_pipeline

How to regenerate (after changing an algorithm file, the oracle data or the recorder): run the command above from
the repository root with the project's environment. It

1. creates (once) the zipline-reloaded 3.2.1 virtual environment under bench/.envs/zipline-reloaded with
   bench/envs.py, the same one the benchmarks use (pip needs the network the first time);
2. writes the oracle data (:mod:`oracle.oracle_data`: synthetic tickers with listings, splits and dividends plus
   AAPL/IBM/MSFT, 2010-01-04..2012-12-31) as per-symbol CSVs into a temporary folder, and ingests them as a zipline
   bundle with the same splits and dividends as adjustments (bench/peers/zipline_pipeline.py);
3. runs every algorithm file of tests/algos/pipeline/ (and the plain control file tests/algos/oracle_control.py,
   which checks that data, costs, splits and dividends agree without Pipeline) in zipline over
   2011-01-03..2012-12-31 (XNYS, the costs and the benchmark each file sets), with the recorder
   tests/oracle/recorder_epilogue.py appended, and writes what it saw to
   tests/data/pipeline_oracle/NAME.json.gz (orders, fills, pipeline outputs of a few sessions).

tests/oracle/test_pipeline_oracle.py runs the same files (with the same epilogue) in ibalgo on the same data and
compares. Commit the JSON files.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.envs import ensure_peer  # noqa: E402
from oracle.oracle_data import data_fingerprint, write_oracle_data  # noqa: E402

ALGOS = ROOT / "tests" / "algos" / "pipeline"
EXPECTED = ROOT / "tests" / "data" / "pipeline_oracle"
#: a plain (no Pipeline) algorithm over the same data: checks that the data, costs and corporate actions agree
CONTROL = ROOT / "tests" / "algos" / "oracle_control.py"
EPILOGUE = Path(__file__).resolve().parent / "recorder_epilogue.py"
RUNNER = ROOT / "bench" / "peers" / "zipline_pipeline.py"
BUNDLE = "ibalgo-pipeline-oracle"


def with_recorder(algo: Path, folder: Path) -> Path:
    """The algorithm file with the recorder appended, written into ``folder``."""
    out = folder / algo.name
    out.write_text(algo.read_text() + "\n\n" + EPILOGUE.read_text())
    return out


def load_expected(name: str) -> dict:
    """The recorded zipline outputs of one algorithm file (by its name without .py)."""
    with gzip.open(EXPECTED / f"{name}.json.gz", "rt", encoding="utf-8") as fh:
        return json.load(fh)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", help="only this algorithm (file name without .py); repeatable")
    args = parser.parse_args(argv)
    peer = ensure_peer("zipline-reloaded", lambda line: print(line, flush=True))
    if not peer.ok:
        print(f"zipline-reloaded is not available: {peer.error}", file=sys.stderr)
        return 1
    files = sorted(p for p in [*ALGOS.glob("*.py"), CONTROL] if not args.only or p.stem in args.only)
    EXPECTED.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pipeline-oracle-") as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "data"
        write_oracle_data(data)
        env = dict(os.environ, ZIPLINE_ROOT=str(tmp_path / "zipline"), PYTHONHASHSEED="0")
        subprocess.run([str(peer.python), str(RUNNER), "ingest", str(data), BUNDLE], env=env, check=True)
        for algo in files:
            target = EXPECTED / f"{algo.stem}.json.gz"
            raw = tmp_path / f"{algo.stem}.raw.json"
            proc = subprocess.run([str(peer.python), str(RUNNER), "run", str(data), BUNDLE,
                                   str(with_recorder(algo, tmp_path))],
                                  env=dict(env, ORACLE_OUT=str(raw)), capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(f"{algo.name}: zipline failed\n{proc.stderr[-3000:]}", file=sys.stderr)
                return 1
            record = json.loads(raw.read_text())
            record["zipline"] = peer.version
            record["data_sha256"] = data_fingerprint(data)
            record["algorithm"] = str(algo.relative_to(ROOT))
            with gzip.open(target, "wt", encoding="utf-8") as fh:
                fh.write(json.dumps(record, sort_keys=True) + "\n")
            print(f"{algo.name}: {len(record['orders'])} orders, {len(record['fills'])} fills, "
                  f"{len(record['pipeline'])} pipeline days -> {target.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
