"""Cost per trial as the history grows: ask + tell on memory, SQLite and PostgreSQL.

Random sampler, 4 parameters (log float, float, int, categorical), declarative ask:
hptune's ``study.ask(space)`` / ``study.tell(trial, value)`` beside Optuna's
``study.ask(fixed_distributions)`` / ``study.tell`` (``RandomSampler(seed=0)``), on the
same storages in the same run. One client drives each study from trial 0 onwards, as a
long optimization would; every ask+tell is timed and the report gives the mean, the median
and the 99th percentile over the 100 trials around trial 100, 1,000 and 10,000. Each
library runs in a fresh process of its own, and on each storage the two take turns of 10
trials, so that both see the same background load; each gets a new SQLite file or a new
PostgreSQL database, dropped afterwards.

SQLite runs at two durabilities, each library at the same one, read back from the
connection and printed in the report:

- ``sqlite``: every commit synced to disk (``synchronous=FULL``), what a power cut cannot
  undo. hptune's default (WAL journal); Optuna's default (rollback journal, SQLite's
  default ``FULL``).
- ``sqlite-normal``: WAL journal with ``synchronous=NORMAL`` for both (hptune
  ``?synchronous=normal`` on the URL; Optuna the same two pragmas set on each connection of
  its engine): a power cut may lose the last commits.

Every measurement is repeated (``--repeats``, 5 by default), each repetition with fresh
processes, files and databases, the repetitions taking turns (every storage once, then
again); the report pools their samples and gives the spread of their means.

Run::

    python benchmarks/storage.py --out benchmarks/results/storage.md   # full: 10,000 trials
    python benchmarks/storage.py --quick                                # 100 and 1,000 only
    python benchmarks/storage.py --trials 300 --storages sqlite         # a check of the harness

Optuna's RDB storage costs tens of milliseconds per trial here, so its 10,000-trial points
take most of the run (about 20 minutes on two cores). ``--optuna-sql-trials 1000`` stops
Optuna's SQL runs after the 1,000 point, and the report says that its 10,000 point was not
measured.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _common import (
    Repeated,
    describe_environment,
    fresh_postgres_database,
    load_average,
    markdown_table,
    masked,
    optuna_version,
    postgres_problem,
    postgres_url,
    upper_bound_verdict,
    write_section,
)

CHECKPOINTS = (100, 1_000, 10_000)
HALF_WINDOW = 50  # statistics over trials [c - 50, c + 50)
TURN = 10  # on one storage, the libraries take turns of this many trials
STORAGES = ("memory", "sqlite", "sqlite-normal", "postgresql")
STORAGE_NAMES = {
    "memory": "memory",
    "sqlite": "SQLite",
    "sqlite-normal": "SQLite (normal)",
    "postgresql": "PostgreSQL",
}
# Targets from the storage issue.
MAX_GROWTH = 2.0  # cost at 10,000 trials / cost at 100
MIN_SQLITE_SPEEDUP = 5.0  # Optuna's RDB on SQLite / hptune on SQLite
# From the history issue: SQLite and PostgreSQL at 10,000 trials within this of trial 100.
MAX_GROWTH_SQL = 1.2
NOISE_SE = 2.0  # a target is met only this many standard errors clear of its bound


def _value(params: dict[str, Any]) -> float:
    return float(params["dropout"]) + float(params["depth"]) + (params["optimizer"] == "sgd")


def _sqlite_settings(conn: Any) -> str:
    """The journal mode and sync level a SQLite connection runs with, as SQLite says."""
    journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
    level = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return f"journal_mode={journal}, synchronous={names.get(level, level)}"


def _hptune_step(url: str | None) -> tuple[Callable[[], None], str]:
    import hptune as ht

    space = {
        "lr": ht.Float(1e-5, 1e-1, log=True),
        "dropout": ht.Float(0.0, 0.5),
        "depth": ht.Int(1, 8),
        "optimizer": ht.Categorical(["adam", "sgd", "rmsprop"]),
    }
    study = ht.create_study(storage=url, sampler="random", seed=0)
    settings = ""
    if url is not None and url.startswith("sqlite"):
        with study.storage._engine.connect() as conn:  # type: ignore[attr-defined]
            settings = _sqlite_settings(conn)

    def step() -> None:
        trial = study.ask(space)
        study.tell(trial, _value(trial.params))

    return step, settings


def _optuna_step(url: str | None, relaxed: bool = False) -> tuple[Callable[[], None], str]:
    import optuna
    import sqlalchemy as sa
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {
        "lr": FloatDistribution(1e-5, 1e-1, log=True),
        "dropout": FloatDistribution(0.0, 0.5),
        "depth": IntDistribution(1, 8),
        "optimizer": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
    }
    storage: Any = url
    settings = ""
    if url is not None and url.startswith("sqlite"):
        storage = optuna.storages.RDBStorage(url)
        if relaxed:

            def pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.close()

            sa.event.listen(storage.engine, "connect", pragmas)
            storage.engine.dispose()  # connections opened before the listener are dropped
        with storage.engine.connect() as conn:
            settings = _sqlite_settings(conn)
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))

    def step() -> None:
        trial = study.ask(space)
        study.tell(trial, _value(trial.params))

    return step, settings


def serve(lib: str, url: str | None, relaxed: bool, conn: Connection) -> None:
    """A measuring process: one study of ``lib``; runs ask+tell when told how many.

    Answers ("ready", its SQLite settings) (or the error) once the study exists, then,
    for each request of ``k`` trials, the list of seconds each ask+tell took; stops when
    told None.
    """
    try:
        if lib == "hptune":
            step, settings = _hptune_step(url)
        else:
            step, settings = _optuna_step(url, relaxed)
    except Exception as e:
        conn.send(f"{type(e).__name__}: {e}")
        return
    conn.send(("ready", settings))
    while (k := conn.recv()) is not None:
        times = []
        try:
            for _ in range(k):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
        except Exception as e:
            conn.send(f"{type(e).__name__}: {e}")
            return
        conn.send(times)


@dataclass
class Case:
    """One library on one storage: what was asked and what came out."""

    lib: str
    storage: str
    checkpoints: list[int]
    stats: dict[int, Repeated] = field(default_factory=dict)  # ms per ask+tell, by checkpoint
    settings: str = ""  # SQLite's journal mode and sync level, as read from the connection
    seconds: float = 0.0  # time spent in ask+tell, all trials
    skipped: str | None = None  # why nothing (more) was measured
    capped: list[int] = field(default_factory=list)  # checkpoints left out on purpose
    times: list[float] = field(default_factory=list, repr=False)  # the running repetition
    runs: list[list[float]] = field(default_factory=list, repr=False)  # one per repetition

    def growth(self, last: int, first: int) -> list[float]:
        """Each repetition's mean at ``last`` over its mean at ``first``."""
        out = []
        for run in self.runs:
            a, b = _window(run, last), _window(run, first)
            if a and b:
                out.append(statistics.fmean(a) / statistics.fmean(b))
        return out

    @property
    def n_trials(self) -> int:
        return max(self.checkpoints) + HALF_WINDOW if self.checkpoints else 0


def measure_storage(cases: list[Case], urls: dict[str, str | None]) -> None:
    """Measure the libraries of one storage in turns of :data:`TURN` trials each.

    Each library runs in a fresh process of its own (no cache, garbage or connection
    pool left by another). Taking short turns, they see the same background load, which
    on a shared machine matters more than anything else here; turns of several trials
    rather than one keep each process's CPU caches warm for most of its trials.
    """
    context = multiprocessing.get_context("spawn")
    workers: dict[str, tuple[Any, Connection]] = {}
    for case in cases:
        case.times = []
    try:
        for case in cases:
            parent, child = context.Pipe()
            relaxed = case.storage == "sqlite-normal"
            process = context.Process(target=serve, args=(case.lib, urls[case.lib], relaxed, child))
            process.start()
            workers[case.lib] = (process, parent)
            answer = parent.recv()
            if isinstance(answer, tuple) and answer[0] == "ready":
                case.settings = answer[1]
            else:
                case.skipped = f"failed to start: {answer}"
        active = [c for c in cases if not c.skipped]
        total = max((c.n_trials for c in active), default=0)
        started = last_note = time.perf_counter()
        for i in range(0, total, TURN):
            for case in active:
                k = min(TURN, case.n_trials - i)
                if k <= 0 or case.skipped:
                    continue
                conn = workers[case.lib][1]
                conn.send(k)
                answer = conn.recv()
                if isinstance(answer, str):
                    case.skipped = f"failed after trial {len(case.times)}: {answer}"
                    continue
                case.times.extend(answer)
            now = time.perf_counter()
            if now - last_note > 30 or i + TURN >= total:
                last_note = now
                done = min(i + TURN, total)
                print(f"  {done}/{total} trials, {now - started:.0f} s", file=sys.stderr)
    finally:
        for process, conn in workers.values():
            with contextlib.suppress(OSError):
                conn.send(None)
            process.join(timeout=30)
            if process.is_alive():
                process.kill()  # our own child, stuck
                process.join()
    for case in cases:
        case.seconds += sum(case.times)
        if case.times:
            case.runs.append(case.times)
        for c in case.checkpoints:
            windows = [w for w in (_window(run, c) for run in case.runs) if w]
            if windows:
                case.stats[c] = Repeated.of(windows)


def _window(times: list[float], c: int) -> list[float]:
    """The trials around checkpoint ``c`` (empty when the run did not reach them)."""
    if c + HALF_WINDOW > len(times):
        return []
    return times[max(0, c - HALF_WINDOW) : c + HALF_WINDOW]


def run_all(args: argparse.Namespace, checkpoints: list[int]) -> list[Case]:
    libs = ["hptune"] + (["optuna"] if optuna_version() else [])
    pg_problem = postgres_problem(args.postgres_url) if "postgresql" in args.storages else None
    cases: list[Case] = []
    groups: dict[str, list[Case]] = {}
    for storage in args.storages:
        group = groups[storage] = []
        for lib in libs:
            case = Case(lib, storage, checkpoints)
            if lib == "optuna" and storage != "memory" and args.optuna_sql_trials:
                case.checkpoints = [c for c in checkpoints if c <= args.optuna_sql_trials]
                case.capped = [c for c in checkpoints if c > args.optuna_sql_trials]
            cases.append(case)
            if storage == "postgresql" and pg_problem:
                case.skipped = (
                    f"PostgreSQL unreachable at {masked(args.postgres_url)}: {pg_problem}"
                )
            elif case.checkpoints:
                group.append(case)
    # Repetitions take turns too: every storage once, then every storage again, ...
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="hptune-bench-") as tmp:
            for storage, group in groups.items():
                group = [c for c in group if not c.skipped]
                if not group:
                    continue
                plan = ", ".join(f"{c.lib} {c.n_trials}" for c in group)
                print(
                    f"{STORAGE_NAMES[storage]} ({rep + 1}/{args.repeats}): {plan} trials",
                    file=sys.stderr,
                    flush=True,
                )
                with contextlib.ExitStack() as stack:
                    urls: dict[str, str | None] = {}
                    for case in group:
                        if storage == "memory":
                            urls[case.lib] = None
                        elif storage.startswith("sqlite"):
                            relaxed = storage == "sqlite-normal" and case.lib == "hptune"
                            query = "?synchronous=normal" if relaxed else ""
                            urls[case.lib] = f"sqlite:///{tmp}/{storage}-{case.lib}.db{query}"
                        else:
                            urls[case.lib] = stack.enter_context(
                                fresh_postgres_database(args.postgres_url, f"storage_{case.lib}")
                            )
                    measure_storage(group, urls)
    return cases


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "not measured"
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 10 else f"{ms:.1f}"


def _ratio(a: Repeated | None, b: Repeated | None) -> str:
    """The ratio of two means, or n/a where one is missing."""
    return "n/a" if a is None or b is None else f"{a.mean / b.mean:.1f}x"


def report(args: argparse.Namespace, checkpoints: list[int], cases: list[Case]) -> str:
    by = {(c.lib, c.storage): c for c in cases}
    peer = optuna_version()
    window = 2 * HALF_WINDOW
    lines = [
        "## Cost per trial: ask + tell as the history grows (`benchmarks/storage.py`)",
        "",
        *describe_environment(
            args.postgres_url if "postgresql" in args.storages else None, args.load_at_start
        ),
        f"- Command: `{shlex.join(['python', 'benchmarks/storage.py', *sys.argv[1:]])}`",
        "",
        'Random sampler (hptune `sampler="random", seed=0`; Optuna `RandomSampler(seed=0)`), '
        "4 parameters (log float, float, int, categorical), declarative ask then tell, one "
        "client per study from trial 0 onwards. Milliseconds per ask+tell over the "
        f"{window} trials around each checkpoint (trials c-{HALF_WINDOW} to "
        f"c+{HALF_WINDOW - 1}): mean, median and 99th percentile (nearest rank) pooled over "
        f"{args.repeats} repetitions, and the *spread* of the repetitions' means (lowest-"
        "highest). Each library runs in a fresh process of its own; on each "
        f"storage the two take turns of {TURN} trials, so both see the same background load, "
        "and the repetitions take turns too (every storage once, then again). "
        "SQLite is a new file in a temporary directory, PostgreSQL a new database per library "
        "and repetition. "
        "*Optuna / hptune* (of the means) above 1 means hptune is faster; *growth* is a "
        "library's mean cost at that checkpoint divided by its own at the first checkpoint.",
        "",
        "Durability, the same for both libraries on each SQLite row, as read back from each "
        "library's own connection:",
        "",
    ]
    for c in cases:
        if c.settings:
            lines.append(f"- {STORAGE_NAMES[c.storage]}, {c.lib}: {c.settings}")
    lines.append("")
    rows = []
    for storage in args.storages:
        h, o = by.get(("hptune", storage)), by.get(("optuna", storage))
        for c in checkpoints:
            hs = h.stats.get(c) if h else None
            os_ = o.stats.get(c) if o else None
            h0 = h.stats.get(checkpoints[0]) if h else None
            o0 = o.stats.get(checkpoints[0]) if o else None
            rows.append(
                [
                    STORAGE_NAMES[storage],
                    f"{c:,}",
                    *_fmt_stats(hs),
                    *(_fmt_stats(os_) if peer else ["not installed", "", "", ""]),
                    _ratio(os_, hs),
                    _ratio(hs, h0),
                    _ratio(os_, o0),
                ]
            )
    lines += markdown_table(
        [
            "storage",
            "at trial",
            "hptune mean",
            "median",
            "p99",
            "spread",
            "Optuna mean",
            "median",
            "p99",
            "spread",
            "Optuna / hptune",
            "hptune growth",
            "Optuna growth",
        ],
        rows,
    )
    measured = [c for c in cases if c.stats]
    lines += [
        "",
        "Time spent in ask+tell, all trials of all repetitions: "
        + "; ".join(f"{STORAGE_NAMES[c.storage]} {c.lib} {c.seconds:.0f} s" for c in measured)
        + ".",
    ]
    lines += ["", "### Targets from the storage issue (on the means)", ""]
    lines += _targets(args, checkpoints, by)
    lines += ["", "### Target from the history issue (growth per repetition)", ""]
    lines += _growth_targets(args, checkpoints, by)
    missing = _not_measured(args, checkpoints, cases)
    if missing:
        lines += ["", "### Not measured", "", *missing]
    return "\n".join(lines) + "\n"


def _fmt_stats(stats: Repeated | None) -> list[str]:
    if stats is None:
        return ["not measured", "", "", ""]
    pooled = stats.pooled
    return [_fmt(pooled.mean), _fmt(pooled.median), _fmt(pooled.p99), stats.spread(_fmt)]


def _targets(args: argparse.Namespace, checkpoints: list[int], by: dict[Any, Case]) -> list[str]:
    out = []
    first, last = checkpoints[0], checkpoints[-1]
    for storage in args.storages:
        h = by.get(("hptune", storage))
        if h is None or last not in h.stats or first not in h.stats:
            continue
        a, b = h.stats[last].mean, h.stats[first].mean
        growth = a / b
        if last < 10_000:
            verdict = f"not checked (the target is for trial 10,000; this run stopped at {last:,})"
        elif growth <= MAX_GROWTH:
            verdict = "**met**"
        else:
            verdict = "**missed**"
        out.append(
            f"- {STORAGE_NAMES[storage]}: mean cost at trial {last:,} no more than "
            f"{MAX_GROWTH:.0f}x the mean at trial {first}: {growth:.2f}x ({_fmt(a)} ms vs "
            f"{_fmt(b)} ms), {verdict}."
        )
    for storage in ("sqlite", "sqlite-normal"):
        h, o = by.get(("hptune", storage)), by.get(("optuna", storage))
        if not (h and o and h.stats and o.stats):
            continue
        for c in checkpoints:
            if c in h.stats and c in o.stats:
                speedup = o.stats[c].mean / h.stats[c].mean
                verdict = "**met**" if speedup >= MIN_SQLITE_SPEEDUP else "**missed**"
                out.append(
                    f"- {STORAGE_NAMES[storage]} at least {MIN_SQLITE_SPEEDUP:.0f}x faster than "
                    f"Optuna's RDB storage at the same durability, at trial {c:,}: "
                    f"{speedup:.2f}x, {verdict}."
                )
    return out or ["- Nothing to check: no measurement."]


def _growth_targets(
    args: argparse.Namespace, checkpoints: list[int], by: dict[Any, Case]
) -> list[str]:
    out = []
    first, last = checkpoints[0], checkpoints[-1]
    for storage in ("sqlite", "sqlite-normal", "postgresql"):
        h = by.get(("hptune", storage))
        if h is None or storage not in args.storages:
            continue
        growth = h.growth(last, first)
        if not growth:
            out.append(f"- {STORAGE_NAMES[storage]}: not measured.")
            continue
        if last < 10_000:
            verdict = f"not checked (the target is for trial 10,000; this run stopped at {last:,})"
        else:
            verdict = upper_bound_verdict(growth, MAX_GROWTH_SQL, NOISE_SE)
        out.append(
            f"- {STORAGE_NAMES[storage]}: hptune's mean cost at trial {last:,} within "
            f"{MAX_GROWTH_SQL}x of trial {first}: {verdict}."
        )
    return out or ["- Nothing to check: no SQL storage measured."]


def _not_measured(args: argparse.Namespace, checkpoints: list[int], cases: list[Case]) -> list[str]:
    out = []
    if checkpoints[-1] < 10_000:
        out.append(
            f"- Trial 10,000, for every storage and library: this run stopped at trial "
            f"{checkpoints[-1]:,} (`--quick` or `--trials`)."
        )
    if not optuna_version():
        out.append("- Optuna: not installed (`pip install -e '.[bench]'`).")
    for c in cases:
        name = f"{STORAGE_NAMES[c.storage]} {c.lib}"
        if c.skipped:
            out.append(f"- {name}: {c.skipped}.")
        elif c.capped:
            points = ", ".join(f"{p:,}" for p in c.capped)
            out.append(
                f"- {name} at trial {points}: left out (`--optuna-sql-trials "
                f"{args.optuna_sql_trials}`) because Optuna's RDB storage costs tens of ms "
                f"per trial and reaching trial {c.capped[-1]:,} takes minutes. The issue "
                "measured Optuna's cost flat with the trial count"
                + (f"; compare its trial-{c.checkpoints[-1]:,} figure." if c.checkpoints else ".")
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trials",
        type=int,
        default=10_000,
        help="the last checkpoint (default 10000); checkpoints are 100, 1000, 10000 below "
        "it, and this number itself",
    )
    parser.add_argument("--quick", action="store_true", help="checkpoints 100 and 1000 only")
    parser.add_argument(
        "--repeats", type=int, default=5, help="repetitions, each with fresh databases (default 5)"
    )
    parser.add_argument(
        "--storages",
        default=",".join(STORAGES),
        help=f"comma-separated, from {','.join(STORAGES)} (default: all)",
    )
    parser.add_argument(
        "--optuna-sql-trials",
        type=int,
        default=None,
        help="measure Optuna on SQLite and PostgreSQL only up to this checkpoint "
        "(default: every checkpoint)",
    )
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="a PostgreSQL server where databases may be created and dropped "
        "(default: $HPTUNE_TEST_POSTGRES_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/test)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the report section here")
    args = parser.parse_args()
    args.postgres_url = postgres_url(args.postgres_url)
    args.load_at_start = load_average()
    args.storages = [s.strip() for s in args.storages.split(",") if s.strip()]
    unknown = sorted(set(args.storages) - set(STORAGES))
    if unknown:
        parser.error(f"unknown storage {unknown}; choose from {', '.join(STORAGES)}")
    last = 1_000 if args.quick else args.trials
    if last < 1:
        parser.error("--trials must be at least 1")
    checkpoints = sorted({c for c in CHECKPOINTS if c < last} | {last})

    cases = run_all(args, checkpoints)
    text = report(args, checkpoints, cases)
    print(text)
    if args.out:
        write_section(args.out, "storage", text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
