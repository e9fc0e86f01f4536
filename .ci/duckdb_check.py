#!/usr/bin/env python3
"""DuckDB reads what `flatstream export` writes (issue 16).

Usage: duckdb_check.py FLATSTREAM [COUNT]

Generates COUNT telemetry events (default 200000), exports them to Parquet, and checks that
DuckDB's count(*), sum(value), min(timestamp_ns) and max(timestamp_ns) over the Parquet file
equal what the stream holds. The stream's side is computed from flatstream's JSON output
(`cat --format json`, another code path than the export) with exact arithmetic (Python
integers and fractions), and its frame count from `stats --json`.

sum(value) is compared exactly: the telemetry values are multiples of 0.25 below 250, so
every partial sum of a million of them is exact in a double, in any order DuckDB adds them.
"""

import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import duckdb  # installed by .ci/run into a virtual environment; missing is a failure


def run(*args: str) -> str:
    result = subprocess.run(args, check=True, capture_output=True, text=True)
    return result.stdout


def main() -> int:
    flatstream = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    with tempfile.TemporaryDirectory() as scratch:
        stream = str(Path(scratch) / "events.fs")
        parquet = str(Path(scratch) / "events.parquet")
        run(flatstream, "gen", "telemetry", stream, "--count", str(count))
        run(flatstream, "export", stream, "--schema", "telemetry", "--to", "parquet", "-o", parquet)

        frames = json.loads(run(flatstream, "stats", stream, "--json"))["frames"]
        events = 0
        total = Fraction(0)
        first = last = None
        with subprocess.Popen(
            [flatstream, "cat", stream, "--schema", "telemetry", "--format", "json"],
            stdout=subprocess.PIPE,
            text=True,
        ) as cat:
            for line in cat.stdout:
                event = json.loads(line)
                events += 1
                total += Fraction(event["value"])
                timestamp = event["timestamp_ns"]
                first = timestamp if first is None else min(first, timestamp)
                last = timestamp if last is None else max(last, timestamp)
        if cat.returncode != 0:
            print(f"duckdb check: cat --format json failed ({cat.returncode})", file=sys.stderr)
            return 1
        source = (events, total, first, last)

        row = duckdb.connect().execute(
            "select count(*), sum(value), min(timestamp_ns), max(timestamp_ns) "
            "from read_parquet(?)",
            [parquet],
        ).fetchone()
        exported = (row[0], Fraction(row[1]), row[2], row[3])

    names = ("count(*)", "sum(value)", "min(timestamp_ns)", "max(timestamp_ns)")
    ok = frames == events == count and source == exported
    for name, want, got in zip(names, source, exported):
        mark = "ok" if want == got else "MISMATCH"
        print(f"duckdb check: {name}: stream {want}, duckdb {got}: {mark}")
    print(f"duckdb check: frames (stats) {frames}, events (cat) {events}, generated {count}")
    print(f"duckdb check: duckdb {duckdb.__version__}: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
