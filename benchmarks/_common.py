"""Helpers shared by the storage benchmarks: the machine, fresh databases, the report.

``storage.py`` and ``concurrency.py`` each own one section of
``benchmarks/results/storage.md``; :func:`write_section` replaces that section and keeps
the other, so the two can be run separately and the report stays one file.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import hptune as ht

REPO = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LIBRARIES = ("hptune", "optuna")
REPORT_TITLE = "# Storage: cost per trial and concurrency, beside Optuna"
REPORT_INTRO = (
    "Written by `benchmarks/storage.py`, `benchmarks/pruning.py` and "
    "`benchmarks/concurrency.py` (`make bench-storage` runs them at full size). Each section "
    "comes from one run of its script, on the machine it names; ratios are quoted from that "
    "run only. Machines here are shared and noisy.\n\n"
    "Changed on 2026-12-05: hptune's SQLite default became a sync per commit "
    "(`synchronous=FULL`, like Optuna's default); before, hptune ran `NORMAL` against "
    "Optuna's `FULL` (3.85 against 47.2 ms at trial 100). Both libraries now run at the same "
    "durability on every SQLite row, at two durabilities, and the tables give the mean, "
    "median and 99th percentile over 100 trials (before: the median over 50).\n\n"
    "Changed later on 2026-12-05: the cost per trial is measured 5 times (fresh processes, "
    "files and databases each time, the repetitions taking turns) and the tables pool them "
    "and give the spread of their means; hptune's SQL storage reads a trial's parameters, "
    "reports and attributes by trial id instead of a join (on PostgreSQL the mean at trial "
    "10,000 went from 1.48x to 1.19x its cost at trial 100); the section on the cost of a "
    "pruning decision is new."
)
SECTIONS = ("storage", "pruning", "concurrency")


def postgres_url(cli_value: str | None) -> str:
    """The PostgreSQL server to use: the option, else ``HPTUNE_TEST_POSTGRES_URL``, else local."""
    return cli_value or os.environ.get("HPTUNE_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def masked(url: str) -> str:
    """``url`` with its password hidden, for reports and messages."""
    return sa.make_url(url).render_as_string(hide_password=True)


def postgres_problem(url: str) -> str | None:
    """Return why ``url`` cannot be used (a short reason), or None when it answers."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as e:  # any failure means "not measured", with the reason
        return f"{type(e).__name__}: {str(e).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@contextlib.contextmanager
def fresh_postgres_database(url: str, tag: str) -> Iterator[str]:
    """Create an empty database beside the one ``url`` names; yield its URL; drop it.

    hptune and Optuna both name their tables ``studies`` and ``trials``, so every
    measurement gets a database of its own.
    """
    name = f"hptune_bench_{re.sub(r'[^a-z0-9]', '_', tag.lower())}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def optuna_version() -> str | None:
    """Optuna's version, or None when it is not installed."""
    try:
        import optuna
    except ImportError:
        return None
    return str(optuna.__version__)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        revision = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "hptune"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{revision} + uncommitted changes under hptune/" if dirty else revision


def _server_version(url: str | None) -> str | None:
    if url is None or postgres_problem(url) is not None:
        return None
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def load_average() -> float | None:
    """The 1-minute load average, where the system tells it."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def describe_environment(
    postgres: str | None = None, load_at_start: float | None = None
) -> list[str]:
    """Markdown bullet lines naming the machine, the versions and the date of a run.

    ``load_at_start`` (from :func:`load_average`) shows how busy the machine was: the
    figures mean little when other work shared the CPUs.
    """
    source = Path(ht.__file__).resolve().parent
    if source == REPO / "hptune":
        where = f"this checkout, revision {_git_revision()}"
    else:
        where = f"`{source}` (not this checkout, whose revision is {_git_revision()})"
    peer = optuna_version()
    server = _server_version(postgres)
    lines = [
        f"- Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {_cpu_model()}, {os.cpu_count()} logical CPUs, "
        f"{platform.system()} {platform.release()}",
        f"- hptune {ht.__version__} from {where}",
        f"- {'Optuna ' + peer if peer else 'Optuna not installed'}; "
        f"SQLAlchemy {sa.__version__}; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}" + (f"; PostgreSQL server {server}" if server else ""),
    ]
    now = load_average()
    if load_at_start is not None and now is not None:
        lines.append(
            f"- Load average (1 min): {load_at_start:.2f} at the start, {now:.2f} at the end; "
            "the benchmark itself counts in it"
        )
    return lines


def write_section(
    path: Path,
    key: str,
    text: str,
    *,
    title: str = REPORT_TITLE,
    intro: str = REPORT_INTRO,
    sections: Mapping[str, str] | None = None,
) -> None:
    """Put ``text`` in the report at ``path`` as section ``key``, keeping the others.

    ``sections`` maps each section of the report, in order, to the command that writes
    it (shown while the section is empty); the default is the storage report's.
    """
    how = sections or {name: f"`python benchmarks/{name}.py`" for name in SECTIONS}
    if key not in how:
        raise ValueError(f"unknown section {key!r}; expected one of {list(how)}")
    bodies = dict.fromkeys(how, "")
    if path.exists():
        found = re.findall(
            r"<!-- section: ([\w-]+) -->\n(.*?)<!-- end: \1 -->", path.read_text(), flags=re.S
        )
        bodies.update({name: body for name, body in found if name in bodies})
    bodies[key] = text.rstrip("\n") + "\n"
    parts = [title, "", intro, ""]
    for name, command in how.items():
        body = bodies[name] or f"Not run yet: {command}.\n"
        parts += [f"<!-- section: {name} -->", body.rstrip("\n"), f"<!-- end: {name} -->", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))


def load_json(path: Path, default: dict[str, Any] | None = None) -> dict[str, Any]:
    """A benchmark's JSON cache, or ``default`` (an empty dict) when there is none yet."""
    if not path.exists():
        return {} if default is None else dict(default)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def save_json(path: Path, data: dict[str, Any], *, sort_keys: bool = False) -> None:
    """Write a benchmark's JSON cache atomically (a crash leaves the old file whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":"), sort_keys=sort_keys))
    tmp.replace(path)


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


@dataclass(frozen=True)
class Stats:
    """Milliseconds per operation over a window of trials: mean, median, p99, and the SE.

    The 99th percentile is by the nearest rank (with 100 trials, the second largest); the
    standard error is that of the mean over the window's trials.
    """

    mean: float
    median: float
    p99: float
    se: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        ms = sorted(1000 * t for t in seconds)
        rank = max(0, math.ceil(0.99 * len(ms)) - 1)
        se = statistics.stdev(ms) / math.sqrt(len(ms)) if len(ms) > 1 else math.nan
        return cls(statistics.fmean(ms), statistics.median(ms), ms[rank], se)


@dataclass(frozen=True)
class Repeated:
    """A measurement repeated in fresh processes: the pooled samples and each one's mean.

    ``pooled`` describes every sample of every repetition (mean, median, p99); ``means``
    holds each repetition's mean (ms). The standard error used for verdicts is that of
    the repetitions' means, which also carries what differs between processes and over
    time (the machine's load); with one repetition it falls back to the pooled samples'.
    """

    pooled: Stats
    means: tuple[float, ...]

    @classmethod
    def of(cls, repetitions: Sequence[Sequence[float]]) -> Repeated:
        samples = [t for rep in repetitions for t in rep]
        means = tuple(1000 * statistics.fmean(rep) for rep in repetitions if rep)
        return cls(Stats.of(samples), means)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.means)

    @property
    def se(self) -> float:
        if len(self.means) < 2:
            return self.pooled.se
        return statistics.stdev(self.means) / math.sqrt(len(self.means))

    def spread(self, fmt: Callable[[float], str]) -> str:
        """The lowest and highest repetition mean, e.g. ``"0.61-0.64"``."""
        return f"{fmt(min(self.means))}-{fmt(max(self.means))}"


def upper_bound_verdict(ratios: Sequence[float], bound: float, n_se: float = 2.0) -> str:
    """A verdict on repeated ratios against an upper ``bound``: the mean, its standard
    error over the repetitions, each ratio, and met / missed / not shown, where met and
    missed need the mean ``n_se`` standard errors clear of the bound."""
    mean = statistics.fmean(ratios)
    se = statistics.stdev(ratios) / math.sqrt(len(ratios)) if len(ratios) > 1 else math.nan
    if len(ratios) > 1 and mean + n_se * se <= bound:
        verdict = f"**met** ({n_se:g} standard errors below the bound)"
    elif len(ratios) > 1 and mean - n_se * se > bound:
        verdict = f"**missed** ({n_se:g} standard errors above the bound)"
    else:
        verdict = "**not shown**: within the noise of the bound"
    each = ", ".join(f"{r:.2f}" for r in ratios)
    return f"{mean:.2f}x ± {se:.2f} over {len(ratios)} repetitions ({each}), {verdict}"


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Job:
    """One cached benchmark run: ``run(*args)`` returns its record (with ``"seconds"``)."""

    label: str  # for progress lines, e.g. "digits tpe+asha seed 3"
    key: str  # its record's key in ``data["runs"]``
    error_key: str  # its key in ``data["errors"]`` when it fails
    args: tuple[Any, ...]


def run_cached_jobs(
    run: Callable[..., dict[str, Any]],
    jobs: Sequence[Job],
    workers: int,
    data: dict[str, Any],
    raw: Path,
) -> None:
    """Run ``jobs`` in a pool of spawned processes (one thread each), in the given order.

    Each finished record is stored in ``data["runs"]`` and saved to ``raw`` at once, so an
    interrupted benchmark resumes; a job that raises is recorded in ``data["errors"]`` and
    the others go on; a job run again drops its earlier error. ``data["run_seconds"]``
    accumulates the wall time.
    """
    for job in jobs:
        data.get("errors", {}).pop(job.error_key, None)
    print(f"{len(jobs)} runs to do, {workers} at a time", file=sys.stderr, flush=True)
    if not jobs:
        return
    for name in THREAD_VARS:
        os.environ[name] = "1"  # inherited by the spawned workers: one core per run
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run, *job.args): job for job in jobs}
        for done, future in enumerate(cf.as_completed(futures), start=1):
            job = futures[future]
            try:
                record = future.result()
            except Exception as e:  # a broken run is reported, the others go on
                data.setdefault("errors", {})[job.error_key] = f"{type(e).__name__}: {e}"
                print(f"  {job.label}: FAILED {e!r}", file=sys.stderr)
                continue
            data["runs"][job.key] = record
            save_json(raw, data)
            print(
                f"  [{done}/{len(jobs)}] {job.label}: {record['seconds']:.1f} s "
                f"(elapsed {time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    data["run_seconds"] = data.get("run_seconds", 0.0) + time.perf_counter() - started
