"""The sampler report, ``benchmarks/results/samplers.md``: its sections, tables and plots.

``samplers.py`` (sample efficiency; ``--batch``: parallel quality) and
``sampler_overhead.py`` (cost per proposal) each own sections of the one report;
:func:`write_section` replaces a section and keeps the others, so each script can be run
on its own. Scores come from ``scoring.py``; nothing here runs a sampler.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as common
import numpy as np
import peers
import scoring
from _common import describe_environment, markdown_table
from problems import FAMILIES, Problem

import hptune as ht

REPORT_TITLE = "# Samplers: sample efficiency, parallel quality and cost, beside the peers"
REPORT_INTRO = (
    "Written by `benchmarks/samplers.py`, `benchmarks/sampler_overhead.py` and "
    "`benchmarks/tpe_subsample.py` "
    "(`make bench-samplers`, `make bench-samplers-quick`, `make bench-overhead`). Each "
    "section comes from one run of its script, on the machine it names; the quick sections "
    "check the harness and are too small to rank samplers.\n\n"
    "Changed on 2026-12-05: a target counts as met only when the 95% interval of the "
    "difference excludes 0 (before, a tie within noise counted as met); the sample-"
    "efficiency section is titled for what it ran (50 evaluations on 15 of the 23 problems) "
    "and labelled in-sample, and held-out sections check the defaults on new problems and "
    "seeds; Optuna's GP told the objective is noise-free and scikit-optimize are in the "
    "headline; Nevergrad no longer fails on StyblinskiTang8; the cost per proposal gives the "
    "mean and 99th percentile over 100 trials (before: the median over 20), and says that "
    "hptune's TPE fits a sample of long histories, whose cap is 2,048 (was 512) after "
    "`tpe_subsample.py` measured what 512 cost."
)
SECTIONS = {
    "quality": "`python benchmarks/samplers.py` (`make bench-samplers`)",
    "batch": "`python benchmarks/samplers.py --batch` (`make bench-samplers`)",
    "overhead": "`python benchmarks/sampler_overhead.py` (`make bench-overhead`)",
    "tpe-subsample": "`python benchmarks/tpe_subsample.py` (`make bench-overhead`)",
    "tpe-subsample-512": "`python benchmarks/tpe_subsample.py --cap 512 --first-seed 100 "
    "--budget 1500` (the measurement behind the default cap of 2,048)",
    "quality-quick": "`python benchmarks/samplers.py --quick` (`make bench-samplers-quick`)",
    "batch-quick": "`python benchmarks/samplers.py --batch --quick`",
    "continuous": "`python benchmarks/samplers.py --continuous` (`make bench-samplers`)",
    "continuous-quick": "`python benchmarks/samplers.py --continuous --quick`",
    "heldout": "`python benchmarks/samplers.py --heldout` (`make bench-samplers`)",
    "continuous-heldout": "`python benchmarks/samplers.py --heldout --continuous`",
}
TARGET_BATCH_RATIO = 0.9  # batch score / sequential score, from the issue
REGRET_FLOOR = {
    "synthetic": 1e-6,
    "mixed": 1e-6,
    "sklearn": 1e-3,
    "heldout": 1e-6,
}  # plots only


def write_section(path: Path, key: str, text: str) -> None:
    """Put ``text`` in the samplers report as section ``key``, keeping the others."""
    common.write_section(path, key, text, title=REPORT_TITLE, intro=REPORT_INTRO, sections=SECTIONS)


@dataclass
class Context:
    """Everything a section is written from (``plan`` is a ``samplers.Plan``)."""

    plan: Any
    runs: dict[str, Any]
    reference: dict[str, Any]
    failures: dict[str, str]
    seconds: float | None  # None: the report was rewritten from the cache
    jobs: int
    command: str
    load_at_start: float | None
    out: Path


# Numbers ----------------------------------------------------------------------------------


def best_known(ctx: Context, problem: Problem) -> tuple[float, str]:
    """The problem's optimum and where it comes from."""
    if problem.best_known is not None:
        return problem.best_known, "analytic"
    seen = [min(r["values"]) for r in ctx.runs.values() if r["problem"] == problem.name]
    ref = ctx.reference[problem.name]
    return min([ref["min"], *seen]), f"best seen ({len(seen)} runs + {ref['n']} random)"


def curves(ctx: Context, batch: int = 1) -> dict[str, dict[str, np.ndarray]]:
    """sampler -> problem -> normalized score curves, shape (seeds run, budget)."""
    plan = ctx.plan
    out: dict[str, dict[str, np.ndarray]] = {}
    for p in plan.problems:
        median = ctx.reference[p.name]["median"]
        best, _ = best_known(ctx, p)
        budget = plan.budgets[p.name]
        for s in plan.samplers:
            rows = []
            for seed in plan.seeds:
                run = ctx.runs.get(f"{s}|{p.name}|{budget}|{batch}|{seed}")
                if run and run["values"]:
                    curve = scoring.best_so_far(run["values"], budget)
                    rows.append(scoring.normalized_score(curve, median, best))
            if rows:
                out.setdefault(s, {})[p.name] = np.vstack(rows)
    return out


def finals(data: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, list[float]]]:
    """sampler -> problem -> final score per seed."""
    return {s: {p: list(c[:, -1]) for p, c in d.items()} for s, d in data.items()}


def _fmt_ci(mean: float, lo: float, hi: float) -> str:
    return "-" if math.isnan(mean) else f"{mean:.1f} [{lo:.1f}, {hi:.1f}]"


def _fmt_value(x: float) -> str:
    return f"{x:.4g}"


# Sections ---------------------------------------------------------------------------------


def _header(ctx: Context, title: str) -> list[str]:
    plan = ctx.plan
    if ctx.seconds is None:
        ran = "rewritten from the cached runs; nothing ran"
    else:
        ran = (
            f"this invocation ran for {ctx.seconds / 60:.1f} min (runs cached before it are "
            "not counted)"
        )
    return [
        title,
        "",
        *describe_environment(None, ctx.load_at_start),
        f"- Command: `{ctx.command}`",
        f"- {ctx.jobs} worker process(es), one thread each; {ran}; seeds "
        f"{plan.seeds[0]}..{plan.seeds[-1]}",
        "",
    ]


def _samplers_table(ctx: Context) -> list[str]:
    rows = []
    for s in ctx.plan.samplers:
        if peers.is_hptune(s):
            config = f'`ht.create_study(sampler="{s}", seed=seed)`, define-by-run ask/tell'
            if s == "auto":  # told the budget, as optimize(n_trials=budget) tells it
                config = "`AutoSampler(seed=seed, n_trials=budget)`, define-by-run ask/tell"
            rows.append([peers.label(s), f"hptune {ht.__version__}", config])
        else:
            peer = peers.PEERS[s]
            rows.append([peer.label, f"{peer.distribution} {ctx.plan.versions[s]}", peer.config])
    lines = markdown_table(["sampler", "version", "configuration"], rows)
    if ctx.plan.skipped:
        lines += ["", "Not run:", ""]
        lines += [f"- `{name}`: {why}." for name, why in ctx.plan.skipped.items()]
    if ctx.failures:
        lines += ["", "Failed runs (not cached; rerun to retry):", ""]
        lines += [f"- `{key}`: {why}" for key, why in sorted(ctx.failures.items())]
    return lines


def _problems_table(ctx: Context) -> list[str]:
    rows = []
    for p in ctx.plan.problems:
        ref = ctx.reference[p.name]
        best, source = best_known(ctx, p)
        rows.append(
            [
                p.name,
                p.family,
                str(p.dim) + (" (cond.)" if p.is_conditional else ""),
                str(ctx.plan.budgets[p.name]),
                f"{_fmt_value(ref['median'])} (n={ref['n']})",
                f"{_fmt_value(best)} ({source})",
                p.note,
            ]
        )
    header = ["problem", "family", "d", "budget", "median random", "best known", "note"]
    return markdown_table(header, rows)


def _overall_table(final: dict[str, dict[str, list[float]]]) -> list[str]:
    means = {s: {p: float(np.mean(v)) for p, v in d.items()} for s, d in final.items()}
    complete = [s for s in final if len(final[s]) == max(len(d) for d in final.values())]
    ranks = scoring.mean_ranks({s: means[s] for s in complete})
    order = sorted(final, key=lambda s: -scoring.mean_score(final[s]))
    families = [f for f in FAMILIES if any(_family(p) == f for d in final.values() for p in d)]
    rows = []
    for s in order:
        row = [peers.label(s), _fmt_ci(*scoring.bootstrap_mean(final[s]))]
        for fam in families:
            sub = {p: v for p, v in final[s].items() if _family(p) == fam}
            row.append(_fmt_ci(*scoring.bootstrap_mean(sub)))
        row.append(f"{ranks[s]:.2f}" if s in ranks else "incomplete")
        row.append(str(len(final[s])))
        rows.append(row)
    header = ["sampler", "all problems", *families, "mean rank", "problems"]
    return markdown_table(header, rows)


_FAMILY_OF: dict[str, str] = {}


def _family(problem: str) -> str:
    if not _FAMILY_OF:
        from problems import all_problems

        _FAMILY_OF.update({n: p.family for n, p in all_problems().items()})
    return _FAMILY_OF[problem]


def _per_problem_table(ctx: Context, final: dict[str, dict[str, list[float]]]) -> list[str]:
    samplers = [s for s in ctx.plan.samplers if s in final]
    rows = []
    for p in ctx.plan.problems:
        means = {s: float(np.mean(final[s][p.name])) for s in samplers if p.name in final[s]}
        top = max(means.values(), default=math.nan)
        cells = []
        for s in samplers:
            m = means.get(s)
            cells.append("-" if m is None else f"**{m:.1f}**" if m == top else f"{m:.1f}")
        rows.append([p.name, *cells])
    return markdown_table(["problem", *[peers.label(s) for s in samplers]], rows)


def _time_table(ctx: Context, batches: tuple[int, ...] = (1,)) -> list[str]:
    plan = ctx.plan
    rows = []
    for s in plan.samplers:
        for batch in batches:
            runs = [
                r
                for r in ctx.runs.values()
                if r["sampler"] == s
                and r["batch"] == batch
                and r["budget"] == plan.budgets.get(r["problem"])
                and r["seed"] in plan.seeds
            ]
            if not runs:
                continue
            # The sampler's own CPU time: the run's, less the objective's (older caches
            # lack the objective's CPU time: their wall time stands in).
            own = [
                1000
                * (r["cpu"] - r.get("objective_cpu", r["objective"]))
                / max(len(r["values"]), 1)
                for r in runs
            ]
            rows.append(
                [
                    peers.label(s),
                    *([str(batch)] if len(batches) > 1 else []),
                    str(len(runs)),
                    f"{sum(r['wall'] for r in runs):.1f}",
                    f"{float(np.median([r['wall'] for r in runs])):.2f}",
                    f"{float(np.median(own)):.1f}",
                    f"{sum(r['objective'] for r in runs):.1f}",
                    f"{sum(r['cpu'] for r in runs):.1f}",
                ]
            )
    header = [
        "sampler",
        *(["batch"] if len(batches) > 1 else []),
        "runs",
        "wall s, all runs",
        "median s per run",
        "sampler CPU ms per evaluation (median)",
        "objective s, all runs",
        "CPU s, all runs",
    ]
    return markdown_table(header, rows)


def _compare(a: str, b: str, final: dict[str, dict[str, list[float]]]) -> tuple[bool, str]:
    """Whether ``a`` beats ``b`` beyond the noise, and the figures that say so.

    Met only when the 95% bootstrap interval of the difference lies above 0; an interval
    that contains 0 is *within noise* (not met), one below 0 is *missed*.
    """
    diff, lo, hi = scoring.bootstrap_difference(final[a], final[b])
    if math.isnan(diff):
        return False, f"{peers.label(b)}: no problem in common, not checked"
    ma, mb = scoring.mean_score(final[a]), scoring.mean_score(final[b])
    met = lo > 0
    verdict = "**met**" if met else "**missed**" if hi < 0 else "**within noise** (not met)"
    return met, (
        f"{peers.label(a)} {ma:.1f} vs {peers.label(b)} {mb:.1f}: difference {diff:+.1f} "
        f"[{lo:+.1f}, {hi:+.1f}], {verdict}"
    )


def targets(ctx: Context, final: dict[str, dict[str, list[float]]]) -> list[str]:
    """The issue's three targets, each computed from ``final`` (or why it was not)."""
    present = set(final)

    def missing(name: str) -> str:
        why = ctx.plan.skipped.get(name, "not among the samplers run")
        return f"not checked: {peers.label(name)} has no results ({why})"

    out = []
    tpes = [s for s in ("optuna-tpe", "optuna-tpe-indep") if s in present]
    head = "- hptune TPE >= Optuna TPE (the better of its two configurations)"
    if "tpe" not in present or not tpes:
        out.append(f"{head}: {missing('tpe' if 'tpe' not in present else 'optuna-tpe')}.")
    else:
        best_tpe = max(tpes, key=lambda s: scoring.mean_score(final[s]))
        out.append(f"{head}: {_compare('tpe', best_tpe, final)[1]}.")
    head = "- hptune GP >= Optuna GP"
    if "gp" not in present or "optuna-gp" not in present:
        out.append(f"{head}: {missing('gp' if 'gp' not in present else 'optuna-gp')}.")
    else:
        out.append(f"{head}: {_compare('gp', 'optuna-gp', final)[1]}.")
    head = "- The better hptune sampler (TPE or GP, by mean score) >= every peer"
    ours = [s for s in ("tpe", "gp") if s in present]
    others = [s for s in final if not peers.is_hptune(s)]
    if not ours or not others:
        out.append(
            f"{head}: not checked: no results for "
            + ("hptune TPE or GP." if not ours else "any peer.")
        )
        return out
    best = max(ours, key=lambda s: scoring.mean_score(final[s]))
    checks = [_compare(best, peer, final) for peer in others]
    beaten = sum(ok for ok, _ in checks)
    verdict = "**met**" if beaten == len(checks) else "**not met**"
    out.append(
        f"{head}: {peers.label(best)} is better beyond the noise than {beaten} of the "
        f"{len(checks)} peers, {verdict}."
    )
    out += [f"  - {text}." for _, text in checks]
    out += auto_target(final)
    return out


def auto_target(final: dict[str, dict[str, list[float]]]) -> list[str]:
    """The evolutionary issue's target for the default: ``auto`` >= every other sampler."""
    if "auto" not in final:
        return []
    rivals = [s for s in final if s not in ("auto", "random")]
    # A sampler auto ran throughout gives the very same runs: no rival, and no noise.
    same = [s for s in rivals if peers.is_hptune(s) and final[s] == final["auto"]]
    checks = [_compare("auto", rival, final) for rival in rivals if rival not in same]
    beaten = sum(ok for ok, _ in checks)
    verdict = "**met**" if beaten == len(checks) else "**not met**"
    return [
        f"- hptune auto (the default) >= every single hptune sampler and every peer: better "
        f"beyond the noise than {beaten} of {len(checks)}, {verdict}.",
        *(
            f"  - hptune auto ran {peers.label(s)} throughout at these budgets: the same runs, "
            "not compared."
            for s in same
        ),
        *(f"  - {text}." for _, text in checks),
    ]


def quality_section(ctx: Context) -> str:
    """The sample-efficiency section."""
    plan = ctx.plan
    quick = " (quick: a check of the harness)" if plan.quick else ""
    intro = []
    if not plan.quick:
        intro = [
            "**In-sample.** hptune's defaults (auto's rules, CMA-ES's initial step, TPE's "
            "bandwidth, the GP's handling of running trials) were chosen while looking at "
            "these problems with these seeds; the held-out section below checks them on "
            "problems and seeds they were not chosen on.",
            "",
        ]
    intro += [
        "Each sampler minimises each problem for the budget shown, once per seed. Score "
        "(Bayesmark): `100 * (median_random - best_so_far) / (median_random - best_known)` "
        "at the end of the budget; 100 = the optimum, 0 = a typical uniform random point, "
        "nothing clipped. The mean is over problems of the mean over seeds, with a 95% "
        "bootstrap interval that resamples the seeds of each problem; the mean rank is over "
        "problems (1 = best mean score). For sklearn problems `best_known` is the best value "
        "seen in any run of this cache and in the random sample, so their scores move as "
        "runs are added.",
    ]
    title = f"## Sample efficiency: normalized score{quick}{_budget_title(ctx)}"
    return _sample_efficiency(ctx, title, intro, "Targets from the issue")


def heldout_section(ctx: Context) -> str:
    """The sample-efficiency section again, on held-out problems and seeds."""
    title = "## Held-out problems and seeds: the defaults out of sample"
    intro = [
        "The problems of family `heldout` in `problems.py` (Griewank, Rastrigin, Schwefel, "
        "Alpine and a conditional training-like space) were added after every default of "
        "hptune was set, and are not in the main suite; the seeds start at "
        f"{ctx.plan.seeds[0]}, where the main suite's start at 0. Samplers, score and targets "
        "as in the sample-efficiency section.",
    ]
    title += _budget_title(ctx, heldout=True)
    return _sample_efficiency(ctx, title, intro, "Targets, out of sample")


def _sample_efficiency(ctx: Context, title: str, intro: list[str], verdicts_title: str) -> str:
    lines = [*_header(ctx, title), *intro, "", "### Samplers", "", *_samplers_table(ctx)]
    return _scored_section(ctx, lines, verdicts_title, lambda final: targets(ctx, final))


def _budget_title(ctx: Context, *, heldout: bool = False) -> str:
    """What the run covered, for the title: one budget for all, and how many problems."""
    from problems import all_problems

    budgets = set(ctx.plan.budgets.values())
    kind = "held-out problems" if heldout else "problems"
    suite = [p for p in all_problems().values() if (p.family == "heldout") == heldout]
    shown = len(ctx.plan.problems)
    of = f"{shown} of the {len(suite)} {kind}" if shown < len(suite) else f"{shown} {kind}"
    if len(budgets) == 1:
        return f", at {budgets.pop()} evaluations on {of}"
    return f", at each problem's budget on {of}"


def _scored_section(
    ctx: Context,
    lines: list[str],
    verdicts_title: str,
    verdicts: Callable[[dict[str, dict[str, list[float]]]], list[str]],
) -> str:
    """A scored section after its introduction ``lines``: scores, verdicts, time, plots."""
    data = curves(ctx)
    final = finals(data)
    if not final:
        return "\n".join([*lines, "", "No results."]) + "\n"
    lines += ["", "### Final score", "", *_overall_table(final)]
    lines += ["", f"### {verdicts_title}", "", *verdicts(final)]
    lines += ["", "### Per problem (mean final score over seeds)", ""]
    lines += _per_problem_table(ctx, final)
    lines += ["", "### Time", ""]
    lines += [
        "Wall and CPU seconds of the runs in this cache. *Sampler CPU ms per evaluation* is a "
        "run's CPU time less the CPU time spent in the objective, per evaluation (the median "
        "over runs): what the sampler itself costs, whatever else shared the machine; wall "
        "times grow with the machine's load.",
        "",
        *_time_table(ctx),
    ]
    lines += ["", "### Anytime", "", *plot_anytime(ctx, data)]
    lines += ["", "### Problems", "", *_problems_table(ctx)]
    return "\n".join(lines) + "\n"


def continuous_section(ctx: Context) -> str:
    """CMA-ES on continuous problems at larger budgets, beside Optuna's and Nevergrad."""
    plan = ctx.plan
    quick = " (quick: a check of the harness)" if plan.quick else ""
    if plan.mode == "continuous-heldout":
        lines = _header(ctx, "## Continuous held-out problems at 500 evaluations")
        lines += [
            "The float-only held-out problems (see the held-out section), seeds from "
            f"{plan.seeds[0]}, at 500 evaluations: at least 40 per parameter, where auto runs "
            "CMA-ES from the first trial. This checks that rule and CMA-ES's defaults on "
            "problems and seeds they were not chosen on. Score as in the sample-efficiency "
            "section.",
            "",
        ]
    else:
        lines = _header(ctx, f"## Continuous problems at larger budgets{quick}")
        lines += [
            "Float-only problems of 6 to 40 dimensions at 300 to 1,000 evaluations, where "
            "evolution strategies are at home. Score as in the sample-efficiency section. "
            "**In-sample**: auto's rule for CMA-ES and CMA-ES's initial step were chosen on "
            "these problems and seeds; the continuous held-out section checks them out of "
            "sample.",
            "",
        ]
    lines += [
        "### Samplers",
        "",
        *_samplers_table(ctx),
    ]
    return _scored_section(ctx, lines, "hptune CMA-ES beside the peers", _cmaes_verdicts)


def _cmaes_verdicts(final: dict[str, dict[str, list[float]]]) -> list[str]:
    """hptune CMA-ES against Optuna's and Nevergrad, and auto against every sampler."""
    out = [] if "cmaes" in final else ["hptune CMA-ES has no results in this cache."]
    for peer in ("optuna-cmaes", "nevergrad"):
        if "cmaes" in final and peer in final:
            out.append(
                f"- hptune CMA-ES >= {peers.label(peer)}: {_compare('cmaes', peer, final)[1]}."
            )
    return out + auto_target(final)


def batch_section(ctx: Context) -> str:
    """The parallel-quality section: 8 pending proposals against one at a time."""
    plan = ctx.plan
    size = max(plan.batch_sizes)
    quick = " (quick: a check of the harness)" if plan.quick else ""
    lines = _header(ctx, f"## Parallel quality: {size} proposals pending vs sequential{quick}")
    lines += [
        f"Batch: ask {size} trials, then evaluate and tell the {size}, repeat; sequential: "
        "ask, evaluate, tell. Equal evaluations. The ratio is the batch mean final score "
        "divided by the sequential one (95% bootstrap interval over seeds); the target is "
        f"a ratio of at least {TARGET_BATCH_RATIO} (within 10%), met only when the whole "
        "interval is at or above it.",
        *(
            []
            if plan.quick
            else [
                "",
                "**In-sample**: how hptune's GP and TPE treat running trials (kriging "
                "believer, constant liar) was chosen while looking at these problems and seeds.",
            ]
        ),
        "",
        "### Samplers",
        "",
        *_samplers_table(ctx),
        "",
    ]
    seq, bat = finals(curves(ctx, 1)), finals(curves(ctx, size))
    rows, verdicts = [], []
    for s in plan.samplers:
        if s not in seq or s not in bat:
            continue
        for p in plan.problems:
            if p.name in seq[s] and p.name in bat[s]:
                a, b = float(np.mean(seq[s][p.name])), float(np.mean(bat[s][p.name]))
                ratio = f"{b / a:.2f}" if a > 0 else "n/a"
                rows.append([peers.label(s), p.name, f"{a:.1f}", f"{b:.1f}", ratio])
        r, lo, hi = scoring.bootstrap_ratio(bat[s], seq[s])
        a, b = scoring.mean_score(seq[s]), scoring.mean_score(bat[s])
        rows.append(
            [
                f"**{peers.label(s)}**",
                "**all**",
                f"{a:.1f}",
                f"{b:.1f}",
                f"**{r:.2f}** [{lo:.2f}, {hi:.2f}]",
            ]
        )
        if s in ("tpe", "gp"):
            if lo >= TARGET_BATCH_RATIO:
                verdict = "**met**"
            elif hi < TARGET_BATCH_RATIO:
                verdict = "**missed**"
            else:
                verdict = "**within noise** (not met: the interval reaches below the target)"
            verdicts.append(
                f"- {peers.label(s)}: batch/sequential {r:.2f} [{lo:.2f}, {hi:.2f}], {verdict}."
            )
    header = ["sampler", "problem", "sequential", f"batch of {size}", "ratio"]
    lines += ["### Scores", "", *markdown_table(header, rows)] if rows else ["No results."]
    lines += [
        "",
        f"### Target: batch score within 10% of sequential (ratio >= {TARGET_BATCH_RATIO})",
        "",
    ]
    for s in ("tpe", "gp"):
        if not any(v.startswith(f"- {peers.label(s)}:") for v in verdicts):
            why = plan.skipped.get(s, "not among the samplers run")
            verdicts.append(f"- {peers.label(s)}: not checked ({why}).")
    lines += verdicts
    lines += ["", "### Time", "", *_time_table(ctx, plan.batch_sizes)]
    return "\n".join(lines) + "\n"


# Plots ------------------------------------------------------------------------------------


def _style(samplers: list[str]) -> dict[str, dict[str, Any]]:
    import matplotlib

    colors = matplotlib.colormaps["tab20"].colors
    styles = {}
    for i, s in enumerate(samplers):
        own = peers.is_hptune(s)
        styles[s] = {
            "color": colors[(2 * i) % 20 if i < 10 else (2 * i + 1) % 20],
            "linewidth": 2.4 if own else 1.3,
            "linestyle": "-" if own else "--",
            "label": peers.label(s),
        }
    return styles


def plot_anytime(ctx: Context, data: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """Draw the anytime PNGs; return the markdown lines that show them."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["matplotlib is not installed (`pip install -e '.[bench]'`): no plots."]
    prefix = ("quick-" if ctx.plan.quick else "") + (
        "" if ctx.plan.mode == "quality" else f"{ctx.plan.mode}-"
    )
    folder = ctx.out.parent / "samplers"
    folder.mkdir(parents=True, exist_ok=True)
    samplers = [s for s in ctx.plan.samplers if s in data]
    styles = _style(samplers)
    fractions = np.linspace(0.02, 1.0, 50)
    groups = [("all problems", [p.name for p in ctx.plan.problems])]
    groups += [
        (f, [p.name for p in ctx.plan.problems if p.family == f])
        for f in FAMILIES
        if any(p.family == f for p in ctx.plan.problems)
    ]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.8), squeeze=False)
    for ax, (title, names) in zip(axes[0], groups, strict=True):
        for s in samplers:
            rows = []
            for name in names:
                if name in data[s]:
                    c = data[s][name].mean(axis=0)
                    idx = np.maximum(np.ceil(fractions * len(c)).astype(int) - 1, 0)
                    rows.append(c[idx])
            if rows:
                ax.plot(fractions, np.mean(rows, axis=0), **styles[s])
        ax.set_title(f"{title} ({len(names)})")
        ax.set_ylim(bottom=max(ax.get_ylim()[0], -25))  # the first few draws are off-scale
        ax.set_xlabel("fraction of the budget")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean normalized score")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    anytime = folder / f"{prefix}anytime.png"
    fig.savefig(anytime, dpi=110)
    plt.close(fig)

    problems = ctx.plan.problems
    ncols = min(4, len(problems))
    nrows = math.ceil(len(problems) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows), squeeze=False)
    for ax, p in zip(axes.flat, problems, strict=False):
        floor = REGRET_FLOOR[p.family]
        for s in samplers:
            if p.name in data[s]:
                # (best_so_far - best_known) / (median_random - best_known), from the score.
                regret = (100 - data[s][p.name]) / 100
                log = np.log10(np.maximum(regret, floor)).mean(axis=0)
                ax.plot(np.arange(1, len(log) + 1), log, **styles[s])
        ax.set_title(p.name, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("log10 normalized regret")
    for ax in axes[-1, :]:
        ax.set_xlabel("evaluations")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(6, len(labels)))
    fig.tight_layout(rect=(0, 0.06 if nrows > 1 else 0.12, 1, 1))
    per_problem = folder / f"{prefix}problems.png"
    fig.savefig(per_problem, dpi=100)
    plt.close(fig)
    rel = [os.path.relpath(f, ctx.out.parent) for f in (anytime, per_problem)]
    return [
        "Mean normalized score against the fraction of the budget spent (mean over seeds, "
        "then over problems); then each problem's normalized regret, `(best_so_far - "
        "best_known) / (median_random - best_known)`, on a log scale against evaluations "
        "(mean of the log over seeds; floored at 1e-6, or 1e-3 for the sklearn problems whose "
        "errors move in steps of one misclassified sample). hptune's samplers are solid "
        "lines, peers dashed.",
        "",
        f"![anytime normalized score]({rel[0]})",
        "",
        f"![log regret per problem]({rel[1]})",
    ]
