"""Multi-objective search beside Optuna: hypervolume found at equal evaluations.

Each sampler minimises each problem of ``mo_problems.py`` (ZDT1, ZDT2, ZDT3 and DTLZ2 from
their published formulas, and an ``MLPClassifier`` on digits, error against model size)
for a fixed budget of evaluations, once per seed, asking and telling one trial at a time.
The samplers: hptune's ``"evolution"`` (NSGA-II selection with several objectives),
``"tpe"`` (multi-objective TPE) and ``"random"`` (the baseline), by name with the run's
seed; Optuna's ``NSGAIISampler(seed=seed)`` and ``TPESampler(seed=seed,
multivariate=True)``, both with their defaults otherwise. ``--also`` adds further hptune
sampler names (passed to ``ht.create_study(sampler=...)``); a name hptune does not know is
skipped, with its reason printed and written in the report.

A run records every trial's objective values, its wall and CPU time, and the time spent
in the objective (the rest is the library: asking, telling). The report computes, from
those values, the hypervolume of the points found after each number of evaluations
(exact, ``hptune.analysis.hypervolume``) against each problem's reference point, and
gives per problem the final hypervolume (mean ± standard error over seeds) and its
fraction of the true front's (for the model-tuning problem, of the front of all runs
pooled: the best known), the mean normalized hypervolume over problems, the mean rank,
plots of hypervolume against evaluations, and a verdict on the target: hptune's NSGA-II
and MOTPE reach at least the mean hypervolume of Optuna's NSGA-II and TPE at equal
evaluations.

Every (problem, sampler, seed) run is one job for a pool of worker processes (``--jobs``),
each with one thread (``OMP_NUM_THREADS=1`` etc.); a finished run is cached in
``benchmarks/results/multiobjective/raw.json`` (``raw-quick.json`` in quick mode), so an
interrupted benchmark resumes and ``--report-only`` rewrites the report and the plots
from the cache. The full and the quick mode each own one section of
``benchmarks/results/multiobjective.md``.

Run::

    python benchmarks/multiobjective.py                  # full: 5 problems, 5 seeds
    python benchmarks/multiobjective.py --quick          # DTLZ2 and MLP-digits, 2 seeds
    python benchmarks/multiobjective.py --quick --samplers evolution,optuna-nsgaii
    python benchmarks/multiobjective.py --also auto      # and hptune's "auto" sampler
    python benchmarks/multiobjective.py --report-only    # the report from the cached runs
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    REPO,
    Job,
    describe_environment,
    load_average,
    load_json,
    markdown_table,
    run_cached_jobs,
    save_json,
    write_section,
)
from mo_problems import PROBLEMS, MOProblem, get_problem

import hptune as ht
from hptune.analysis.hypervolume import hypervolume, nondominated
from hptune.exceptions import ConfigurationError
from hptune.samplers import get_sampler

RESULTS = REPO / "benchmarks" / "results"
REPORT = RESULTS / "multiobjective.md"
FIGURES = RESULTS / "multiobjective"
FULL_SEEDS, QUICK_SEEDS = 5, 2
QUICK_BUDGETS = {"DTLZ2": 150, "MLP-digits": 40}
CURVE_POINTS = 60  # evaluations at which the hypervolume curve is computed
REPORT_SECTIONS = {
    "full": "`make bench-multiobjective`",
    "quick": "`make bench-multiobjective-quick`",
}


@dataclass(frozen=True)
class SamplerSpec:
    """A sampler of the benchmark: a library and how to build it for a seed."""

    key: str  # the name on the command line and in the cache
    library: str  # "hptune" or "optuna"
    label: str


PEERS = {
    "optuna-nsgaii": SamplerSpec("optuna-nsgaii", "optuna", "Optuna NSGAIISampler"),
    "optuna-tpe": SamplerSpec("optuna-tpe", "optuna", "Optuna TPESampler (multivariate)"),
}
HPTUNE_LABELS = {
    "evolution": "hptune evolution (NSGA-II)",
    "tpe": "hptune tpe (MOTPE)",
    "random": "hptune random",
}
DEFAULT_SAMPLERS = ("evolution", "tpe", "random", "optuna-nsgaii", "optuna-tpe")
# The target's pairs: (hptune, Optuna).
PAIRS = (("evolution", "optuna-nsgaii"), ("tpe", "optuna-tpe"))


def sampler_spec(key: str) -> SamplerSpec:
    """The spec of ``key``: an Optuna peer, or an hptune sampler name."""
    if key in PEERS:
        return PEERS[key]
    return SamplerSpec(key, "hptune", HPTUNE_LABELS.get(key, f"hptune {key}"))


def why_not_runnable(key: str) -> str | None:
    """Why sampler ``key`` cannot run here, or None when it can."""
    if key in PEERS:
        try:
            import optuna  # noqa: F401
        except ImportError:
            return "Optuna is not installed (pip install -e '.[bench]')"
        return None
    try:
        get_sampler(key, seed=0)
    except ConfigurationError as e:
        return f"hptune does not know this sampler name: {str(e).rstrip('.')}"
    return None


def run_key(problem: str, budget: int, sampler: str, seed: int) -> str:
    return f"{problem}|B{budget}|{sampler}|s{seed}"


# --- One run -------------------------------------------------------------------------------


def _make_study(spec: SamplerSpec, n_objectives: int, seed: int) -> Any:
    directions = ["minimize"] * n_objectives
    if spec.library == "hptune":
        return ht.create_study(directions=directions, sampler=spec.key, seed=seed)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (
        optuna.samplers.NSGAIISampler(seed=seed)
        if spec.key == "optuna-nsgaii"
        else optuna.samplers.TPESampler(seed=seed, multivariate=True)
    )
    return optuna.create_study(directions=directions, sampler=sampler)


def run_one(problem_name: str, sampler_key: str, seed: int, budget: int) -> dict[str, Any]:
    """Minimise one problem with one sampler for ``budget`` evaluations; return the record."""
    problem = get_problem(problem_name)
    spec = sampler_spec(sampler_key)
    warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning, sklearn's convergence
    wall0, cpu0 = time.perf_counter(), time.process_time()
    study = _make_study(spec, problem.n_objectives, seed)
    values: list[list[float]] = []
    eval_seconds = 0.0
    for _ in range(budget):
        trial = study.ask()
        params = problem.suggest(trial)
        started = time.perf_counter()
        out = problem.evaluate(params)
        eval_seconds += time.perf_counter() - started
        study.tell(trial, values=list(out))
        values.append(list(out))
    return {
        "values": values,
        "seconds": time.perf_counter() - wall0,
        "cpu_seconds": time.process_time() - cpu0,
        "eval_seconds": eval_seconds,
    }


# --- Running -------------------------------------------------------------------------------


def _cost(problem: str, sampler: str) -> float:
    """A rough order for the pool, longest first: model tuning, then Optuna's TPE."""
    return (problem == "MLP-digits") * 100 + (sampler == "optuna-tpe") * 10 + (sampler == "tpe")


def run_all(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """Run every (problem, sampler, seed) missing from ``data``, saving after each."""
    todo = [
        (problem, sampler, seed)
        for problem in args.problems
        for sampler in args.samplers
        for seed in range(args.seeds)
        if run_key(problem, args.budgets[problem], sampler, seed) not in data["runs"]
    ]
    todo.sort(key=lambda job: -_cost(job[0], job[1]))
    jobs = [
        Job(
            f"{problem} {sampler} seed {seed}",
            run_key(problem, args.budgets[problem], sampler, seed),
            f"{problem}|{sampler}|{seed}",
            (problem, sampler, seed, args.budgets[problem]),
        )
        for problem, sampler, seed in todo
    ]
    run_cached_jobs(run_one, jobs, args.jobs, data, args.raw)


# --- Hypervolume curves and summaries ----------------------------------------------------


def curve_grid(budget: int) -> np.ndarray:
    """The evaluation counts at which curves are computed (the budget included)."""
    grid: np.ndarray = np.unique(np.linspace(1, budget, CURVE_POINTS).round().astype(int))
    return grid


def hypervolume_curve(
    values: np.ndarray, reference: tuple[float, ...], grid: np.ndarray
) -> np.ndarray:
    """The hypervolume of the first ``n`` points for each ``n`` of ``grid``."""
    return np.array([hypervolume(values[:n], reference) for n in grid])


@dataclass
class Summary:
    """The runs of one sampler on one problem, their curves and their times."""

    spec: SamplerSpec
    runs: list[dict[str, Any]]
    curves: np.ndarray  # (seeds, len(grid)), raw hypervolume

    def final(self) -> tuple[float, float]:
        """Mean and standard error over seeds of the final hypervolume."""
        return _mean_se(self.curves[:, -1])

    def at(self, column: int) -> tuple[float, float]:
        return _mean_se(self.curves[:, column])

    def mean_of(self, key: str) -> float:
        return float(np.mean([r[key] for r in self.runs]))

    def front_size(self, reference: tuple[float, ...]) -> float:
        sizes = []
        for r in self.runs:
            v = np.asarray(r["values"])
            sizes.append(len(nondominated(v[np.all(v < np.asarray(reference), axis=1)])))
        return float(np.mean(sizes))


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan
    se = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan
    return float(x.mean()), se


def summarize(
    problem: MOProblem, budget: int, samplers: list[str], seeds: int, data: dict[str, Any]
) -> list[Summary]:
    grid = curve_grid(budget)
    out = []
    for key in samplers:
        runs = [
            data["runs"][k]
            for seed in range(seeds)
            if (k := run_key(problem.name, budget, key, seed)) in data["runs"]
        ]
        if not runs:
            continue
        # Exact 3-d hypervolumes of a thousand points take seconds: curves are cached in
        # the run's record, under the reference point and the grid they were computed on.
        tag = f"{list(problem.reference)}|{len(grid)}"
        for r in runs:
            if tag not in r.setdefault("curves", {}):
                v = np.asarray(r["values"])
                r["curves"][tag] = hypervolume_curve(v, problem.reference, grid).tolist()
        curves = np.array([r["curves"][tag] for r in runs])
        out.append(Summary(sampler_spec(key), runs, curves))
    return out


def best_hypervolume(problem: MOProblem, summaries: list[Summary]) -> tuple[float, str]:
    """The hypervolume to normalize by, and where it comes from."""
    if problem.true_hypervolume is not None:
        return problem.true_hypervolume, "true front"
    pooled = np.concatenate([np.asarray(r["values"]) for s in summaries for r in s.runs])
    return hypervolume(pooled, problem.reference), "front of all runs pooled (best known)"


# --- Report --------------------------------------------------------------------------------


def _fmt(mean: float, se: float, digits: int = 4) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.{digits}f}" + ("" if math.isnan(se) else f" ± {se:.{digits}f}")


def problem_section(
    problem: MOProblem, budget: int, summaries: list[Summary], best: tuple[float, str]
) -> list[str]:
    """The report's table for one problem."""
    best_hv, source = best
    grid = curve_grid(budget)
    third = int(np.searchsorted(grid, budget / 3))
    n_seeds = max(len(s.runs) for s in summaries)
    lines = [
        f"### {problem.name}",
        "",
        f"{problem.note}; reference point {list(problem.reference)}; {budget} evaluations, "
        f"{n_seeds} seeds. Normalized by the hypervolume of the {source}: "
        f"{best_hv:.4f}. Hypervolume is mean ± standard error over seeds; *front* is the "
        "mean number of non-dominated points inside the reference box; *library s* is a "
        "run's wall time less the time in the objective.",
        "",
    ]
    header = [
        "sampler",
        f"HV @ {grid[third]}",
        f"HV @ {budget}",
        "fraction of best",
        "front",
        "wall s",
        "CPU s",
        "library s",
    ]
    rows = []
    for s in summaries:
        mean, se = s.final()
        rows.append(
            [
                s.spec.label,
                _fmt(*s.at(third)),
                _fmt(mean, se),
                f"{mean / best_hv:.3f}" if best_hv > 0 else "—",
                f"{s.front_size(problem.reference):.1f}",
                f"{s.mean_of('seconds'):.1f}",
                f"{s.mean_of('cpu_seconds'):.1f}",
                f"{s.mean_of('seconds') - s.mean_of('eval_seconds'):.1f}",
            ]
        )
    return [*lines, *markdown_table(header, rows)]


def overall(results: dict[str, tuple[list[Summary], float]]) -> dict[str, dict[str, float]]:
    """Per sampler: normalized final hypervolume per problem, its mean, and the mean rank."""
    table: dict[str, dict[str, float]] = {}
    for name, (summaries, best_hv) in results.items():
        means = {s.spec.key: s.final()[0] / best_hv for s in summaries}
        order = sorted(means, key=lambda k: -means[k])
        ranks = {k: 1 + sum(means[j] > means[k] for j in order) for k in order}
        for k, v in means.items():
            table.setdefault(k, {})[name] = v
            table[k].setdefault("_ranks", 0.0)
            table[k]["_ranks"] += ranks[k]
            table[k].setdefault("_n", 0.0)
            table[k]["_n"] += 1
    for row in table.values():
        values = [v for p, v in row.items() if not p.startswith("_")]
        row["_mean"] = float(np.mean(values))
        row["_rank"] = row["_ranks"] / row["_n"]
    return table


def verdict_lines(
    results: dict[str, tuple[list[Summary], float]], table: dict[str, dict[str, float]]
) -> list[str]:
    """The target's verdict, pair by pair, with the numbers."""
    lines = [
        "Target: *hptune NSGA-II and MOTPE >= Optuna's NSGA-II and TPE on mean hypervolume "
        "at equal evaluations* — for each pair, the mean over problems of the normalized "
        "final hypervolume (each problem's mean over seeds), and the problems where hptune's "
        "mean is at least Optuna's.",
        "",
    ]
    for ours, theirs in PAIRS:
        if ours not in table or theirs not in table:
            lines.append(f"- {ours} vs {theirs}: not checked, one of them did not run.")
            continue
        common = [p for p in table[ours] if not p.startswith("_") and p in table[theirs]]
        h = float(np.mean([table[ours][p] for p in common]))
        o = float(np.mean([table[theirs][p] for p in common]))
        won = [p for p in common if table[ours][p] >= table[theirs][p]]
        lost = [
            f"{p} ({table[ours][p]:.3f} vs {table[theirs][p]:.3f})" for p in common if p not in won
        ]
        met = h >= o
        lines.append(
            f"- **{sampler_spec(ours).label}** {h:.4f} vs **{sampler_spec(theirs).label}** "
            f"{o:.4f} (difference {h - o:+.4f}) over {len(common)} problems: "
            f"**{'met' if met else 'missed'}**; hptune at least as good on {len(won)}/"
            f"{len(common)} problems" + (f"; behind on {', '.join(lost)}" if lost else "") + "."
        )
    return lines


def plot(
    results: dict[str, tuple[list[Summary], float]], budgets: dict[str, int], path: Path
) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plots (pip install matplotlib)", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 4.0), squeeze=False)
    colors = {key: f"C{i}" for i, key in enumerate(DEFAULT_SAMPLERS)}
    for ax, (name, (summaries, best_hv)) in zip(axes[0], results.items(), strict=True):
        grid = curve_grid(budgets[name])
        for i, s in enumerate(summaries):
            curves = s.curves / best_hv
            mean = curves.mean(axis=0)
            se = curves.std(axis=0, ddof=1) / math.sqrt(len(curves)) if len(curves) > 1 else 0
            color = colors.get(s.spec.key, f"C{5 + i % 5}")
            style = "--" if s.spec.library == "optuna" else "-"
            ax.plot(grid, mean, style, color=color, label=s.spec.label)
            ax.fill_between(grid, mean - se, mean + se, color=color, alpha=0.12)
        ax.set_title(name)
        ax.set_xlabel("evaluations")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("hypervolume / best (mean ± s.e. over seeds)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def report(args: argparse.Namespace, data: dict[str, Any]) -> str:
    """The section of the report for this mode, from the cached runs."""
    mode = "quick (`--quick`)" if args.quick else "full"
    results: dict[str, tuple[list[Summary], float]] = {}
    sections: list[str] = []
    for name in args.problems:
        problem = get_problem(name)
        summaries = summarize(problem, args.budgets[name], args.samplers, args.seeds, data)
        if not summaries:
            continue
        best = best_hypervolume(problem, summaries)
        results[name] = (summaries, best[0])
        sections += [*problem_section(problem, args.budgets[name], summaries, best), ""]
    heading = "## Full run" if not args.quick else "## Quick run (a check of the harness)"
    lines = [
        heading,
        "",
        *data.get("environment", describe_environment()),
        f"- Mode: {mode}; {data.get('jobs', args.jobs)} runs at a time, one thread each; the "
        f"runs took {data.get('run_seconds', 0.0) / 60:.1f} min of wall time in all",
        f"- Command: `{data.get('command', '')}`",
        "",
    ]
    if not results:
        return "\n".join([*lines, "No runs cached yet."])
    table = overall(results)
    suffix = "-quick" if args.quick else ""
    figure = plot(results, args.budgets, FIGURES / f"hypervolume{suffix}.png")
    names = list(results)
    header = ["sampler", "mean normalized HV", "mean rank", *names]
    rows = [
        [
            sampler_spec(k).label,
            f"{row['_mean']:.4f}",
            f"{row['_rank']:.2f}",
            *(f"{row[p]:.3f}" if p in row else "—" for p in names),
        ]
        for k, row in sorted(table.items(), key=lambda kv: -kv[1]["_mean"])
    ]
    lines += [
        "### Summary",
        "",
        "Final hypervolume as a fraction of the best (the true front's for ZDT and DTLZ, the "
        "pooled front of all runs for model tuning), mean over seeds, then over problems; "
        "rank 1 is the best mean on a problem.",
        "",
        *markdown_table(header, rows),
        "",
        *verdict_lines(results, table),
        "",
    ]
    if figure is not None:
        lines += [f"![hypervolume vs evaluations]({figure.relative_to(RESULTS)})", ""]
    lines += sections
    not_run = [f"- {key}: {why}." for key, why in args.skipped]
    not_run += [f"- run {key} failed: {why}" for key, why in data.get("errors", {}).items()]
    if not_run:
        lines += ["### Not run", "", *not_run, ""]
    return "\n".join(lines)


REPORT_TITLE = "# Multi-objective: hypervolume beside Optuna"
REPORT_INTRO = (
    "Written by `benchmarks/multiobjective.py` (`make bench-multiobjective`; "
    "`make bench-multiobjective-quick` for the quick mode) from the runs cached in "
    "`benchmarks/results/multiobjective/raw*.json`. What is measured, and how, is in the "
    "script's docstring; the problems are in `benchmarks/mo_problems.py`. Samplers: hptune's "
    "by name with the run's seed; Optuna's `NSGAIISampler(seed=seed)` and "
    "`TPESampler(seed=seed, multivariate=True)`, otherwise with their defaults. Each section "
    "comes from one run, on the machine it names."
)


# --- Command line --------------------------------------------------------------------------


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 problems, 2 seeds, small budgets")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default 2)")
    parser.add_argument("--problems", default=None, help="comma-separated problem names")
    parser.add_argument(
        "--samplers",
        default=",".join(DEFAULT_SAMPLERS),
        help="comma-separated: hptune sampler names, optuna-nsgaii, optuna-tpe",
    )
    parser.add_argument("--also", default=None, help="further hptune sampler names, e.g. auto")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default: mode's)")
    parser.add_argument("--report-only", action="store_true", help="no runs; report the cache")
    parser.add_argument("--fresh", action="store_true", help="ignore (and replace) the cache")
    parser.add_argument("--out", type=Path, default=REPORT, help="the report (markdown)")
    args = parser.parse_args()
    default_problems = list(QUICK_BUDGETS) if args.quick else list(PROBLEMS)
    args.problems = _split(args.problems) or default_problems
    if unknown := sorted(set(args.problems) - set(PROBLEMS)):
        parser.error(f"unknown problem {unknown}; choose from {', '.join(PROBLEMS)}")
    args.budgets = {
        name: QUICK_BUDGETS.get(name, 60) if args.quick else get_problem(name).budget
        for name in args.problems
    }
    args.seeds = args.seeds or (QUICK_SEEDS if args.quick else FULL_SEEDS)
    requested = list(dict.fromkeys(_split(args.samplers) + _split(args.also)))
    args.samplers, args.skipped = [], []
    for key in requested:
        if why := why_not_runnable(key):
            print(f"skipping {key}: {why}", file=sys.stderr)
            args.skipped.append((key, why))
        else:
            args.samplers.append(key)
    args.raw = FIGURES / ("raw-quick.json" if args.quick else "raw.json")
    data = {"runs": {}} if args.fresh else load_json(args.raw, {"runs": {}})
    if not args.report_only:
        load_at_start = load_average()
        data["jobs"] = args.jobs
        data["command"] = shlex.join(["python", "benchmarks/multiobjective.py", *sys.argv[1:]])
        run_all(args, data)
        data["environment"] = describe_environment(load_at_start=load_at_start)
        save_json(args.raw, data)
    text = report(args, data)
    save_json(args.raw, data)  # with the hypervolume curves the report computed
    write_section(
        args.out,
        "quick" if args.quick else "full",
        text,
        title=REPORT_TITLE,
        intro=REPORT_INTRO,
        sections=REPORT_SECTIONS,
    )
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
