"""Adapters that run one sampler, hptune's or a peer's, on one problem for a budget.

Every adapter has the shape ``run(problem, budget, seed, objective=None, batch=1) ->
list[float]``: the objective values in the order they were evaluated. ``objective``
defaults to ``problem.evaluate`` (the runner passes a timed wrapper). ``batch > 1`` asks
that many proposals before telling any (hptune and Optuna only; others raise).

hptune samplers are run by name (``ht.create_study(sampler=NAME, seed=SEED)``),
define-by-run, so conditional parameters are asked for only when their parent selects
them. Peers that have conditional spaces get them (Optuna, rustuna: define-by-run;
Hyperopt: nested ``hp.choice``; SMAC3: ConfigSpace ``InCondition``); the others
(scikit-optimize, Nevergrad) search the flat space of every parameter and the objective
ignores the inactive ones.

Each peer runs with its library's defaults except for what the table below names;
``python benchmarks/peers.py`` prints which are installed.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import math
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from problems import Param, Problem

Objective = Callable[[Mapping[str, Any]], float]
Run = Callable[..., list[float]]


def _numbers(values: Mapping[str, Any], problem: Problem) -> dict[str, Any]:
    """Peer values as plain Python objects of the problem's own types and choices."""
    out: dict[str, Any] = {}
    for p in problem.params:
        if p.name not in values:
            continue
        v = values[p.name]
        if p.kind != "categorical" and np.ndim(v):  # some optimizers give 1-element arrays
            v = np.asarray(v).reshape(-1)[0]
        if p.kind == "float":
            out[p.name] = min(max(float(v), p.low), p.high)
        elif p.kind == "int":
            out[p.name] = int(min(max(round(float(v)), p.low), p.high))
        else:
            out[p.name] = next((c for c in p.choices if str(c) == str(v)), v)
    return out


def _ask_tell(
    problem: Problem, budget: int, objective: Objective, batch: int, ask: Any, tell: Any
) -> list[float]:
    """Ask ``batch`` proposals (define-by-run), evaluate them, tell them; repeat."""
    values: list[float] = []
    while len(values) < budget:
        pending = []
        for _ in range(min(batch, budget - len(values))):
            trial = ask()
            pending.append((trial, problem.suggest(trial)))
        for trial, params in pending:
            value = objective(params)
            tell(trial, value)
            values.append(value)
    return values


# hptune -----------------------------------------------------------------------------------


def run_hptune(
    name: str,
    problem: Problem,
    budget: int,
    seed: int,
    objective: Objective | None = None,
    batch: int = 1,
) -> list[float]:
    """hptune's sampler ``name``, define-by-run through ``study.ask()`` / ``study.tell``.

    ``"auto"`` is told the budget, as ``study.optimize(n_trials=budget)`` would tell it.
    """
    import hptune as ht

    sampler: Any = name
    if name == "auto":
        sampler = ht.AutoSampler(seed=seed, n_trials=budget)
    study = ht.create_study(direction="minimize", sampler=sampler, seed=seed)
    return _ask_tell(problem, budget, objective or problem.evaluate, batch, study.ask, study.tell)


# Optuna and rustuna -----------------------------------------------------------------------


def optuna_sampler(kind: str, seed: int) -> Any:
    """Optuna's sampler for ``kind``.

    ``kind``: "tpe" (multivariate), "tpe-indep", "gp", "gp-det" (told the objective is
    noise-free, as every problem of the suite is), "cmaes" or "nsga2".
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if kind == "tpe-indep":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if kind == "gp-det":
        return optuna.samplers.GPSampler(seed=seed, deterministic_objective=True)
    return optuna.samplers.GPSampler(seed=seed)


def _run_optuna(
    kind: str,
    problem: Problem,
    budget: int,
    seed: int,
    objective: Objective | None = None,
    batch: int = 1,
) -> list[float]:
    """Optuna's sampler ``kind`` (see :func:`optuna_sampler`) through ask/tell."""
    import optuna

    study = optuna.create_study(direction="minimize", sampler=optuna_sampler(kind, seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental and independent-sampling warnings
        return _ask_tell(
            problem, budget, objective or problem.evaluate, batch, study.ask, study.tell
        )


def run_rustuna_tpe(
    problem: Problem, budget: int, seed: int, objective: Objective | None = None, batch: int = 1
) -> list[float]:
    import rustuna

    study = rustuna.create_study(
        direction="minimize", sampler=rustuna.samplers.TPESampler(seed=seed)
    )
    return _ask_tell(
        problem,
        budget,
        objective or problem.evaluate,
        batch,
        study.ask,
        lambda trial, value: study.tell(trial.number, value),
    )


def _sequential_only(name: str, batch: int) -> None:
    if batch != 1:
        raise ValueError(f"{name}: batch proposals are not wired for this peer (got {batch}).")


# Hyperopt ---------------------------------------------------------------------------------

_CHOICE_KEY = "__choice__"


def _hyperopt_param(p: Param, label: str) -> Any:
    from hyperopt import hp

    if p.kind == "categorical":
        return hp.choice(label, list(p.choices))
    if p.kind == "int":
        if p.log:
            return hp.qloguniform(label, math.log(p.low), math.log(p.high), 1)
        return hp.uniformint(label, int(p.low), int(p.high))
    if p.log:
        return hp.loguniform(label, math.log(p.low), math.log(p.high))
    return hp.uniform(label, p.low, p.high)


def hyperopt_space(problem: Problem) -> dict[str, Any]:
    """A Hyperopt space: a parent categorical is a ``hp.choice`` of its sub-spaces.

    A child active under several of its parent's values appears in each branch under its
    own label (``name@value``), as Hyperopt wants labels unique.
    """
    from hyperopt import hp

    space: dict[str, Any] = {}
    for p in problem.params:
        if p.parent is not None:
            continue
        children = [c for c in problem.params if c.parent == p.name]
        if not children:
            space[p.name] = _hyperopt_param(p, p.name)
            continue
        branches = []
        for choice in p.choices:
            branch = {_CHOICE_KEY: choice}
            for c in children:
                if choice in c.when:
                    branch[c.name] = _hyperopt_param(c, f"{c.name}@{choice}")
            branches.append(branch)
        space[p.name] = hp.choice(p.name, branches)
    return space


def run_hyperopt_tpe(
    problem: Problem, budget: int, seed: int, objective: Objective | None = None, batch: int = 1
) -> list[float]:
    from hyperopt import Trials, fmin, tpe

    _sequential_only("hyperopt-tpe", batch)
    objective = objective or problem.evaluate
    values: list[float] = []

    def fn(sample: dict[str, Any]) -> float:
        flat: dict[str, Any] = {}
        for key, v in sample.items():
            if isinstance(v, dict):
                flat[key] = v[_CHOICE_KEY]
                flat.update({k: x for k, x in v.items() if k != _CHOICE_KEY})
            else:
                flat[key] = v
        value = objective(_numbers(flat, problem))
        values.append(value)
        return value

    fmin(
        fn,
        hyperopt_space(problem),
        algo=tpe.suggest,
        max_evals=budget,
        trials=Trials(),
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return values


# SMAC3 ------------------------------------------------------------------------------------


def configspace(problem: Problem, seed: int) -> Any:
    """A ConfigSpace with an ``InCondition`` per conditional parameter (choices as strings)."""
    from ConfigSpace import Categorical, ConfigurationSpace, Float, InCondition, Integer

    cs = ConfigurationSpace(seed=seed)
    hps: dict[str, Any] = {}
    for p in problem.params:
        if p.kind == "float":
            hps[p.name] = Float(p.name, (p.low, p.high), log=p.log)
        elif p.kind == "int":
            hps[p.name] = Integer(p.name, (int(p.low), int(p.high)), log=p.log)
        else:
            hps[p.name] = Categorical(p.name, [str(c) for c in p.choices])
    cs.add(list(hps.values()))
    for p in problem.params:
        if p.parent is not None:
            cs.add(InCondition(hps[p.name], hps[p.parent], [str(c) for c in p.when]))
    return cs


def run_smac(
    facade_name: str,
    problem: Problem,
    budget: int,
    seed: int,
    objective: Objective | None = None,
    batch: int = 1,
) -> list[float]:
    """SMAC3 through ask/tell with the facade ``facade_name`` (random forest or GP)."""
    import smac as smac_lib
    from smac import Scenario
    from smac.runhistory.dataclasses import TrialValue

    _sequential_only(f"smac {facade_name}", batch)
    facade = getattr(smac_lib, facade_name)
    objective = objective or problem.evaluate
    values: list[float] = []
    with tempfile.TemporaryDirectory(prefix="smac-") as tmp:
        scenario = Scenario(
            configspace(problem, seed),
            deterministic=True,
            n_trials=budget,
            seed=seed,
            output_directory=tmp,
        )
        smac = facade(scenario, lambda config, seed=0: 0.0, overwrite=True, logging_level=40)
        while len(values) < budget:
            info = smac.ask()
            value = objective(_numbers(dict(info.config), problem))
            smac.tell(info, TrialValue(cost=value))
            values.append(value)
    return values


# scikit-optimize and Nevergrad: flat spaces -----------------------------------------------


def run_skopt_gp(
    problem: Problem, budget: int, seed: int, objective: Objective | None = None, batch: int = 1
) -> list[float]:
    from skopt import Optimizer
    from skopt.space import Categorical, Integer, Real

    _sequential_only("skopt-gp", batch)
    objective = objective or problem.evaluate
    dims: list[Any] = []
    for p in problem.params:
        prior = "log-uniform" if p.log else "uniform"
        if p.kind == "float":
            dims.append(Real(p.low, p.high, prior=prior, name=p.name))
        elif p.kind == "int":
            dims.append(Integer(int(p.low), int(p.high), prior=prior, name=p.name))
        else:
            dims.append(Categorical([str(c) for c in p.choices], name=p.name))
    optimizer = Optimizer(dims, base_estimator="GP", random_state=seed)
    names = [p.name for p in problem.params]
    values: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "objective has been evaluated at this point before"
        while len(values) < budget:
            x = optimizer.ask()
            value = objective(_numbers(dict(zip(names, x, strict=True)), problem))
            optimizer.tell(x, value)
            values.append(value)
    return values


def _nevergrad_metamodel_under_numpy2() -> None:
    """Let Nevergrad's metamodel fail the way it already handles, under NumPy 2.

    Its surrogate step (``metamodel.learn_on_k_best``, which NGOpt's metamodel optimizers
    run at larger budgets) calls ``float()`` on a one-element array, a TypeError under
    NumPy 2; the callers only catch ``MetaModelFailure``, so the whole run died
    (StyblinskiTang8 at 500 evaluations). Turned into ``MetaModelFailure``, Nevergrad skips
    that surrogate step and asks its base optimizer instead, as it does whenever its
    metamodel cannot be fitted. The step is looked up both through the ``metamodel`` module
    and through the name ``optimizerlib`` imported from it, so both are replaced.
    """
    from nevergrad.optimization import metamodel, optimizerlib

    learn = metamodel.learn_on_k_best
    if getattr(learn, "hptune_shim", False):
        return

    @functools.wraps(learn)
    def shim(*args: Any, **kwargs: Any) -> Any:
        try:
            return learn(*args, **kwargs)
        except TypeError as e:
            raise metamodel.MetaModelFailure(f"surrogate step failed: {e}") from e

    shim.hptune_shim = True  # type: ignore[attr-defined]
    metamodel.learn_on_k_best = shim
    optimizerlib.learn_on_k_best = shim


def run_nevergrad(
    problem: Problem, budget: int, seed: int, objective: Objective | None = None, batch: int = 1
) -> list[float]:
    import nevergrad as ng

    _sequential_only("nevergrad", batch)
    _nevergrad_metamodel_under_numpy2()
    objective = objective or problem.evaluate
    params: dict[str, Any] = {}
    for p in problem.params:
        if p.kind == "categorical":
            params[p.name] = ng.p.Choice(list(p.choices))
            continue
        scale = ng.p.Log if p.log else ng.p.Scalar
        params[p.name] = scale(lower=p.low, upper=p.high)
        if p.kind == "int":
            params[p.name] = params[p.name].set_integer_casting()
    parametrization = ng.p.Dict(**params)
    parametrization.random_state = np.random.RandomState(seed)
    optimizer = ng.optimizers.NGOpt(parametrization=parametrization, budget=budget, num_workers=1)
    values: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(values) < budget:
            candidate = optimizer.ask()
            value = objective(_numbers(candidate.value, problem))
            optimizer.tell(candidate, value)
            values.append(value)
    return values


def run_unavailable(
    problem: Problem,
    budget: int,
    seed: int,
    objective: Objective | None = None,
    batch: int = 1,
) -> list[float]:
    """The adapter of a peer this environment cannot install (never chosen to run)."""
    raise RuntimeError("this peer cannot be installed here; see peers.status()")


# The registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """A peer sampler: its library, how it is configured, and its adapter."""

    name: str
    label: str
    module: str
    distribution: str
    config: str
    run: Run
    batch: bool = False
    not_installable: str | None = None  # why this environment cannot have it


PEERS: dict[str, Peer] = {
    p.name: p
    for p in [
        Peer(
            "optuna-tpe",
            "Optuna TPE",
            "optuna",
            "optuna",
            "`TPESampler(seed=seed, multivariate=True)`: Optuna 5's default for one objective",
            functools.partial(_run_optuna, "tpe"),
            batch=True,
        ),
        Peer(
            "optuna-tpe-indep",
            "Optuna TPE independent",
            "optuna",
            "optuna",
            "`TPESampler(seed=seed, multivariate=False)`: the default before Optuna 5",
            functools.partial(_run_optuna, "tpe-indep"),
            batch=True,
        ),
        Peer(
            "optuna-gp",
            "Optuna GP",
            "optuna",
            "optuna",
            "`GPSampler(seed=seed)`, defaults",
            functools.partial(_run_optuna, "gp"),
            batch=True,
        ),
        Peer(
            "optuna-gp-det",
            "Optuna GP deterministic",
            "optuna",
            "optuna",
            "`GPSampler(seed=seed, deterministic_objective=True)`: told the objective is "
            "noise-free, as every problem here is",
            functools.partial(_run_optuna, "gp-det"),
            batch=True,
        ),
        Peer(
            "optuna-cmaes",
            "Optuna CMA-ES",
            "cmaes",
            "optuna",
            "`CmaEsSampler(seed=seed)`, defaults (the `cmaes` package; categoricals at random)",
            functools.partial(_run_optuna, "cmaes"),
            batch=True,
        ),
        Peer(
            "hyperopt-tpe",
            "Hyperopt TPE",
            "hyperopt",
            "hyperopt",
            "`fmin(algo=tpe.suggest, rstate=default_rng(seed))`, conditional via nested "
            "`hp.choice`",
            run_hyperopt_tpe,
        ),
        Peer(
            "smac",
            "SMAC3 HPO",
            "smac",
            "smac",
            "`HyperparameterOptimizationFacade` (random forest), `deterministic=True`, "
            "conditions as `InCondition`",
            functools.partial(run_smac, "HyperparameterOptimizationFacade"),
        ),
        Peer(
            "smac-gp",
            "SMAC3 BlackBox (GP)",
            "smac",
            "smac",
            "`BlackBoxFacade` (Gaussian process), `deterministic=True`, conditions as "
            "`InCondition`",
            functools.partial(run_smac, "BlackBoxFacade"),
        ),
        Peer(
            "skopt-gp",
            "scikit-optimize GP",
            "skopt",
            "scikit-optimize",
            "`Optimizer(base_estimator='GP', random_state=seed)`, defaults; flat space",
            run_skopt_gp,
        ),
        Peer(
            "nevergrad",
            "Nevergrad NGOpt",
            "nevergrad",
            "nevergrad",
            "`NGOpt(budget=budget, num_workers=1)`, seeded parametrization; flat space; "
            "a NumPy-2 TypeError in its surrogate step is turned into the `MetaModelFailure` "
            "Nevergrad handles (it then skips that step)",
            run_nevergrad,
        ),
        Peer(
            "rustuna-tpe",
            "rustuna TPE",
            "rustuna",
            "rustuna",
            "`rustuna.samplers.TPESampler(seed=seed)`, defaults",
            run_rustuna_tpe,
        ),
        Peer(
            "hebo",
            "HEBO",
            "hebo",
            "HEBO",
            "-",
            run_unavailable,
            not_installable=(
                "HEBO 0.3.6 (the latest) requires numpy<1.25, pymoo==0.6.0, GPy and catboost; "
                "pip would downgrade this environment's numpy 2.x, so it is left out"
            ),
        ),
    ]
}


def hptune_names() -> tuple[str, ...]:
    """The sampler names hptune accepts today."""
    from hptune.samplers import SAMPLER_NAMES

    return tuple(SAMPLER_NAMES)


def version(distribution: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def status(name: str) -> tuple[str | None, str]:
    """``(version, "")`` when ``name`` can run here, else ``(None, why not)``."""
    if name in hptune_names():
        return version("hptune") or "?", ""
    peer = PEERS.get(name)
    if peer is None:
        if name in ("tpe", "gp", "cmaes", "evolution", "auto"):
            return None, f"hptune has no sampler {name!r} yet (not in SAMPLER_NAMES)"
        valid = sorted({*hptune_names(), *PEERS})
        return None, f"unknown sampler {name!r}; valid names: {', '.join(valid)}"
    if peer.not_installable:
        return None, f"not installed: {peer.not_installable}"
    try:
        importlib.import_module(peer.module)
    except Exception as e:  # an import that fails in any way means "cannot run here"
        return None, f"not installed ({type(e).__name__}: {e}); `pip install -e '.[bench]'`"
    return version(peer.distribution) or "?", ""


def label(name: str) -> str:
    """The name shown in reports."""
    return PEERS[name].label if name in PEERS else f"hptune {name}"


def is_hptune(name: str) -> bool:
    """True for hptune's own samplers."""
    return name not in PEERS


def runner(name: str) -> Run:
    """The adapter for ``name`` (an hptune sampler name or a peer)."""
    if name in PEERS:
        return PEERS[name].run

    def run(
        problem: Problem, budget: int, seed: int, objective: Objective | None = None, batch: int = 1
    ) -> list[float]:
        return run_hptune(name, problem, budget, seed, objective, batch)

    return run


def supports_batch(name: str) -> bool:
    """Whether ``name`` can be asked several proposals before any is told."""
    return is_hptune(name) or PEERS[name].batch


def main() -> None:
    for name in [*hptune_names(), *PEERS]:
        found, why = status(name)
        print(f"{name:18} {found or why}")


if __name__ == "__main__":
    main()
