"""Cost of a pruning decision as the study grows: ``trial.should_prune()`` at 100 to 10,000.

A study is filled with finished trials that reported at steps 1, 3 and 9 (the rungs of
``"asha"``: minimum resource 1, reduction factor 3) and whose values come from a seeded
random quality, a third of them pruned at a rung. Around 100, 1,000 and 10,000 finished
trials, 100 new trials each report at steps 1, 3 and 9 and ask ``should_prune()`` after
each report; only that call is timed (``time.perf_counter``), not the report (one
untimed trial checked at every rung first takes in the trials the fill added behind the
pruner's back). The
pruners: ``"asha"`` (``SuccessiveHalvingPruner()``) and ``"median"`` (``MedianPruner()``),
on an in-memory storage and on a SQLite file (filled with ``?synchronous=normal`` so that
filling 10,000 trials takes seconds, not minutes; a check reads, and reads are the same at
every durability). Each (pruner, storage) runs ``--repeats`` times (5 by default) in a
fresh process, the runs taking turns.

On SQLite each statement a check sends is counted (SQLAlchemy's cursor events), and so
are the statements that read the checked trial itself by its id: a check needs the
history's changes only, never a reread of the running trial, whose handle holds its
reports.

Run::

    python benchmarks/pruning.py --out benchmarks/results/storage.md
    python benchmarks/pruning.py --points 100,1000 --repeats 2      # a check of the harness
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    Repeated,
    describe_environment,
    load_average,
    markdown_table,
    upper_bound_verdict,
    write_section,
)

POINTS = (100, 1_000, 10_000)
WINDOW = 100  # new trials per point, each checked at 3 rungs
STEPS = (1, 3, 9)
PRUNERS = ("asha", "median")
STORAGES = ("memory", "sqlite")
MAX_GROWTH = 1.2  # the issue: flat from 100 to 10,000 trials
NOISE_SE = 2.0


def _fill(study: Any, n: int, rng: random.Random) -> None:
    """Add ``n`` finished trials: reports at every rung, a third pruned at a random rung."""
    import hptune as ht

    for _ in range(n):
        trial = study.ask()
        quality = rng.random()
        stop = rng.choice([1, 3, 9, None, None, None])
        last = 0.0
        for step in STEPS:
            last = quality + 1.0 / step
            trial.report(last, step)
            if step == stop:
                break
        study.tell(trial, state=ht.TrialState.PRUNED) if stop else study.tell(trial, last)


def run(pruner: str, storage: str, points: list[int], seed: int, conn: Any) -> None:
    """In a fresh process: fill to each point, time the checks of a window of trials."""
    import sqlalchemy as sa

    import hptune as ht

    try:
        with tempfile.TemporaryDirectory(prefix="hptune-bench-") as tmp:
            url = None if storage == "memory" else f"sqlite:///{tmp}/p.db?synchronous=normal"
            study = ht.create_study(storage=url, sampler="random", seed=seed, pruner=pruner)
            statements: list[str] = []
            if url is not None:
                engine = study.storage._engine  # type: ignore[attr-defined]
                sa.event.listen(
                    engine,
                    "before_cursor_execute",
                    lambda conn, cursor, stmt, *a: statements.append(stmt),
                )
            rng = random.Random(seed)
            out: dict[int, dict[str, Any]] = {}
            done = 0
            for point in points:
                _fill(study, point - done, rng)
                # One untimed trial, checked at every rung, takes in the trials added by the
                # fill at once: a catch-up that a study whose trials finish one by one
                # between checks never pays. Its values are the best, so it reaches them all.
                warm = study.ask()
                for step in STEPS:
                    warm.report(-1.0, step)
                    warm.should_prune()
                study.tell(warm, -1.0)
                times: list[float] = []
                counts: list[int] = []
                by_id = 0
                for _ in range(WINDOW):
                    trial = study.ask()
                    quality = rng.random()
                    pruned = False
                    for step in STEPS:
                        trial.report(quality + 1.0 / step, step)
                        statements.clear()
                        start = time.perf_counter()
                        pruned = trial.should_prune()
                        times.append(time.perf_counter() - start)
                        counts.append(len(statements))
                        by_id += sum(1 for s in statements if _BY_ID.search(s))
                        if pruned:
                            break
                    if pruned:
                        study.tell(trial, state="pruned")
                    else:
                        study.tell(trial, quality + 1.0 / STEPS[-1])
                done = len(study.trials)
                out[point] = {"times": times, "statements": counts, "by_id": by_id}
            conn.send(out)
    except Exception as e:
        conn.send(f"{type(e).__name__}: {e}")


# A read of one trial by its id (hptune's SQL reader filters "hptune_trials.id = ?").
_BY_ID = re.compile(r"WHERE hptune_trials\.id = ", re.IGNORECASE)


@dataclass
class Case:
    pruner: str
    storage: str
    runs: dict[int, list[list[float]]] = field(default_factory=dict)
    statements: dict[int, list[int]] = field(default_factory=dict)
    by_id: dict[int, int] = field(default_factory=dict)
    skipped: str | None = None

    def stats(self, point: int) -> Repeated | None:
        runs = self.runs.get(point)
        return Repeated.of(runs) if runs else None

    def growth(self, last: int, first: int) -> list[float]:
        pairs = zip(self.runs.get(last, []), self.runs.get(first, []), strict=False)
        return [statistics.fmean(a) / statistics.fmean(b) for a, b in pairs]


def _fmt(ms: float) -> str:
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 10 else f"{ms:.1f}"


def report(args: argparse.Namespace, cases: list[Case]) -> str:
    points = args.points
    lines = [
        "## Cost of a pruning decision as the study grows (`benchmarks/pruning.py`)",
        "",
        *describe_environment(None, args.load_at_start),
        f"- Command: `{shlex.join(['python', 'benchmarks/pruning.py', *sys.argv[1:]])}`",
        "",
        "Milliseconds per `trial.should_prune()` (the report before it not timed), over the "
        f"checks of {WINDOW} new trials around each number of finished trials (each checked "
        f'after its reports at steps {", ".join(map(str, STEPS))}, the rungs of `"asha"`, '
        f"until pruned): mean, median and 99th percentile pooled over {args.repeats} "
        "repetitions, and the spread of the repetitions' means. Finished trials reported at "
        "the same steps, a third pruned at a random rung; before each window one untimed trial, "
        "checked at every rung, takes in the trials added by the fill. SQLite: a file filled with "
        "`?synchronous=normal` (a check only reads). *Statements*: SQL statements per check "
        "(the change counter, then the trials changed since the last read, the checked one's "
        "new report among them); *by id*: statements that read the checked trial by its id, "
        "over all checks.",
        "",
    ]
    rows = []
    for case in cases:
        for point in points:
            stats = case.stats(point)
            if case.skipped or stats is None:
                rows.append([case.pruner, case.storage, f"{point:,}", "not measured"] + [""] * 5)
                continue
            sql = case.storage != "memory"
            statements = case.statements.get(point, [])
            rows.append(
                [
                    case.pruner,
                    case.storage,
                    f"{point:,}",
                    _fmt(stats.pooled.mean),
                    _fmt(stats.pooled.median),
                    _fmt(stats.pooled.p99),
                    stats.spread(_fmt),
                    f"{statistics.fmean(statements):.1f}" if sql and statements else "-",
                    str(case.by_id.get(point, 0)) if sql else "-",
                ]
            )
    lines += markdown_table(
        [
            "pruner",
            "storage",
            "finished trials",
            "mean ms",
            "median",
            "p99",
            "spread of means",
            "statements",
            "by id",
        ],
        rows,
    )
    lines += ["", "### Target from the history issue", ""]
    first, last = points[0], points[-1]
    for case in cases:
        growth = case.growth(last, first)
        if not growth:
            lines.append(f"- {case.pruner} on {case.storage}: {case.skipped or 'not measured'}.")
            continue
        reads = sum(case.by_id.values())
        extra = (
            f"; reads of the checked trial by its id: {reads}" if case.storage != "memory" else ""
        )
        lines.append(
            f"- {case.pruner} on {case.storage}: mean cost with {last:,} finished trials "
            f"within {MAX_GROWTH}x of {first}: "
            f"{upper_bound_verdict(growth, MAX_GROWTH, NOISE_SE)}{extra}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default=",".join(map(str, POINTS)))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pruners", default=",".join(PRUNERS))
    parser.add_argument("--storages", default=",".join(STORAGES))
    parser.add_argument("--out", type=Path, default=None, help="write the report section here")
    args = parser.parse_args()
    args.points = sorted(int(p) for p in args.points.split(","))
    args.load_at_start = load_average()
    cases = [
        Case(p, s) for s in args.storages.split(",") for p in args.pruners.split(",") if p and s
    ]
    context = multiprocessing.get_context("spawn")
    for rep in range(args.repeats):
        for case in cases:
            if case.skipped:
                continue
            print(f"{case.pruner} {case.storage} ({rep + 1}/{args.repeats})", file=sys.stderr)
            parent, child = context.Pipe()
            process = context.Process(
                target=run, args=(case.pruner, case.storage, args.points, rep, child)
            )
            process.start()
            answer = parent.recv()
            process.join()
            if isinstance(answer, str):
                case.skipped = f"failed: {answer}"
                continue
            for point, got in answer.items():
                case.runs.setdefault(point, []).append(got["times"])
                case.statements.setdefault(point, []).extend(got["statements"])
                case.by_id[point] = case.by_id.get(point, 0) + got["by_id"]
    text = report(args, cases)
    print(text)
    if args.out:
        write_section(args.out, "pruning", text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
