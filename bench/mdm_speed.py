"""Speed of the customer batch import and of the real-time match, on a database of your choice.

    .venv/bin/python bench/mdm_speed.py --records 100000 [--database-url URL] [--matches 500]

Generates people records with `bench/mdm_generate.py` (names and addresses, 5% moved), writes
the canonical CSV, runs `manage.py import_records` in a child process (weights estimated from
the file, matching, golden records, provenance, history, review tasks) and reports its wall time
and peak memory: the child's maximum resident set, and the whole process tree's (forked workers
included, shared pages counted once). Then times the read-only real-time match (`find_matches`,
as used by the API) for `--matches` records against everything loaded. Without
--database-url a throw-away SQLite file is used; a PostgreSQL database is flushed first.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000, help="about this many records")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--matches", type=int, default=500)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--csv", default="", help="write the generated file here and keep it")
    parser.add_argument(
        "--chunk", type=int, default=0, help="rows per bulk chunk (default: the command's)"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mdm-speed-"))
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{workdir / 'speed.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from mdm_generate import generate, write_csv
    from mdm_quality import realtime_latencies

    from mdm.models import Customer

    if args.database_url:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    # About 1.75 records per entity with the generator's duplicate counts.
    rows = generate("people", max(int(args.records / 1.75), 1), args.seed, 0.05)
    csv_path = Path(args.csv) if args.csv else workdir / "records.csv"
    with open(csv_path, "w", newline="") as handle:
        write_csv(rows, handle)
    command = [sys.executable, str(ROOT / "manage.py"), "import_records", "--entity",
               "customer", str(csv_path)]  # fmt: skip
    if args.chunk:
        command += ["--chunk", str(args.chunk)]
    started = time.monotonic()
    child = subprocess.Popen(command, env=os.environ, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    tree_peak_mb, readings, discarded = 0.0, 0, 0
    while child.poll() is None:
        reading = _tree_pss_mb(child.pid)
        readings += 1
        if reading is None:
            discarded += 1
        else:
            tree_peak_mb = max(tree_peak_mb, reading)
        time.sleep(0.5)
    if child.returncode:
        raise SystemExit(f"import_records failed with exit code {child.returncode}")
    elapsed = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    latencies = realtime_latencies(rows[: args.matches])
    result = {
        "records": len(rows),
        "golden": Customer.objects.filter(status="active").count(),
        "import_seconds": round(elapsed, 1),
        "records_per_second": round(len(rows) / elapsed, 1),
        "import_peak_mb": round(peak_mb),
        "import_tree_peak_mb": round(tree_peak_mb),
        "tree_readings_discarded": f"{discarded} of {readings}",
        "match_p50_ms": round(latencies[len(latencies) // 2], 2),
        "match_p95_ms": round(latencies[int(len(latencies) * 0.95)], 2),
        "match_p99_ms": round(latencies[int(len(latencies) * 0.99)], 2),
    }
    for key, value in result.items():
        print(f"{key:>18}: {value}")
    return result


def _tree(root: int) -> dict[int, str]:
    """{pid: state} of a process and its descendants."""
    parents, states = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid], states[pid] = int(fields[1]), fields[0]
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return {pid: states.get(pid, "?") for pid in tree}


def _tree_pss_mb(root: int) -> float | None:
    """Memory of a process and its descendants (forked workers) right now, in MB, or None if
    a process came or went (or exited) while they were read.

    Proportional set size: a page shared by n processes counts 1/n in each, so pages the
    workers share with their parent count once and pages they copied count for each copy.
    The largest single process (ru_maxrss) misses those copies. The processes are read one
    after the other (a 2.5 GB parent takes a while): a worker read just before it exits and
    its parent read just after counted the shared pages one and a half times (a 1M import
    once peaked at 4,556 MB against 3,959 MB the run before, with nothing else changed that
    holds memory). Such a reading is thrown away.
    """
    before = _tree(root)
    total_kb = 0
    for pid, state in before.items():
        if state == "Z":
            return None
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            return None
    return total_kb / 1024 if _tree(root) == before else None


if __name__ == "__main__":
    main()
