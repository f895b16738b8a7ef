"""Sample efficiency of hptune's samplers beside the peers installed here, Bayesmark style.

Each sampler (hptune's by name, and every installed peer from ``peers.py``) minimises each
problem of ``problems.py`` (synthetic functions, mixed and conditional spaces, and
scikit-learn model tuning) for a fixed budget of evaluations, once per seed. A run's
normalized score after ``n`` evaluations is ``100 * (median_random - best_so_far) /
(median_random - best_known)`` (``scoring.py``); the report gives the final score per
sampler (mean over problems, 95% bootstrap interval over seeds), by family, the mean rank
over problems, a per-problem table, the time each sampler took, and anytime plots.

``--continuous`` runs the continuous problems at larger budgets (300 to 1,000 evaluations,
dimensions 6 to 40) for hptune's CMA-ES beside Optuna's CmaEsSampler and Nevergrad.

``--heldout`` checks hptune's defaults out of sample: the problems of family "heldout"
(none of hptune's defaults was chosen on them) with seeds 100 to 104 (the other modes use
seeds from 0), at 50 evaluations each, every sampler as in the main run. With
``--continuous`` too, the float-only held-out problems at 500 evaluations, the samplers of
the continuous mode: auto's rule for CMA-ES and CMA-ES's own defaults, out of sample.

``--batch`` measures parallel quality instead: hptune's TPE and GP asked for 8 proposals
before any is told (8 pending trials), against the same samplers one at a time, at equal
evaluations; the report gives the ratio of their scores.

Every (sampler, problem, seed) run is a task for a pool of worker processes (``--jobs``);
each finished run is cached in ``benchmarks/results/samplers/raw*.json``, so an interrupted
benchmark resumes where it stopped and ``--report-only`` rewrites the report from the
cache. The random reference (``median_random``, 2,000 seeded uniform draws per problem;
500 for the sklearn problems, 200 in quick mode) is cached in ``reference.json``. Worker
processes run with one thread each (``OMP_NUM_THREADS=1`` etc.), the same for every
sampler.

Run::

    python benchmarks/samplers.py                       # full: 23 problems, 5 seeds
    python benchmarks/samplers.py --quick               # 4 problems, 2 seeds, small budgets
    python benchmarks/samplers.py --batch               # parallel quality, hptune tpe and gp
    python benchmarks/samplers.py --continuous          # CMA-ES at 300-1,000 evaluations
    python benchmarks/samplers.py --heldout             # held-out problems and seeds
    python benchmarks/samplers.py --heldout --continuous  # the same at 500 evaluations
    python benchmarks/samplers.py --quick --samplers random,qmc,optuna-tpe --problems Branin
    python benchmarks/samplers.py --report-only         # the report from the cached runs
    python benchmarks/samplers.py --rerun tpe,gp        # after changing hptune's samplers

The full run takes about 6 hours on two idle cores (about 41,000 CPU seconds, measured
piecewise): scikit-optimize alone is half of it (about 380 CPU s per 200-evaluation run),
SMAC3 and Optuna's GPSampler most of the rest.

``--samplers`` defaults to hptune's "random", "tpe", "gp" and "auto" (the default a user
gets) plus every installed peer; a name that cannot run here is skipped with its reason,
printed and written in the report.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import peers
import sampler_report
from _common import THREAD_VARS, load_average, load_json, save_json
from problems import Problem, all_problems, get_problem

RESULTS = Path(__file__).resolve().parent / "results"
RAW_DIR = RESULTS / "samplers"
REFERENCE_PATH = RAW_DIR / "reference.json"
DEFAULT_OUT = RESULTS / "samplers.md"

FULL_SEEDS = 5
HELDOUT_FIRST_SEED = 100  # seeds no default was tuned on
HELDOUT_BUDGET = 50
HELDOUT_CONTINUOUS_BUDGET = 500  # at least 40 per parameter: auto runs CMA-ES from the start
QUICK_SEEDS = 2
QUICK_BUDGETS = {"Branin": 30, "Hartmann6": 50, "NASLike": 40, "SVC-breast_cancer": 30}
BATCH_PROBLEMS = {
    "Hartmann6": 200,
    "Ackley5": 200,
    "Levy10": 200,
    "NASLike": 96,
    "HistGB-diabetes": 96,
}
BATCH_QUICK_BUDGETS = {"Hartmann6": 48, "NASLike": 40}
# Continuous problems at larger budgets (dimensions 6 to 40): the evolutionary samplers.
CONTINUOUS_PROBLEMS = {
    "Hartmann6": 300,
    "Ackley10": 500,
    "Levy10": 500,
    "StyblinskiTang8": 500,
    "Rosenbrock20": 1000,
    "Ackley40": 1000,
    "StyblinskiTang40": 1000,
}
CONTINUOUS_QUICK_BUDGETS = {"Levy10": 200, "Rosenbrock20": 300}
DEFAULT_CONTINUOUS = ("random", "cmaes", "tpe", "auto", "optuna-cmaes", "nevergrad")
BATCH_SIZE = 8
DEFAULT_HPTUNE = ("random", "tpe", "gp", "auto")  # auto: the default a user gets
DEFAULT_BATCH = ("tpe", "gp")
REFERENCE_N = 2000
REFERENCE_N_SKLEARN = {"full": 500, "quick": 200}
REFERENCE_SEED = 20_240_601
SAVE_EVERY_S = 20.0
# Rough cost per evaluation, relative to a cheap sampler; only orders the tasks.
SLOW_SAMPLERS = {
    "skopt-gp": 8.0,
    "smac": 5.0,
    "smac-gp": 8.0,
    "optuna-gp": 5.0,
    "optuna-gp-det": 5.0,
    "gp": 5.0,
    "nevergrad": 2.0,
}


@dataclass(frozen=True)
class Task:
    """One run: a sampler on a problem for a budget, with a seed and a batch size."""

    sampler: str
    problem: str
    budget: int
    seed: int
    batch: int = 1

    @property
    def key(self) -> str:
        return f"{self.sampler}|{self.problem}|{self.budget}|{self.batch}|{self.seed}"


@dataclass
class Plan:
    """What one invocation measures."""

    mode: str  # "quality", "batch" or "continuous"
    quick: bool
    samplers: list[str]
    skipped: dict[str, str]
    problems: list[Problem]
    budgets: dict[str, int]
    seeds: list[int]
    batch_sizes: tuple[int, ...]
    raw_path: Path
    versions: dict[str, str] = field(default_factory=dict)
    rerun: list[str] = field(default_factory=list)  # samplers whose cached runs are dropped

    @property
    def section(self) -> str:
        return self.mode + ("-quick" if self.quick else "")

    def tasks(self) -> list[Task]:
        tasks = [
            Task(s, p.name, self.budgets[p.name], seed, b)
            for seed in self.seeds
            for p in self.problems
            for s in self.samplers
            for b in self.batch_sizes
        ]
        # The longest runs first, so that the pool does not end on one long run.
        families = {p.name: p.family for p in self.problems}

        def cost(t: Task) -> float:
            per_eval = SLOW_SAMPLERS.get(t.sampler, 1.0) + 3.0 * (families[t.problem] == "sklearn")
            return t.budget * per_eval

        return sorted(tasks, key=cost, reverse=True)


# Workers ----------------------------------------------------------------------------------


def run_task(task: Task) -> dict[str, Any]:
    """Run one task in this (worker) process; return its record, or its error."""
    import warnings

    warnings.filterwarnings("ignore")
    problem = get_problem(task.problem)
    spent = [0.0, 0.0]  # wall, CPU seconds in the objective

    def objective(values: Any) -> float:
        start, start_cpu = time.perf_counter(), time.process_time()
        value = problem.evaluate(values)
        spent[0] += time.perf_counter() - start
        spent[1] += time.process_time() - start_cpu
        return value

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        values = peers.runner(task.sampler)(problem, task.budget, task.seed, objective, task.batch)
    except Exception as e:  # one failed run is reported, the others go on
        return {"error": f"{type(e).__name__}: {e}"}
    return {
        "values": [float(v) for v in values],
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "objective": spent[0],
        "objective_cpu": spent[1],
    }


def reference_sample(problem_name: str, n: int) -> dict[str, Any]:
    """Evaluate ``n`` seeded uniform random points of a problem; their median and minimum."""
    import warnings

    warnings.filterwarnings("ignore")
    problem = get_problem(problem_name)
    rng = np.random.default_rng([REFERENCE_SEED, sum(map(ord, problem_name))])
    values = [problem.evaluate(problem.sample(rng)) for _ in range(n)]
    return {
        "n": n,
        "seed": REFERENCE_SEED,
        "median": float(np.median(values)),
        "min": float(np.min(values)),
        "quartiles": [float(q) for q in np.percentile(values, [25, 75])],
    }


# Caches -----------------------------------------------------------------------------------


def _needed_reference(plan: Plan, reference: dict[str, Any]) -> dict[str, int]:
    mode = "quick" if plan.quick else "full"
    need = {}
    for p in plan.problems:
        n = REFERENCE_N_SKLEARN[mode] if p.family == "sklearn" else REFERENCE_N
        if reference.get(p.name, {}).get("n", 0) < n:
            need[p.name] = n
    return need


def execute(plan: Plan, jobs: int) -> tuple[dict[str, Any], dict[str, str], float]:
    """Run the missing tasks and reference samples; return (runs, failures, seconds)."""
    raw = load_json(plan.raw_path)
    runs: dict[str, Any] = raw.get("runs", {})
    dropped = [k for k, r in runs.items() if r["sampler"] in plan.rerun]
    for key in dropped:
        del runs[key]
    if dropped:
        print(f"dropped {len(dropped)} cached runs of {plan.rerun}", file=sys.stderr)
    reference = load_json(REFERENCE_PATH)
    todo = [t for t in plan.tasks() if t.key not in runs]
    need = _needed_reference(plan, reference)
    cached = len(plan.tasks()) - len(todo)
    print(
        f"{len(todo)} runs to do ({cached} cached in {plan.raw_path.name}), "
        f"{len(need)} reference samples, {jobs} worker(s)",
        file=sys.stderr,
        flush=True,
    )
    failures: dict[str, str] = {}
    start = last_save = time.perf_counter()
    if not todo and not need:
        return runs, failures, 0.0
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures: dict[cf.Future[dict[str, Any]], Any] = {}
        for name, n in need.items():
            futures[pool.submit(reference_sample, name, n)] = name
        for task in todo:
            futures[pool.submit(run_task, task)] = task
        try:
            for done, future in enumerate(cf.as_completed(futures), 1):
                what = futures[future]
                result = future.result()
                elapsed = time.perf_counter() - start
                if isinstance(what, str):
                    reference[what] = result
                    save_json(REFERENCE_PATH, reference, sort_keys=True)
                    note = f"reference {what}: median {result['median']:.4g} (n={result['n']})"
                elif "error" in result:
                    failures[what.key] = result["error"]
                    note = f"{what.key}: FAILED {result['error']}"
                else:
                    result.update(
                        sampler=what.sampler,
                        problem=what.problem,
                        budget=what.budget,
                        seed=what.seed,
                        batch=what.batch,
                        version=plan.versions.get(what.sampler, "?"),
                    )
                    runs[what.key] = result
                    note = f"{what.key}: best {min(result['values']):.5g}, {result['wall']:.1f} s"
                print(f"[{done}/{len(futures)} {elapsed:.0f} s] {note}", file=sys.stderr)
                if time.perf_counter() - last_save > SAVE_EVERY_S:
                    save_json(plan.raw_path, {"runs": runs}, sort_keys=True)
                    last_save = time.perf_counter()
        finally:
            save_json(plan.raw_path, {"runs": runs}, sort_keys=True)
    return runs, failures, time.perf_counter() - start


# Planning ---------------------------------------------------------------------------------


def _split(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def choose_samplers(requested: list[str], mode: str) -> tuple[list[str], dict[str, str]]:
    """The samplers that can run here, and why each other requested one cannot."""
    batch = mode == "batch"
    if not requested and mode.startswith("continuous"):
        requested = list(DEFAULT_CONTINUOUS)
    elif not requested:
        own = DEFAULT_BATCH if batch else DEFAULT_HPTUNE
        installed = [] if batch else [n for n in peers.PEERS if peers.status(n)[0]]
        requested = [*own, *installed]
        missing = [n for n in peers.PEERS if not batch and not peers.status(n)[0]]
        requested += missing  # listed as skipped, with the reason
    chosen, skipped = [], {}
    for name in dict.fromkeys(requested):
        version, why = peers.status(name)
        if version is None:
            skipped[name] = why
        elif batch and not peers.supports_batch(name):
            skipped[name] = "no batch (ask several, then tell) adapter"
        else:
            chosen.append(name)
    for name, why in skipped.items():
        print(f"skipping {name}: {why}", file=sys.stderr)
    return chosen, skipped


def make_plan(args: argparse.Namespace) -> Plan:
    modes = {
        "continuous-heldout": args.continuous and args.heldout,
        "batch": args.batch,
        "continuous": args.continuous,
        "heldout": args.heldout,
    }
    mode = next((m for m, on in modes.items() if on), "quality")
    problems_all = all_problems()
    heldout = {n: p for n, p in problems_all.items() if p.family == "heldout"}
    if mode == "continuous-heldout":  # float-only: where auto's CMA-ES rule applies
        budgets = {
            n: HELDOUT_CONTINUOUS_BUDGET
            for n, p in heldout.items()
            if all(q.kind == "float" for q in p.params)
        }
    elif args.heldout:
        budgets = dict.fromkeys(heldout, HELDOUT_BUDGET)
    elif args.batch:
        budgets = dict(BATCH_QUICK_BUDGETS if args.quick else BATCH_PROBLEMS)
    elif args.continuous:
        budgets = dict(CONTINUOUS_QUICK_BUDGETS if args.quick else CONTINUOUS_PROBLEMS)
    elif args.quick:
        budgets = dict(QUICK_BUDGETS)
    else:  # the held-out problems stay out of the main suite
        budgets = {n: p.budget for n, p in problems_all.items() if p.family != "heldout"}
    if args.problems:
        unknown = [n for n in _split(args.problems) if n not in problems_all]
        if unknown:
            raise SystemExit(f"unknown problems {unknown}; valid: {', '.join(problems_all)}")
        budgets = {n: budgets.get(n, problems_all[n].budget) for n in _split(args.problems)}
    if args.budget:
        budgets = dict.fromkeys(budgets, args.budget)
    samplers, skipped = choose_samplers(_split(args.samplers), mode)
    n_seeds = args.seeds or (QUICK_SEEDS if args.quick else FULL_SEEDS)
    first_seed = HELDOUT_FIRST_SEED if args.heldout else 0
    suffix = ("" if mode == "quality" else f"-{mode}") + ("-quick" if args.quick else "")
    plan = Plan(
        mode=mode,
        quick=args.quick,
        samplers=samplers,
        skipped=skipped,
        problems=[problems_all[n] for n in budgets],
        budgets=budgets,
        seeds=list(range(first_seed, first_seed + n_seeds)),
        batch_sizes=(1, BATCH_SIZE) if args.batch else (1,),
        raw_path=args.raw or RAW_DIR / f"raw{suffix}.json",
    )
    plan.versions = {s: peers.status(s)[0] or "?" for s in samplers}
    plan.rerun = _split(args.rerun)
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 problems, 2 seeds, small budgets")
    parser.add_argument("--batch", action="store_true", help="8 pending proposals vs sequential")
    parser.add_argument(
        "--continuous",
        action="store_true",
        help="continuous problems at 300-1,000 evaluations: CMA-ES beside Optuna's and Nevergrad",
    )
    parser.add_argument(
        "--heldout",
        action="store_true",
        help="held-out problems (family 'heldout') with seeds from 100: the defaults out of sample",
    )
    parser.add_argument("--samplers", help="comma-separated names (default: see above)")
    parser.add_argument("--problems", help="comma-separated problem names (default: the mode's)")
    parser.add_argument("--seeds", type=int, help="seeds 0..N-1 (default 5, quick 2)")
    parser.add_argument("--budget", type=int, help="one budget for every problem")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--raw", type=Path, help="the run cache (default by mode)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the report to update")
    parser.add_argument("--report-only", action="store_true", help="run nothing; report")
    parser.add_argument(
        "--rerun",
        help="comma-separated samplers whose cached runs are discarded and run again "
        "(after their code changed: the cache knows a library's version, not its revision)",
    )
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.batch and (args.continuous or args.heldout):
        parser.error("--batch is a separate run; give it alone")

    for var in THREAD_VARS:
        os.environ[var] = "1"  # inherited by the spawned workers
    load_at_start = load_average()
    plan = make_plan(args)
    if args.report_only:
        runs, failures, seconds = load_json(plan.raw_path).get("runs", {}), {}, None
    else:
        runs, failures, seconds = execute(plan, args.jobs)
    reference = load_json(REFERENCE_PATH)
    missing = [p.name for p in plan.problems if p.name not in reference]
    if missing:
        raise SystemExit(f"no random reference for {missing}; run without --report-only first")
    command = shlex.join(["python", "benchmarks/samplers.py", *sys.argv[1:]])
    context = sampler_report.Context(
        plan=plan,
        runs=runs,
        reference=reference,
        failures=failures,
        seconds=seconds,
        jobs=args.jobs,
        command=command,
        load_at_start=load_at_start,
        out=args.out,
    )
    sections = {
        "batch": sampler_report.batch_section,
        "continuous": sampler_report.continuous_section,
        "continuous-heldout": sampler_report.continuous_section,
        "quality": sampler_report.quality_section,
        "heldout": sampler_report.heldout_section,
    }
    text = sections[plan.mode](context)
    sampler_report.write_section(args.out, plan.section, text)
    print(text)
    print(f"wrote section {plan.section!r} of {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
