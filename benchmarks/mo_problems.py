"""Multi-objective test problems: ZDT and DTLZ from their published formulas, and one model.

Every objective is minimised. A problem names its parameters with ``problems.Param`` and
walks them define-by-run (:meth:`MOProblem.suggest`), so the same description serves
hptune's and Optuna's trials. Each problem carries the reference point its hypervolume is
measured against and, where the true Pareto front is known, that front's hypervolume, so
that a result can be given as a fraction of the optimum.

- ``ZDT1``, ``ZDT2``, ``ZDT3`` (Zitzler, Deb and Thiele, "Comparison of multiobjective
  evolutionary algorithms: empirical results", Evolutionary Computation 8(2), 2000):
  two objectives, ``n = 10`` variables in ``[0, 1]``; ``f1 = x1``,
  ``g = 1 + 9 * sum(x2..xn) / (n - 1)``, ``f2 = g * h(f1, g)`` with
  ``h = 1 - sqrt(f1/g)`` (convex front), ``1 - (f1/g)^2`` (concave) and
  ``1 - sqrt(f1/g) - (f1/g) sin(10 pi f1)`` (five disconnected pieces). The Pareto front is
  ``g = 1``, i.e. ``x2..xn = 0``.
- ``DTLZ2`` (Deb, Thiele, Laumanns and Zitzler, "Scalable multi-objective optimization test
  problems", CEC 2002): three objectives, ``n = M + k - 1 = 7`` variables in ``[0, 1]``
  (``k = 5``), ``g = sum((x_i - 0.5)^2)`` over the last ``k`` variables and
  ``f = (1 + g) * (cos cos, cos sin, sin)`` of ``x1 pi/2, x2 pi/2``; the Pareto front
  (``g = 0``) is the positive octant of the unit sphere.
- ``MLP-digits``: scikit-learn's ``MLPClassifier`` on its digits dataset, error on a fixed
  stratified holdout third (``random_state=0``) against model size (the number of weights
  and biases, on a log scale normalized to ``[0, 1]`` over the space). Deterministic: the
  network's initialisation and shuffling use ``random_state=0``. Its front is unknown.

Reference points: ZDT and DTLZ2 use the customary ``1.1`` in every objective (the
front's nadir is 1). With ``n = 10`` a uniformly random ZDT point has ``g`` about 5.5, so
early points add no hypervolume: the figure measures how close a sampler gets to the
front, not how many points it evaluated; that is also why the ZDT budget is 1,000
evaluations (at 300, NSGA-II has bred 5 generations of 50 and random search has no point
inside the box). ``MLP-digits`` uses an error of 0.25 and the largest network's size.

Run ``python benchmarks/mo_problems.py`` to list the problems and time one evaluation each.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from problems import Param, suggest_param

FloatArray = np.ndarray


@dataclass(frozen=True)
class MOProblem:
    """A multi-objective minimisation problem over a box of parameters.

    Attributes:
        name: unique; used on the command line and in the results.
        family: ``"synthetic"`` (known front) or ``"sklearn"`` (model tuning).
        params: the parameters, in the order they are asked for.
        function: takes the parameters by name, returns one value per objective.
        reference: the hypervolume reference point, one value per objective.
        front: returns a dense sample of the true Pareto front (rows are points), or None
            where the front is unknown.
        true_hypervolume: the front's hypervolume up to ``reference`` (analytic where a
            formula is known), or None.
        budget: evaluations per run in the full benchmark.
        note: what the problem is, for the report.
    """

    name: str
    family: str
    params: tuple[Param, ...]
    function: Callable[[Mapping[str, Any]], tuple[float, ...]] = field(repr=False)
    reference: tuple[float, ...]
    front: Callable[[], FloatArray] | None = field(repr=False, default=None)
    true_hypervolume: float | None = None
    budget: int = 300
    note: str = ""

    @property
    def n_objectives(self) -> int:
        """The number of objectives."""
        return len(self.reference)

    def evaluate(self, values: Mapping[str, Any]) -> tuple[float, ...]:
        """The objectives at ``values``."""
        return tuple(float(v) for v in self.function(values))

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Ask ``trial`` (hptune's or Optuna's) for every parameter."""
        return {p.name: suggest_param(trial, p) for p in self.params}


# --- ZDT (Zitzler, Deb, Thiele 2000) -------------------------------------------------------


def _unit(values: Mapping[str, Any], n: int) -> FloatArray:
    return np.array([float(values[f"x{i}"]) for i in range(1, n + 1)])


def zdt_g(x: Sequence[float]) -> float:
    """``g = 1 + 9 * sum(x2..xn) / (n - 1)``; 1 on the Pareto front."""
    rest = np.asarray(x, dtype=float)[1:]
    return float(1.0 + 9.0 * rest.sum() / len(rest))


def _zdt_h(which: int, f1: float, g: float) -> float:
    r = f1 / g
    if which == 1:
        return 1.0 - math.sqrt(r)
    if which == 2:
        return 1.0 - r**2
    return 1.0 - math.sqrt(r) - r * math.sin(10.0 * math.pi * f1)


def zdt(which: int, x: Sequence[float]) -> tuple[float, float]:
    """ZDT1, ZDT2 or ZDT3 (``which``) at ``x`` in ``[0, 1]^n``."""
    f1 = float(x[0])
    g = zdt_g(x)
    return f1, g * _zdt_h(which, f1, g)


def _front_2d(points: FloatArray) -> FloatArray:
    """The non-dominated rows of a 2-objective set (one sort, one running minimum)."""
    p = points[np.lexsort((points[:, 1], points[:, 0]))]
    keep = p[:, 1] < np.minimum.accumulate(np.concatenate([[np.inf], p[:-1, 1]]))
    front: FloatArray = p[keep]
    return front


def zdt_front(which: int, n_points: int = 2001) -> FloatArray:
    """A dense sample of the ZDT Pareto front (``g = 1``), dominated points removed.

    ZDT3's ``h`` is not monotone in ``f1``: only five pieces of the curve ``g = 1`` are
    Pareto optimal, which the filter keeps.
    """
    f1 = np.linspace(0.0, 1.0, n_points)
    f2 = np.array([_zdt_h(which, v, 1.0) for v in f1])
    return _front_2d(np.column_stack([f1, f2]))


def zdt_true_hypervolume(which: int, reference: Sequence[float], n_grid: int = 1_000_001) -> float:
    """The hypervolume of the whole ZDT front (the curve ``g = 1``), by quadrature.

    The front dominates, above ``f1 = t``, everything higher than the lowest ``f2`` of the
    curve over ``[0, t]`` (its running minimum), so the hypervolume is the integral over
    ``t`` of ``r2`` less that minimum; the curve is integrated on ``n_grid`` points (the
    midpoint rule), which for ZDT1 and ZDT2 matches their closed forms to 1e-6.
    """
    r1, r2 = float(reference[0]), float(reference[1])
    edges = np.linspace(0.0, r1, n_grid)
    mid = (edges[:-1] + edges[1:]) / 2
    f1 = np.minimum(mid, 1.0)  # beyond f1 = 1 the curve's end point (1, h(1)) dominates
    r = f1  # g = 1
    h = {1: 1 - np.sqrt(r), 2: 1 - r**2, 3: 1 - np.sqrt(r) - r * np.sin(10 * np.pi * f1)}
    lowest = np.minimum(np.minimum.accumulate(h[which]), r2)
    return float(np.sum((r2 - lowest) * np.diff(edges)))


def _zdt_problem(which: int, n: int = 10) -> MOProblem:
    params = tuple(Param(f"x{i}", "float", 0.0, 1.0) for i in range(1, n + 1))
    reference = (1.1, 1.1)
    # Analytic: the box minus the area under the front, f2 = 1 - f1^(1/2) or 1 - f1^2;
    # ZDT3's five pieces by quadrature.
    analytic = {1: 1.1 * 1.1 - 1 / 3, 2: 1.1 * 1.1 - 2 / 3}
    true = analytic.get(which) or zdt_true_hypervolume(which, reference)
    shapes = {1: "convex", 2: "concave", 3: "five disconnected pieces"}
    return MOProblem(
        name=f"ZDT{which}",
        family="synthetic",
        params=params,
        function=lambda v: zdt(which, _unit(v, n)),
        reference=reference,
        front=functools.partial(zdt_front, which),
        true_hypervolume=true,
        budget=1000,
        note=f"{n} variables, 2 objectives, {shapes[which]} front",
    )


# --- DTLZ2 (Deb, Thiele, Laumanns, Zitzler 2002) ------------------------------------------


def dtlz2(x: Sequence[float], n_objectives: int = 3) -> tuple[float, ...]:
    """DTLZ2 at ``x`` in ``[0, 1]^n``, ``n >= n_objectives``."""
    v = np.asarray(x, dtype=float)
    m = n_objectives
    g = float(np.sum((v[m - 1 :] - 0.5) ** 2))
    angles = v[: m - 1] * math.pi / 2
    out = []
    for i in range(m):
        f = 1.0 + g
        f *= float(np.prod(np.cos(angles[: m - 1 - i])))
        if i > 0:
            f *= math.sin(angles[m - 1 - i])
        out.append(f)
    return tuple(out)


def dtlz2_front(n_per_side: int = 25) -> FloatArray:
    """Points of the DTLZ2 front (3 objectives): a grid of angles on the unit sphere."""
    t = np.linspace(0.0, 1.0, n_per_side)
    a, b = np.meshgrid(t, t)
    x = np.column_stack([a.ravel(), b.ravel(), np.full((a.size, 5), 0.5)])
    return np.array([dtlz2(row) for row in x])


def _dtlz2_problem(k: int = 5) -> MOProblem:
    m = 3
    n = m + k - 1
    reference = (1.1, 1.1, 1.1)
    return MOProblem(
        name="DTLZ2",
        family="synthetic",
        params=tuple(Param(f"x{i}", "float", 0.0, 1.0) for i in range(1, n + 1)),
        function=lambda v: dtlz2(_unit(v, n), m),
        reference=reference,
        front=dtlz2_front,
        # The box minus the positive octant of the unit ball (volume pi/6).
        true_hypervolume=1.1**3 - math.pi / 6,
        budget=1000,
        note=f"{n} variables, 3 objectives, spherical front",
    )


# --- Model tuning: an MLP on digits, error against size -----------------------------------

_MLP_LAYERS = (1, 2)
_MLP_WIDTH = (4, 64)
_DIGITS_IN, _DIGITS_OUT = 64, 10


def mlp_parameter_count(n_layers: int, width: int) -> int:
    """Weights and biases of an MLP from digits' 64 inputs to its 10 classes."""
    sizes = [_DIGITS_IN, *([width] * n_layers), _DIGITS_OUT]
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


_LOG_SIZE_LOW = math.log10(mlp_parameter_count(_MLP_LAYERS[0], _MLP_WIDTH[0]))
_LOG_SIZE_HIGH = math.log10(mlp_parameter_count(_MLP_LAYERS[1], _MLP_WIDTH[1]))


def normalized_size(n_layers: int, width: int) -> float:
    """``log10(parameters)`` mapped to ``[0, 1]`` over the space (0: the smallest net)."""
    log_size = math.log10(mlp_parameter_count(n_layers, width))
    return (log_size - _LOG_SIZE_LOW) / (_LOG_SIZE_HIGH - _LOG_SIZE_LOW)


@functools.cache
def _digits_split() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0  # pixel intensities 0..16 to [0, 1]
    split: tuple[Any, Any, Any, Any] = tuple(
        train_test_split(x, y, test_size=1 / 3, stratify=y, random_state=0)
    )
    return split


def mlp_digits(values: Mapping[str, Any]) -> tuple[float, float]:
    """Holdout error and normalized size of an ``MLPClassifier`` trained on digits."""
    from sklearn.neural_network import MLPClassifier

    x_train, x_valid, y_train, y_valid = _digits_split()
    n_layers, width = int(values["n_layers"]), int(values["width"])
    model = MLPClassifier(
        hidden_layer_sizes=(width,) * n_layers,
        activation=values["activation"],
        alpha=float(values["alpha"]),
        learning_rate_init=float(values["learning_rate_init"]),
        batch_size=int(values["batch_size"]),
        max_iter=20,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at 20 epochs, by design
        model.fit(x_train, y_train)
    error = 1.0 - float(model.score(x_valid, y_valid))
    return error, normalized_size(n_layers, width)


def _mlp_problem() -> MOProblem:
    return MOProblem(
        name="MLP-digits",
        family="sklearn",
        params=(
            Param("n_layers", "int", *_MLP_LAYERS),
            Param("width", "int", *_MLP_WIDTH, log=True),
            Param("activation", "categorical", choices=("relu", "tanh", "logistic")),
            Param("alpha", "float", 1e-6, 1e-1, log=True),
            Param("learning_rate_init", "float", 1e-4, 1e-1, log=True),
            Param("batch_size", "categorical", choices=(128, 256)),
        ),
        function=mlp_digits,
        # Error: a classifier wrong on a quarter of the digits is of little interest (random
        # configurations reach about 3%); size: the largest net, which adds nothing (no
        # width left in that objective) whatever its error.
        reference=(0.25, 1.0),
        budget=150,
        note="holdout error vs log model size; 6 hyperparameters (int, log int, log float, "
        "categorical); 20 epochs of Adam",
    )


PROBLEMS: dict[str, Callable[[], MOProblem]] = {
    "ZDT1": lambda: _zdt_problem(1),
    "ZDT2": lambda: _zdt_problem(2),
    "ZDT3": lambda: _zdt_problem(3),
    "DTLZ2": _dtlz2_problem,
    "MLP-digits": _mlp_problem,
}


@functools.cache
def get_problem(name: str) -> MOProblem:
    """The problem called ``name`` (one of :data:`PROBLEMS`)."""
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose from {', '.join(PROBLEMS)}")
    return PROBLEMS[name]()


def main() -> None:
    rng = np.random.default_rng(0)
    for name in PROBLEMS:
        problem = get_problem(name)
        values = {
            p.name: p.choices[int(rng.integers(len(p.choices)))] if p.choices else p.high
            for p in problem.params
        }
        started = time.perf_counter()
        out = problem.evaluate(values)
        seconds = time.perf_counter() - started
        true = "unknown" if problem.true_hypervolume is None else f"{problem.true_hypervolume:.4f}"
        print(
            f"{name:11s} {len(problem.params)} params, reference {problem.reference}, "
            f"true HV {true}; f(high corner) = {tuple(round(o, 4) for o in out)} "
            f"in {seconds:.3f} s"
        )


if __name__ == "__main__":
    main()
