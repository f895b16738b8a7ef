"""Many worker processes on one study: SQLite and PostgreSQL, default settings, beside Optuna.

32 separate ``python`` processes (by default) each load the same study by URL and run
``optimize`` for 20 trials, as several processes started by hand would:

* hptune: ``hptune.load_study(name, url, sampler="random")`` then
  ``study.optimize(objective, n_trials=20, show_progress=False)``;
* Optuna: ``optuna.load_study(study_name=name, storage=url, sampler=RandomSampler())``
  then ``study.optimize(objective, n_trials=20)``.

Storages are opened from their URL with default settings. The objective suggests 4
parameters, sleeps a few milliseconds and returns a value. Every process imports its
library and loads the study first, then all start together, so the load is real. Then a
fresh client reads the study back and the report gives: trials recorded and completed,
whether the numbers are 0..N-1 each exactly once, trials lost (not COMPLETE: failed,
left RUNNING, or never created), workers that died, 'database is locked' reaching the
user (in a worker's exception or its standard error), and trials per second (completed
trials over the time from the start signal to the last worker's end).

Run::

    python benchmarks/concurrency.py --out benchmarks/results/storage.md      # 32 x 20
    python benchmarks/concurrency.py --processes 8 --n-trials 5                # a quick check
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    describe_environment,
    fresh_postgres_database,
    load_average,
    markdown_table,
    masked,
    optuna_version,
    postgres_problem,
    postgres_url,
    write_section,
)

STORAGES = ("sqlite", "postgresql")
STORAGE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
LOCKED = re.compile(r"database is locked|stayed locked", re.IGNORECASE)
READY_TIMEOUT = 300.0  # seconds for every worker to import and load the study


# Worker side ------------------------------------------------------------------------


def _objective(sleep_s: float) -> Any:
    def objective(trial: Any) -> float:
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        dropout = trial.suggest_float("dropout", 0.0, 0.5)
        depth = trial.suggest_int("depth", 1, 8)
        optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"])
        time.sleep(sleep_s)
        return lr + dropout + depth + (optimizer == "sgd")

    return objective


def worker(args: argparse.Namespace) -> int:
    """One worker process: load, say ready, wait for the start signal, optimize, report."""
    run_dir = Path(args.run_dir)
    result: dict[str, Any] = {"error": None, "calls": 0}
    objective = _objective(args.sleep_ms / 1000)

    def counted(trial: Any) -> float:
        result["calls"] += 1
        return objective(trial)

    try:
        if args.lib == "hptune":
            import hptune as ht

            study: Any = ht.load_study(args.study, args.url, sampler="random")
            run = functools.partial(
                study.optimize, counted, n_trials=args.n_trials, show_progress=False
            )
        else:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            study = optuna.load_study(
                study_name=args.study, storage=args.url, sampler=optuna.samplers.RandomSampler()
            )
            run = functools.partial(study.optimize, counted, n_trials=args.n_trials)
        (run_dir / f"ready-{args.index}").touch()
        go = run_dir / "go"
        while not go.exists():
            time.sleep(0.001)
        result["start"] = time.time()
        run()
    except BaseException as e:  # everything that reached the user is the measurement
        result["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc()
    result["end"] = time.time()
    (run_dir / f"result-{args.index}.json").write_text(json.dumps(result))
    return 1 if result["error"] else 0


# Parent side ------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one library did under the load on one storage."""

    lib: str
    storage: str
    expected: int
    skipped: str | None = None
    recorded: int = 0
    states: collections.Counter[str] = field(default_factory=collections.Counter)
    numbers_ok: bool = False
    numbers_note: str = ""
    workers_failed: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    locked_workers: int = 0
    locked_lines: int = 0
    calls: int = 0
    seconds: float = 0.0

    @property
    def complete(self) -> int:
        return self.states.get("COMPLETE", 0)

    @property
    def lost(self) -> int:
        return self.expected - self.complete

    @property
    def throughput(self) -> float:
        return self.complete / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return (
            self.recorded == self.expected
            and self.numbers_ok
            and self.lost == 0
            and self.states.get("RUNNING", 0) == 0
            and self.workers_failed == 0
            and self.locked_workers == 0
        )


def _create_study(lib: str, url: str, name: str) -> None:
    if lib == "hptune":
        import hptune as ht

        ht.create_study(study_name=name, storage=url, sampler="random").storage.close()
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna.create_study(study_name=name, storage=url)


def _read_back(lib: str, url: str, name: str) -> list[tuple[int, str]]:
    """(number, state name) of every trial, read by a fresh client."""
    if lib == "hptune":
        import hptune as ht

        study = ht.load_study(name, url)
        trials = [(t.number, t.state.name) for t in study.trials]
        study.storage.close()
        return trials
    import optuna

    study = optuna.load_study(study_name=name, storage=url)
    return [(t.number, t.state.name) for t in study.trials]


def _wait_ready(procs: list[subprocess.Popen[bytes]], run_dir: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        ready = sum(1 for i in range(len(procs)) if (run_dir / f"ready-{i}").exists())
        exited = sum(1 for p in procs if p.poll() is not None)
        if ready + exited >= len(procs) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def run_load(args: argparse.Namespace, lib: str, storage: str, url: str) -> Outcome:
    outcome = Outcome(lib, storage, args.processes * args.n_trials)
    name = f"concurrency-{uuid.uuid4().hex[:8]}"
    _create_study(lib, url, name)
    with tempfile.TemporaryDirectory(prefix="hptune-conc-") as tmp:
        run_dir = Path(tmp)
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--lib",
            lib,
            "--url",
            url,
            "--study",
            name,
            "--n-trials",
            str(args.n_trials),
            "--sleep-ms",
            str(args.sleep_ms),
            "--run-dir",
            str(run_dir),
        ]
        procs = []
        logs = []
        for i in range(args.processes):
            log = (run_dir / f"stderr-{i}.txt").open("wb")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [*command, "--index", str(i)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        _wait_ready(procs, run_dir)
        start = time.time()
        (run_dir / "go").touch()
        deadline = time.monotonic() + args.timeout
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()  # our own child, stuck past the time limit
                p.wait()
        for log in logs:
            log.close()
        ends = [start]
        for i, p in enumerate(procs):
            path = run_dir / f"result-{i}.json"
            result = json.loads(path.read_text()) if path.exists() else None
            if result is None:
                outcome.workers_failed += 1
                outcome.errors[f"no result (exit code {p.returncode})"] += 1
            else:
                outcome.calls += result["calls"]
                ends.append(result["end"])
                if result["error"] or p.returncode != 0:
                    outcome.workers_failed += 1
                    message = result["error"] or f"exit code {p.returncode}"
                    outcome.errors[_short(message)] += 1
            text = (run_dir / f"stderr-{i}.txt").read_text(errors="replace")
            hits = sum(1 for line in text.splitlines() if LOCKED.search(line))
            outcome.locked_lines += hits
            outcome.locked_workers += hits > 0
        outcome.seconds = max(ends) - start
    trials = _read_back(lib, url, name)
    outcome.recorded = len(trials)
    outcome.states = collections.Counter(state for _, state in trials)
    numbers = collections.Counter(number for number, _ in trials)
    duplicated = sorted(n for n, k in numbers.items() if k > 1)
    missing = sorted(set(range(outcome.expected)) - set(numbers))
    beyond = sorted(n for n in numbers if not 0 <= n < outcome.expected)
    outcome.numbers_ok = not (duplicated or missing or beyond)
    notes = []
    if duplicated:
        notes.append(f"{len(duplicated)} duplicated")
    if missing:
        notes.append(f"{len(missing)} missing")
    if beyond:
        notes.append(f"{len(beyond)} out of range")
    outcome.numbers_note = ", ".join(notes)
    return outcome


def _short(message: str) -> str:
    first = message.splitlines()[0] if message else message
    return first if len(first) <= 160 else first[:157] + "..."


def run_all(args: argparse.Namespace) -> list[Outcome]:
    libs = ["hptune"] + (["optuna"] if optuna_version() else [])
    pg_problem = postgres_problem(args.postgres_url) if "postgresql" in args.storages else None
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="hptune-bench-") as tmp:
        for storage in args.storages:
            for lib in libs:
                label = f"{STORAGE_NAMES[storage]} {lib}"
                print(
                    f"{label}: {args.processes} processes x {args.n_trials} trials",
                    file=sys.stderr,
                    flush=True,
                )
                if storage == "postgresql" and pg_problem:
                    outcome = Outcome(lib, storage, args.processes * args.n_trials)
                    outcome.skipped = (
                        f"PostgreSQL unreachable at {masked(args.postgres_url)}: {pg_problem}"
                    )
                elif storage == "sqlite":
                    outcome = run_load(args, lib, storage, f"sqlite:///{tmp}/{lib}.db")
                else:
                    with fresh_postgres_database(args.postgres_url, f"conc_{lib}") as url:
                        outcome = run_load(args, lib, storage, url)
                outcomes.append(outcome)
                if not outcome.skipped:
                    print(
                        f"  {outcome.complete}/{outcome.expected} complete, "
                        f"states {dict(outcome.states)}, {outcome.workers_failed} workers "
                        f"failed, {outcome.seconds:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    return outcomes


def report(args: argparse.Namespace, outcomes: list[Outcome]) -> str:
    n = args.processes * args.n_trials
    lines = [
        "## Concurrency: worker processes on one study (`benchmarks/concurrency.py`)",
        "",
        *describe_environment(
            args.postgres_url if "postgresql" in args.storages else None, args.load_at_start
        ),
        f"- Command: `{shlex.join(['python', 'benchmarks/concurrency.py', *sys.argv[1:]])}`",
        "",
        f"{args.processes} separate `python` processes x {args.n_trials} trials each "
        f"({n} in all) on one study, opened by URL with default settings; hptune "
        '`load_study(name, url, sampler="random")` + `optimize(objective, n_trials='
        f"{args.n_trials}, show_progress=False)`, Optuna `load_study(study_name=name, "
        "storage=url, sampler=RandomSampler())` + `optimize(objective, n_trials="
        f"{args.n_trials})`. The objective suggests 4 parameters and sleeps "
        f"{args.sleep_ms:g} ms. All processes load the study first and start together. "
        f"*Lost* = trials that did not end COMPLETE (failed, left RUNNING or never "
        "created); *locked* = 'database is locked' reaching the user, in a worker's "
        "exception or standard error (lines / workers); trials/s = completed trials over "
        "the time from the start signal to the last worker's end. On SQLite both libraries "
        "run at the same durability, each with its defaults: every commit synced to disk "
        "(hptune: WAL journal, `synchronous=FULL`; Optuna: rollback journal, SQLite's "
        "default `FULL`).",
        "",
    ]
    rows = []
    for o in outcomes:
        if o.skipped:
            rows.append([STORAGE_NAMES[o.storage], o.lib, "not measured", *[""] * 8])
            continue
        rows.append(
            [
                STORAGE_NAMES[o.storage],
                o.lib,
                f"{o.recorded} / {o.complete}",
                "yes" if o.numbers_ok else f"**no** ({o.numbers_note})",
                str(o.lost),
                str(o.states.get("FAIL", 0)),
                str(o.states.get("RUNNING", 0)),
                f"{o.workers_failed} / {args.processes}",
                f"{o.locked_lines} / {o.locked_workers}",
                f"{o.seconds:.1f}",
                f"{o.throughput:.1f}",
            ]
        )
    lines += markdown_table(
        [
            "storage",
            "library",
            f"recorded / complete (of {n})",
            f"numbers 0..{n - 1} once",
            "lost",
            "failed",
            "left RUNNING",
            "workers died",
            "locked (lines / workers)",
            "wall s",
            "trials/s",
        ],
        rows,
    )
    by = {(o.lib, o.storage): o for o in outcomes if not o.skipped}
    lines += ["", "### Against the issue", ""]
    if (args.processes, args.n_trials) != (32, 20):
        lines += [
            f"This run used {args.processes} x {args.n_trials}, not the issue's 32 x 20: "
            "what follows holds at this size only.",
            "",
        ]
    for storage in args.storages:
        h, o = by.get(("hptune", storage)), by.get(("optuna", storage))
        name = STORAGE_NAMES[storage]
        if h is None:
            continue
        if h.ok:
            verdict = (
                f"- {name}, hptune: {n} trials, numbers 0..{n - 1} each once, none lost, none "
                "left RUNNING, no 'database is locked': **met**"
            )
        else:
            verdict = (
                f"- {name}, hptune: **missed**: {h.recorded} recorded, {h.lost} lost, "
                f"{h.states.get('RUNNING', 0)} left RUNNING, {h.workers_failed} workers "
                f"died, 'database is locked' in {h.locked_workers} workers"
            )
        if o is not None and o.throughput and h.throughput:
            verdict += (
                f"; {h.throughput:.1f} trials/s against Optuna's {o.throughput:.1f} "
                f"({h.throughput / o.throughput:.1f}x), Optuna lost {o.lost} of {n}."
            )
        else:
            verdict += "."
        lines.append(verdict)
    errors = [(o, e, k) for o in outcomes for e, k in o.errors.most_common()]
    if errors:
        lines += ["", "Errors that ended workers:", ""]
        lines += [f"- {STORAGE_NAMES[o.storage]} {o.lib}, {k} workers: `{e}`" for o, e, k in errors]
    skipped = [o for o in outcomes if o.skipped]
    if not optuna_version():
        lines += ["", "Optuna not installed: its columns were not measured."]
    if skipped:
        lines += ["", "### Not measured", ""]
        lines += [f"- {STORAGE_NAMES[o.storage]} {o.lib}: {o.skipped}." for o in skipped]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=32)
    parser.add_argument("--n-trials", type=int, default=20, help="trials per process")
    parser.add_argument("--sleep-ms", type=float, default=5.0, help="objective's sleep")
    parser.add_argument(
        "--storages",
        default=",".join(STORAGES),
        help=f"comma-separated, from {','.join(STORAGES)} (default: both)",
    )
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="a PostgreSQL server where databases may be created and dropped "
        "(default: $HPTUNE_TEST_POSTGRES_URL, else the local test server)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds before stuck workers are killed"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the report section here")
    # Internal: one worker process.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for internal in ("--lib", "--url", "--study", "--run-dir", "--index"):
        parser.add_argument(internal, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.exit(worker(args))
    args.postgres_url = postgres_url(args.postgres_url)
    args.load_at_start = load_average()
    args.storages = [s.strip() for s in args.storages.split(",") if s.strip()]
    unknown = sorted(set(args.storages) - set(STORAGES))
    if unknown:
        parser.error(f"unknown storage {unknown}; choose from {', '.join(STORAGES)}")
    if args.processes < 1 or args.n_trials < 1:
        parser.error("--processes and --n-trials must be at least 1")
    outcomes = run_all(args)
    text = report(args, outcomes)
    print(text)
    if args.out:
        write_section(args.out, "concurrency", text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
