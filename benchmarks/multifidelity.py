"""Early stopping measured side by side with Optuna: best score found versus epochs spent.

Each method (a sampler and a pruner; ``_mf_tasks.METHODS``) spends the same budget of
epochs (the sum over its trials of the epochs each trained) on each task of
``_mf_tasks.py``: a PyTorch MLP on scikit-learn's digits trained for real, and three
synthetic multi-fidelity functions (Hartmann-6 and Branin with the fidelity biases of
Kandasamy et al. 2017, and a Hartmann-6 whose best points learn slowly). The methods:
hptune's random search without pruning (the baseline), the default sampler (``auto``) with
ASHA (the method the targets are checked on), random search with the median
rule, ASHA and Hyperband, TPE with ASHA and Hyperband and GP with ASHA (model-based
multi-fidelity, where hptune has those samplers), TPE with ASHA drawing a third of its
proposals from the design (``random_fraction=1/3``, BOHB's), TPE with ASHA ranking trials
by how far they trained (``multi_fidelity="depth"``), and Optuna's TPE with its median,
successive-halving and Hyperband pruners. Both libraries get the same pruner settings:
minimum resource 1 epoch, reduction factor 3, Hyperband's maximum resource the full
training, the median rule after 5 complete trials and a ninth of the epochs.
Every run is reproducible from its seed except Optuna's Hyperband: its pruner assigns
brackets from a hash of the study's name, which Optuna generates afresh for each study.

Only a trial trained to the last epoch counts as found quality: the anytime curve of a
run is the best *final-fidelity* score among its complete trials, against cumulative
epochs and against wall time; a pruned trial's early scores count for nothing. For the
synthetic tasks the noiseless full-fidelity value of that incumbent is recorded too, and
for digits the test accuracy of the final incumbent (its network trained again with the
same seed and scored on the held-out split). The report gives, per task, the mean and
standard error over seeds of the best score at 25%, 50% and 100% of the budget, the epochs
the mean curve needs to reach the final quality of the baseline, the wall time, plots, and
two targets computed from the runs, both on one hptune method named before the run (the
default sampler under ASHA, ``auto+asha``): (1) it reaches the baseline's final quality
within a third of the budget; (2) at equal epochs it beats Optuna's best pruner
combination by more than two standard errors.

Every (task, method, seed) run is one job for a pool of worker processes (``--jobs``), each
with one thread; a finished run is cached in ``benchmarks/results/multifidelity/raw.json``
(``raw-quick.json`` in quick mode), so an interrupted benchmark resumes and
``--report-only`` rewrites the report and the plots from the cache. Nearly all the time
goes to training the digits networks: the quick mode takes about 230 CPU seconds (2
minutes on two idle cores, 7 when other work shares them), the full mode about thirty
times as much (120 CPU minutes: an hour on two idle cores).

The full mode's seeds (20 on digits, 50 on the synthetic tasks) follow the spread between
runs: on digits a run's best validation accuracy moves by a few of the 360 validation
samples between seeds, and the baseline's final mean over 10 seeds (0.9783) sat 2.3
standard errors above its expectation (0.9765, the best of 30 drawn from 800 independent
random trainings).

Run::

    python benchmarks/multifidelity.py                 # full: 27 epochs; 20 seeds on digits,
                                                       # 50 on the synthetic tasks
    python benchmarks/multifidelity.py --quick         # 2 seeds, digits 9 epochs
    python benchmarks/multifidelity.py --quick --tasks branin --methods random,random+asha
    python benchmarks/multifidelity.py --report-only   # the report from the cached runs
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
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
)
from _mf_tasks import (
    METHOD_BY_NAME,
    METHODS,
    TASKS,
    Method,
    Task,
    add_held_out,
    make_task,
    needs_held_out,
    run_one,
    why_not_runnable,
)

RESULTS = REPO / "benchmarks" / "results"
REPORT = RESULTS / "multifidelity.md"
FIGURES = RESULTS / "multifidelity"
FRACTIONS = (0.25, 0.5, 1.0)
TARGET_SHARE = 1 / 3  # target (1): reach the baseline's final quality within this share
# The method both targets are checked on, named before the run: what a user gets with
# create_study(pruner="asha"), the default sampler ("auto") under ASHA.
DEFAULT_METHOD = "auto+asha"
NOISE_SE = 2.0  # target (2) is met only when hptune leads by this many standard errors


@dataclass(frozen=True)
class Setting:
    """Epochs, budget and seeds of one task in one mode."""

    max_epochs: int
    budget_factor: int  # the budget is this many full trainings
    seeds: int

    @property
    def budget(self) -> int:
        return self.max_epochs * self.budget_factor


FULL = {
    "digits": Setting(27, 30, 20),
    **{name: Setting(27, 30, 50) for name in TASKS if name != "digits"},
}
QUICK = {
    "digits": Setting(9, 30, 2),
    **{name: Setting(27, 20, 2) for name in TASKS if name != "digits"},
}


def run_key(task: str, setting: Setting, method: str, seed: int) -> str:
    return f"{task}|T{setting.max_epochs}|B{setting.budget}|{method}|s{seed}"


# --- Running -----------------------------------------------------------------------------


def _cost(task: str, method: Method) -> float:
    """A rough order for the pool: real training first, then model-based samplers."""
    return (task == "digits") * 100 + (method.sampler == "gp") * 10 + (method.library == "optuna")


def run_all(args: argparse.Namespace, settings: dict[str, Setting], data: dict[str, Any]) -> None:
    """Run every (task, method, seed) missing from ``data``, saving after each."""
    todo = [
        (task, method, seed)
        for task in args.tasks
        for method in args.methods
        for seed in range(args.seeds or settings[task].seeds)
        if run_key(task, settings[task], method.name, seed) not in data["runs"]
    ]
    todo.sort(key=lambda job: -_cost(job[0], job[1]))
    jobs = [
        Job(
            f"{task} {m.name} seed {seed}",
            run_key(task, settings[task], m.name, seed),
            f"{task}|{m.name}|{seed}",
            (task, settings[task].max_epochs, m.name, seed, settings[task].budget),
        )
        for task, m, seed in todo
    ]
    run_cached_jobs(run_one, jobs, args.jobs, data, args.raw)
    # Runs cached before held-out scores were recorded get theirs (one training each).
    stale = [
        Job(f"{run['task']} {run['method']} seed {run['seed']}: held-out score", key, key, (run,))
        for key, run in data["runs"].items()
        if needs_held_out(run)
    ]
    if stale:
        run_cached_jobs(add_held_out, stale, args.jobs, data, args.raw)


# --- Curves and summaries ------------------------------------------------------------------


def _incumbents(run: dict[str, Any], sign: float) -> tuple[np.ndarray, ...]:
    """At the end of each trial: cumulative epochs, seconds, best final score, its true value."""
    trials = run["trials"]
    best = true = math.nan
    bests, trues = [], []
    for value, truth in zip(trials["value"], trials["true"], strict=True):
        if value is not None and (math.isnan(best) or sign * value < sign * best):
            best, true = value, math.nan if truth is None else truth
        bests.append(best)
        trues.append(true)
    return (
        np.cumsum(trials["epochs"]),
        np.asarray(trials["end"], dtype=float),
        np.asarray(bests, dtype=float),
        np.asarray(trues, dtype=float),
    )


def on_grid(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The step function ``y`` (changing at ``x``) at ``grid``; NaN before its first point."""
    i = np.searchsorted(x, grid, side="right") - 1
    out = np.where(i >= 0, y[np.clip(i, 0, None)], np.nan)
    return out


def _mean_se(values: np.ndarray) -> tuple[float, float, int]:
    v = values[~np.isnan(values)]
    if len(v) == 0:
        return math.nan, math.nan, 0
    se = float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan
    return float(np.mean(v)), se, len(v)


@dataclass
class Summary:
    """One method on one task, over its seeds."""

    method: Method
    runs: list[dict[str, Any]]
    curves: np.ndarray  # (seeds, budget): best final score after 1 .. budget epochs
    true_final: np.ndarray  # (seeds,)

    @property
    def mean_curve(self) -> np.ndarray:
        """The mean over seeds; NaN where some seed has no complete trial yet."""
        return self.curves.mean(axis=0)

    def at(self, fraction: float) -> tuple[float, float, int]:
        column = self.curves[:, round(fraction * self.curves.shape[1]) - 1]
        return _mean_se(column)

    def epochs_to_reach(self, target: float, sign: float) -> int | None:
        hit = np.nonzero(sign * self.mean_curve <= sign * target + 1e-12)[0]
        return int(hit[0]) + 1 if len(hit) else None

    def seeds_reaching(self, target: float, sign: float) -> int:
        return int((sign * self.curves[:, -1] <= sign * target + 1e-12).sum())

    def mean_of(self, key: str) -> float:
        return float(np.mean([r[key] for r in self.runs]))

    def mean_trials(self, state: str | None = None) -> float:
        return float(
            np.mean(
                [sum(state is None or s == state for s in r["trials"]["state"]) for r in self.runs]
            )
        )


def summarize(
    task: str, setting: Setting, methods: list[Method], data: dict[str, Any], seeds: int
) -> list[Summary]:
    sign = 1.0 if make_task(task, setting.max_epochs).direction == "minimize" else -1.0
    grid = np.arange(1, setting.budget + 1)
    out = []
    for method in methods:
        runs = [data["runs"].get(run_key(task, setting, method.name, s)) for s in range(seeds)]
        runs = [r for r in runs if r is not None]
        if not runs:
            continue
        curves, trues = [], []
        for run in runs:
            epochs, _, best, true = _incumbents(run, sign)
            curves.append(on_grid(epochs, best, grid))
            trues.append(true[-1] if len(true) else math.nan)
        out.append(Summary(method, runs, np.array(curves), np.array(trues)))
    return out


# --- Report --------------------------------------------------------------------------------


def _fmt(x: float, digits: int) -> str:
    return "—" if math.isnan(x) else f"{x:.{digits}f}"


def _cell(mean: float, se: float, n: int, total: int, digits: int) -> str:
    if n == 0:
        return "—"
    text = f"{mean:.{digits}f}" + ("" if math.isnan(se) else f" ± {se:.{digits}f}")
    return text if n == total else f"{text} ({n}/{total} seeds)"


def _best(summaries: list[Summary], fraction: float, sign: float) -> Summary | None:
    scored = [(sign * s.at(fraction)[0], i) for i, s in enumerate(summaries)]
    scored = [(v, i) for v, i in scored if not math.isnan(v)]
    return summaries[min(scored)[1]] if scored else None


def _truth_label(task: Task) -> str | None:
    """What a run's ``true`` entries hold: the noiseless value or a held-out score."""
    if task.true_value is not None:
        return "true value"
    return None if task.held_out is None else f"test {task.metric}"


def _truth_note(task: Task) -> list[str]:
    if task.true_value is not None:
        return ["*True value* is the noiseless full-fidelity value of the final incumbent."]
    if task.held_out is not None:
        return [
            f"*Test {task.metric}* is the final incumbent's {task.metric} on the held-out "
            "test split (the same network, trained again with its seed): the best validation "
            "score of many noisy trials is biased upwards, this is not."
        ]
    return []


def task_section(
    task: str, setting: Setting, summaries: list[Summary], figure: Path | None
) -> tuple[list[str], dict[str, str]]:
    """The report's section on one task, and the targets' verdicts for the summary."""
    info = make_task(task, setting.max_epochs)
    sign = 1.0 if info.direction == "minimize" else -1.0
    digits = 4 if task == "digits" else 3
    budget = setting.budget
    baseline = next((s for s in summaries if s.method.is_baseline), None)
    target = baseline.at(1.0)[0] if baseline else math.nan
    n_seeds = max(len(s.runs) for s in summaries)
    lines = [
        f"### {info.title}: `{task}`",
        "",
        f"{info.direction.capitalize()} the {info.metric}; {setting.max_epochs} epochs per "
        f"complete trial, budget {budget} epochs ({setting.budget_factor} full trainings) per "
        f"run, {n_seeds} seeds. Best final-fidelity score found (mean ± standard error over "
        "seeds) after 25%, 50% and 100% of the budget. *Epochs to reach* is where the mean "
        f"curve first reaches the baseline's final mean ({_fmt(target, digits)}); *seeds* how "
        "many runs reach it by the end on their own. *Wall s* is a run's time, *library s* "
        "the part not spent training (asking, pruning decisions, telling).",
        *_truth_note(info),
        "",
    ]
    header = ["method", *(f"best @ {int(f * 100)}%" for f in FRACTIONS)]
    truth = _truth_label(info)
    if truth:
        header.append(f"{truth} @ 100%")
    header += ["epochs to reach", "seeds", "trials (complete)", "wall s", "library s"]
    rows = []
    for s in summaries:
        reach = s.epochs_to_reach(target, sign) if baseline else None
        row = [
            s.method.label,
            *(_cell(*s.at(f), len(s.runs), digits) for f in FRACTIONS),
        ]
        if truth:
            row.append(_cell(*_mean_se(s.true_final), len(s.runs), digits))
        row += [
            "not reached" if reach is None else f"{reach} ({100 * reach / budget:.0f}%)",
            f"{s.seeds_reaching(target, sign)}/{len(s.runs)}" if baseline else "—",
            f"{s.mean_trials():.0f} ({s.mean_trials('complete'):.0f})",
            f"{s.mean_of('seconds'):.1f}",
            f"{s.mean_of('seconds') - s.mean_of('train_seconds'):.1f}",
        ]
        rows.append(row)
    lines += markdown_table(header, rows)
    verdicts, target_lines = _targets(summaries, target, sign, budget, digits)
    lines += ["", *target_lines]
    if figure is not None:
        lines += [
            "",
            f"![{task}: best score vs epochs and wall time]({figure.relative_to(RESULTS)})",
        ]
    return lines, verdicts


def _targets(
    summaries: list[Summary], target: float, sign: float, budget: int, digits: int
) -> tuple[dict[str, str], list[str]]:
    ours = next((s for s in summaries if s.method.name == DEFAULT_METHOD), None)
    others = [
        s
        for s in summaries
        if s.method.library == "hptune" and not s.method.is_baseline and s is not ours
    ]
    peers = [s for s in summaries if s.method.library == "optuna"]
    verdicts = {"1": "not checked", "2": "not checked"}
    lines = [
        "Targets, checked on the method named before the run, **hptune " + DEFAULT_METHOD + "**:",
        "",
    ]
    if math.isnan(target) or ours is None:
        lines.append(f"- (1) not checked: the baseline or hptune {DEFAULT_METHOD} did not run.")
    else:
        epochs = ours.epochs_to_reach(target, sign)
        met = epochs is not None and epochs <= TARGET_SHARE * budget
        where = (
            f"after {epochs} of {budget} epochs ({epochs / budget:.0%})"
            if epochs
            else ("not within the budget")
        )
        verdicts["1"] = f"{'met' if met else 'missed'}: " + (
            f"{epochs / budget:.0%}" if epochs else "not reached"
        )
        lines.append(
            f"- (1) hptune {DEFAULT_METHOD} reaches the baseline's final quality "
            f"({_fmt(target, digits)}) {where}; the target is at most {TARGET_SHARE:.0%}: "
            f"**{'met' if met else 'missed'}**."
        )
        reached = [(s.epochs_to_reach(target, sign), s) for s in others]
        reached = [(e, s) for e, s in reached if e is not None]
        if reached:
            e, best = min(reached, key=lambda pair: pair[0])
            lines.append(
                f"  - For information, the fastest of hptune's other methods, chosen after the "
                f"run: {best.method.label}, {e / budget:.0%}."
            )
    if ours is None or not peers:
        lines.append(f"- (2) not checked: hptune {DEFAULT_METHOD} or Optuna's methods did not run.")
        return verdicts, lines
    met_all, marks = True, []
    for fraction in FRACTIONS:
        o = _best(peers, fraction, sign)
        hm, hse, _ = ours.at(fraction)
        if o is None or math.isnan(hm):
            met_all = False
            marks.append(f"{fraction:.0%} n/a")
            lines.append(f"- (2) at {fraction:.0%}: a side has no complete trial yet.")
            continue
        om, ose, _ = o.at(fraction)
        spread = math.sqrt(np.nansum([hse**2, ose**2]))
        lead = sign * (om - hm)  # > 0: hptune is better
        if lead > NOISE_SE * spread:
            verdict = "met"
        elif -lead > NOISE_SE * spread:
            verdict = "missed"
        else:
            verdict = "within noise"
        met_all &= verdict == "met"
        marks.append(f"{fraction:.0%} {verdict}")
        lines.append(
            f"- (2) at {fraction:.0%} of the budget: hptune {DEFAULT_METHOD} "
            f"{_fmt(hm, digits)} vs Optuna's best there (chosen after the run, in Optuna's "
            f"favour), **{o.method.label}**, {_fmt(om, digits)}: "
            f"{'hptune' if lead >= 0 else 'Optuna'} better by {_fmt(abs(lead), digits)}, "
            f"standard error of the difference {_fmt(spread, digits)}: **{verdict}** (met "
            f"only beyond {NOISE_SE:g} standard errors)."
        )
    verdicts["2"] = ("met" if met_all else "not met") + f" ({', '.join(marks)})"
    return verdicts, lines


def plot(task: str, setting: Setting, summaries: list[Summary], path: Path) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plots (pip install matplotlib)", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = make_task(task, setting.max_epochs)
    sign = 1.0 if info.direction == "minimize" else -1.0
    fig, (ax_e, ax_t) = plt.subplots(1, 2, figsize=(13, 4.8))
    grid = np.arange(1, setting.budget + 1)
    finals = []
    for i, s in enumerate(summaries):
        style = {
            "color": "black" if s.method.is_baseline else f"C{i % 10}",
            "linestyle": "--" if s.method.library == "optuna" else "-",
            "label": s.method.label,
        }
        mean = s.mean_curve
        se = s.curves.std(axis=0, ddof=1) / math.sqrt(len(s.runs)) if len(s.runs) > 1 else 0 * mean
        ax_e.plot(grid, mean, **style)
        ax_e.fill_between(grid, mean - se, mean + se, color=style["color"], alpha=0.12)
        finals.append(mean[-1])
        incumbents = [_incumbents(run, sign) for run in s.runs]
        found = [seconds[~np.isnan(best)] for _, seconds, best, _ in incumbents]
        first = min((f[0] for f in found if len(f)), default=None)
        if first is not None:
            times = np.geomspace(first, max(r["seconds"] for r in s.runs), 300)
            per_seed = [on_grid(seconds, best, times) for _, seconds, best, _ in incumbents]
            ax_t.plot(times, np.mean(per_seed, axis=0), **style)
    ax_e.axvline(TARGET_SHARE * setting.budget, color="grey", linewidth=0.8, linestyle=":")
    baseline = next((s for s in summaries if s.method.is_baseline), None)
    if baseline is not None:
        ax_e.axhline(baseline.at(1.0)[0], color="grey", linewidth=0.8, linestyle=":")
    for ax in (ax_e, ax_t):
        ax.set_ylabel(f"best final-fidelity {info.metric} (mean over seeds)")
        ax.grid(alpha=0.3)
        # The first complete trials are far off; zoom on where the methods differ.
        quarter = [s.at(0.25)[0] for s in summaries if not math.isnan(s.at(0.25)[0])]
        if quarter and finals:
            low, high = min([*quarter, *finals]), max([*quarter, *finals])
            pad = 0.15 * (high - low or abs(high) or 1.0)
            ax.set_ylim(low - pad, high + pad)
    ax_e.set_xlabel("epochs spent (dotted: a third of the budget, the baseline's final mean)")
    ax_t.set_xlabel("wall time of a run, s (log scale)")
    ax_t.set_xscale("log")
    ax_e.legend(fontsize=8)
    fig.suptitle(f"{info.title}: {setting.max_epochs} epochs per trial, budget {setting.budget}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report(args: argparse.Namespace, settings: dict[str, Setting], data: dict[str, Any]) -> str:
    import torch

    mode = "quick (`--quick`)" if args.quick else "full"
    lines = [
        "# Multi-fidelity: early stopping beside Optuna",
        "",
        "Written by `benchmarks/multifidelity.py` (`make bench-multifidelity`; "
        "`make bench-multifidelity-quick` for the quick mode) from the runs cached in "
        f"`{args.raw.relative_to(REPO)}`. What is measured, and how, is in the script's "
        "docstring. All figures come from the cached runs. A method's runs may come from an "
        "earlier invocation than the last one, named below, on a machine of the same kind "
        "and with the code of its day: the cache is keyed by task, method, seed and budget, "
        "not by revision (`--fresh` reruns everything).",
        "",
        "Changed on 2026-12-05: the targets are checked on one hptune method named before the "
        "run, the default sampler under ASHA (`auto+asha`), and target (2) counts as met only "
        "beyond two standard errors; before, they took the best of hptune's methods at each "
        "checkpoint, chosen after the run, and a tie counted as met.",
        "",
        "## Environment",
        "",
        *data.get("environment", describe_environment()),
        f"- PyTorch {torch.__version__}, NumPy {np.__version__}; mode: {mode}; "
        f"{data.get('jobs', args.jobs)} runs at a time, one thread each; runs took "
        f"{data.get('run_seconds', 0.0) / 60:.1f} min of wall time in all",
        f"- Command: `{data.get('command', '')}`",
        "",
        "## Setup",
        "",
        "- Budget: a run stops when the epochs its trials trained add up to the budget (the "
        "trial running then is cut and does not count). Trials run one after another.",
        "- Pruners, the same for both libraries: median rule after 5 complete trials and "
        "from epoch max_epochs/9 on; successive halving (hptune's is asynchronous, ASHA; "
        "Optuna's `SuccessiveHalvingPruner` too) with minimum resource 1 epoch, reduction "
        "factor 3; Hyperband with minimum resource 1, maximum the full training, reduction "
        "factor 3. A trial reports its score at step = epochs trained.",
        "- Samplers: hptune's by name with the run's seed; Optuna's `TPESampler(seed=seed)` "
        "with its defaults.",
        "- Score: the best final-fidelity score among complete trials (pruned trials count "
        "for nothing), after each epoch of the budget; standard errors are over seeds.",
        f"- Targets, both checked on one hptune method named before the run, {DEFAULT_METHOD} "
        '(the default sampler, `auto`, under ASHA: what `create_study(pruner="asha")` '
        "gives): (1) it reaches the final quality of random search without pruning (the "
        f"baseline) within {TARGET_SHARE:.0%} of the budget (on the mean curve over seeds); "
        "(2) at 25%, 50% and 100% of the budget it is better than Optuna's best pruner "
        "combination there (the best of three, chosen after the run) by more than "
        f"{NOISE_SE:g} standard errors of the difference; a smaller difference either way is "
        "reported as *within noise* and not counted as met. The other hptune methods are "
        "shown for comparison; picking the best of them after the run would favour hptune.",
        "",
    ]
    sections, verdict_rows = [], []
    for task in args.tasks:
        seeds = args.seeds or settings[task].seeds
        summaries = summarize(task, settings[task], args.methods, data, seeds)
        if not summaries:
            continue
        suffix = "-quick" if args.quick else ""
        figure = plot(task, settings[task], summaries, FIGURES / f"{task}{suffix}.png")
        text, verdicts = task_section(task, settings[task], summaries, figure)
        sections += [*text, ""]
        verdict_rows.append([f"`{task}`", verdicts["1"], verdicts["2"]])
    lines += ["## Targets", ""]
    lines += markdown_table(["task", "(1) a third of the epochs", "(2) vs Optuna"], verdict_rows)
    lines += ["", "## Tasks", "", *sections]
    skipped = [(m.name, why) for m in METHODS if (why := why_not_runnable(m))]
    errors = data.get("errors", {})
    if skipped or errors:
        lines += ["## Not run", ""]
        lines += [f"- {name}: {why}." for name, why in skipped]
        lines += [f"- run {key} failed: {why}" for key, why in errors.items()]
        lines.append("")
    return "\n".join(lines)


# --- Command line ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, digits with 9 epochs")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default 2)")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated task names")
    parser.add_argument(
        "--methods", default=None, help="comma-separated method names (default: all runnable)"
    )
    parser.add_argument("--seeds", type=int, default=None, help="seeds per task (default: mode's)")
    parser.add_argument("--report-only", action="store_true", help="no runs; report the cache")
    parser.add_argument("--fresh", action="store_true", help="ignore (and replace) the cache")
    parser.add_argument("--out", type=Path, default=REPORT, help="the report (markdown)")
    args = parser.parse_args()
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if unknown := sorted(set(args.tasks) - set(TASKS)):
        parser.error(f"unknown task {unknown}; choose from {', '.join(TASKS)}")
    names = [m.name for m in METHODS] if args.methods is None else args.methods.split(",")
    if unknown := sorted(set(names) - set(METHOD_BY_NAME)):
        parser.error(f"unknown method {unknown}; choose from {', '.join(METHOD_BY_NAME)}")
    args.methods = []
    for name in names:
        if why := why_not_runnable(METHOD_BY_NAME[name]):
            print(f"skipping {name}: {why}", file=sys.stderr)
        else:
            args.methods.append(METHOD_BY_NAME[name])
    settings = QUICK if args.quick else FULL
    args.raw = FIGURES / ("raw-quick.json" if args.quick else "raw.json")
    data = {"runs": {}} if args.fresh else load_json(args.raw, {"runs": {}})
    if not args.report_only:
        load_at_start = load_average()
        data["jobs"] = args.jobs
        data["command"] = shlex.join(["python", "benchmarks/multifidelity.py", *sys.argv[1:]])
        run_all(args, settings, data)
        data["environment"] = describe_environment(load_at_start=load_at_start)
        save_json(args.raw, data)
    text = report(args, settings, data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
