"""Test problems for the sampler benchmark: synthetic functions, mixed spaces, and sklearn tuning.

Every problem is to be minimised. A problem names its parameters once (:class:`Param`), and
that description is turned into hptune's space here and into each peer's space in
``peers.py``; :meth:`Problem.suggest` walks it define-by-run, so a parameter whose parent
does not select it is never asked for.

Families:

- ``synthetic``: functions written from their published formulas (Branin; Hartmann-3 and
  -6; Ackley, Rosenbrock, Levy, Styblinski-Tang and Michalewicz at several dimensions),
  with their analytic optima. Ackley's box is ``[-10, 25]^d`` rather than the usual
  ``[-32.768, 32.768]^d`` so that its optimum (the origin) is not the centre of the box,
  where some initial designs put their first point.
- ``mixed``: integers, log-scaled floats, categoricals and conditional parameters, on
  closed-form objectives whose optimum is known (see each function's docstring).
- ``heldout``: problems no default of hptune was chosen on (Griewank, Rastrigin,
  Schwefel, Alpine and a conditional training-like space), for checking the defaults
  out of sample (``samplers.py --heldout``, with seeds of its own); left out of the main
  suite.
- ``sklearn``: scikit-learn models on the datasets bundled with scikit-learn, 3-fold
  cross-validated error (``1 - accuracy``, or ``1 - R^2`` for regression), with fixed
  folds and ``random_state=0`` so that an evaluation is deterministic. Their best value
  is not known: the runner takes the best value seen in its runs and in its random
  reference sample.

Run ``python benchmarks/problems.py`` to list the problems.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

import hptune as ht

Kind = Literal["float", "int", "categorical"]
FAMILIES = ("synthetic", "mixed", "sklearn", "heldout")


@dataclass(frozen=True)
class Param:
    """One parameter of a problem.

    A conditional parameter names a categorical ``parent`` (itself unconditional) and the
    parent's values ``when`` it is active.
    """

    name: str
    kind: Kind
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] = ()
    parent: str | None = None
    when: tuple[Any, ...] = ()

    def distribution(self) -> ht.Distribution:
        """This parameter as an hptune distribution."""
        if self.kind == "float":
            return ht.Float(self.low, self.high, log=self.log)
        if self.kind == "int":
            return ht.Int(int(self.low), int(self.high), log=self.log)
        return ht.Categorical(self.choices)

    def sample(self, rng: np.random.Generator) -> Any:
        """A uniform draw (log-uniform for a log scale), as random search makes it."""
        if self.kind == "categorical":
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.kind == "int":
            if self.log:
                u = rng.uniform(math.log(self.low - 0.5), math.log(self.high + 0.5))
                return int(min(max(round(math.exp(u)), self.low), self.high))
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


def suggest_param(trial: Any, p: Param) -> Any:
    """Ask ``trial`` (hptune's, Optuna's or rustuna's) for parameter ``p``."""
    if p.kind == "float":
        return trial.suggest_float(p.name, p.low, p.high, log=p.log)
    if p.kind == "int":
        return trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
    return trial.suggest_categorical(p.name, list(p.choices))


@dataclass(frozen=True)
class Problem:
    """A minimisation problem over a (possibly conditional) space.

    Attributes:
        name: unique; used on the command line and in the results.
        family: one of :data:`FAMILIES`.
        params: the parameters, parents before their children.
        function: takes the active parameters by name, returns the value to minimise.
        best_known: the analytic optimum, or None where it is unknown (sklearn).
        budget: evaluations per run in the full benchmark.
        note: where the optimum comes from, or what the problem models.
    """

    name: str
    family: str
    params: tuple[Param, ...]
    function: Callable[[Mapping[str, Any]], float] = field(repr=False)
    best_known: float | None
    budget: int
    note: str = ""

    @property
    def dim(self) -> int:
        """The number of parameters, active or not."""
        return len(self.params)

    @property
    def is_conditional(self) -> bool:
        """True when some parameter is active only for some values of another."""
        return any(p.parent is not None for p in self.params)

    def is_active(self, param: Param, values: Mapping[str, Any]) -> bool:
        """Whether ``param`` takes part, given the values of its parent."""
        return param.parent is None or values.get(param.parent) in param.when

    def active(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` without the parameters their parents switch off."""
        return {p.name: values[p.name] for p in self.params if self.is_active(p, values)}

    def evaluate(self, values: Mapping[str, Any]) -> float:
        """The objective at ``values`` (inactive parameters are ignored)."""
        return float(self.function(self.active(values)))

    def space(self) -> dict[str, ht.Distribution]:
        """Every parameter as an hptune declarative space (conditional ones included)."""
        return {p.name: p.distribution() for p in self.params}

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Ask ``trial`` for the active parameters, define-by-run.

        ``trial`` is anything with ``suggest_float``, ``suggest_int`` and
        ``suggest_categorical`` as hptune's, Optuna's and rustuna's trials have them.
        """
        values: dict[str, Any] = {}
        for p in self.params:
            if self.is_active(p, values):
                values[p.name] = suggest_param(trial, p)
        return values

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """A uniform random point (active parameters only)."""
        values: dict[str, Any] = {}
        for p in self.params:
            if self.is_active(p, values):
                values[p.name] = p.sample(rng)
        return values


# Synthetic functions, from their published formulas -------------------------------------


def branin(x: Sequence[float], z: float = 1.0) -> float:
    """Branin-Hoo on ``[-5, 10] x [0, 15]``; minimum 0.397887 at three points.

    ``z < 1`` is a lower fidelity, with the biases of Kandasamy et al. 2017 (BOCA).
    """
    x1, x2 = float(x[0]), float(x[1])
    b = 5.1 / (4 * math.pi**2) - 0.01 * (1.0 - z)
    c = 5 / math.pi - 0.1 * (1.0 - z)
    t = 1 / (8 * math.pi) + 0.05 * (1.0 - z)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def _hartmann(x: Sequence[float], a: np.ndarray, p: np.ndarray, z: float = 1.0) -> float:
    # z < 1: a lower fidelity, alpha - 0.1 (1 - z) as in Kandasamy et al. 2017 (BOCA).
    inner = np.sum(a * (np.asarray(x, dtype=float) - p) ** 2, axis=1)
    return float(-np.sum((_H_ALPHA - 0.1 * (1.0 - z)) * np.exp(-inner)))


def hartmann3(x: Sequence[float]) -> float:
    """Hartmann-3 on ``[0, 1]^3``; minimum -3.86278."""
    return _hartmann(x, _H3_A, _H3_P)


def hartmann6(x: Sequence[float], z: float = 1.0) -> float:
    """Hartmann-6 on ``[0, 1]^6``; minimum -3.32237 (``z < 1``: a lower fidelity)."""
    return _hartmann(x, _H6_A, _H6_P, z)


def ackley(x: Sequence[float]) -> float:
    """Ackley (a=20, b=0.2, c=2 pi); minimum 0 at the origin."""
    v = np.asarray(x, dtype=float)
    a = -20 * math.exp(-0.2 * math.sqrt(float(np.mean(v**2))))
    return a - math.exp(float(np.mean(np.cos(2 * math.pi * v)))) + 20 + math.e


def rosenbrock(x: Sequence[float]) -> float:
    """Rosenbrock; minimum 0 at (1, ..., 1)."""
    v = np.asarray(x, dtype=float)
    return float(np.sum(100 * (v[1:] - v[:-1] ** 2) ** 2 + (v[:-1] - 1) ** 2))


def levy(x: Sequence[float]) -> float:
    """Levy; minimum 0 at (1, ..., 1)."""
    w = 1 + (np.asarray(x, dtype=float) - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    body = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + body + tail)


def styblinski_tang(x: Sequence[float]) -> float:
    """Styblinski-Tang; minimum -39.16617 d at (-2.903534, ...)."""
    v = np.asarray(x, dtype=float)
    return float(0.5 * np.sum(v**4 - 16 * v**2 + 5 * v))


def michalewicz(x: Sequence[float]) -> float:
    """Michalewicz (m=10) on ``[0, pi]^d``; minimum -1.8013 (d=2), -4.687658 (d=5)."""
    v = np.asarray(x, dtype=float)
    i = np.arange(1, len(v) + 1)
    return float(-np.sum(np.sin(v) * np.sin(i * v**2 / math.pi) ** 20))


STYBLINSKI_TANG_MIN_PER_DIM = -39.16616570377142
MICHALEWICZ_MIN = {2: -1.8013034, 5: -4.687658, 10: -9.66015}


@dataclass(frozen=True)
class _Vector:
    """Adapts a function of a vector to one of named parameters x0, x1, ..."""

    function: Callable[[Sequence[float]], float]
    dim: int

    def __call__(self, values: Mapping[str, Any]) -> float:
        return self.function([values[f"x{i}"] for i in range(self.dim)])


def _box(
    name: str,
    fn: Callable[[Sequence[float]], float],
    bounds: Sequence[tuple[float, float]],
    best: float,
    note: str = "",
    family: str = "synthetic",
) -> Problem:
    params = tuple(Param(f"x{i}", "float", lo, hi) for i, (lo, hi) in enumerate(bounds))
    budget = 100 if len(bounds) <= 3 else 200
    return Problem(name, family, params, _Vector(fn, len(bounds)), best, budget, note)


def _synthetic() -> list[Problem]:
    return [
        _box("Branin", branin, [(-5, 10), (0, 15)], 0.397887, "analytic"),
        _box("Hartmann3", hartmann3, [(0, 1)] * 3, -3.86278, "analytic"),
        _box("Hartmann6", hartmann6, [(0, 1)] * 6, -3.32237, "analytic"),
        _box("Ackley5", ackley, [(-10, 25)] * 5, 0.0, "analytic; box shifted off-centre"),
        _box("Ackley10", ackley, [(-10, 25)] * 10, 0.0, "analytic; box shifted off-centre"),
        _box("Rosenbrock4", rosenbrock, [(-5, 10)] * 4, 0.0, "analytic"),
        _box("Rosenbrock20", rosenbrock, [(-5, 10)] * 20, 0.0, "analytic"),
        _box("Levy10", levy, [(-10, 10)] * 10, 0.0, "analytic"),
        _box(
            "StyblinskiTang8",
            styblinski_tang,
            [(-5, 5)] * 8,
            8 * STYBLINSKI_TANG_MIN_PER_DIM,
            "analytic",
        ),
        _box("Michalewicz5", michalewicz, [(0, math.pi)] * 5, MICHALEWICZ_MIN[5], "analytic"),
        # For the continuous comparison at larger budgets (samplers.py --continuous).
        _box("Ackley40", ackley, [(-10, 25)] * 40, 0.0, "analytic; box shifted off-centre"),
        _box(
            "StyblinskiTang40",
            styblinski_tang,
            [(-5, 5)] * 40,
            40 * STYBLINSKI_TANG_MIN_PER_DIM,
            "analytic",
        ),
    ]


# Mixed and conditional problems, closed form ----------------------------------------------

_ACTIVATION_PENALTY = {"relu": 0.0, "tanh": 0.3, "sigmoid": 1.0}


def mixed_net(v: Mapping[str, Any]) -> float:
    """A smooth stand-in for a network's validation loss; minimum 0.

    The best learning rate depends on the width (``log10 lr* = -3 - (log2 width - 5) / 4``),
    so the two must be tuned together. Minimum at lr=1e-3, width=32, layers=3,
    dropout=0.25, activation="relu".
    """
    w = math.log2(v["width"]) - 5
    u = math.log10(v["lr"]) + 3 + 0.25 * w
    return (
        u**2
        + 0.05 * w**2
        + 0.05 * (v["layers"] - 3) ** 2
        + 2 * (v["dropout"] - 0.25) ** 2
        + _ACTIVATION_PENALTY[v["activation"]]
    )


BRANCH_B_SHIFT = -4.0


def switch(v: Mapping[str, Any]) -> float:
    """A categorical choosing between two functions with their own parameters.

    ``"hartmann3"``: Hartmann-3 on a0..a2 (minimum -3.86278); ``"branin"``: Branin on
    b0, b1 scaled by 0.1 and shifted by -4 (minimum 0.0397887 - 4 = -3.9602113). The
    better branch is Branin's, whose random values are worse on average.
    """
    if v["branch"] == "hartmann3":
        return hartmann3([v["a0"], v["a1"], v["a2"]])
    return 0.1 * branin([v["b0"], v["b1"]]) + BRANCH_B_SHIFT


_LAYER_TARGETS = (7.0, 6.0, 5.0)  # log2 of the best units per layer: 128, 64, 32
_DEPTH_PENALTY = {1: 0.5, 2: 0.15, 3: 0.0}


def nas_like(v: Mapping[str, Any]) -> float:
    """A network-shape search: depth switches layer widths on, the optimizer momentum.

    Minimum -0.05 at depth=3, units 128/64/32, optimizer="sgd", lr=10**-1.5,
    momentum=0.9, weight_decay=1e-4; Adam's best is 0 (lr=1e-3), one layer fewer costs
    0.15.
    """
    depth = v["depth"]
    loss = _DEPTH_PENALTY[depth]
    for i in range(depth):
        loss += 0.05 * (math.log2(v[f"units{i + 1}"]) - _LAYER_TARGETS[i]) ** 2
    lr = math.log10(v["lr"])
    if v["optimizer"] == "adam":
        loss += 0.3 * (lr + 3) ** 2
    else:
        loss += 0.3 * (lr + 1.5) ** 2 + 1.5 * (v["momentum"] - 0.9) ** 2 - 0.05
    return loss + 0.1 * (math.log10(v["weight_decay"]) + 4) ** 2


def _mixed() -> list[Problem]:
    net = (
        Param("lr", "float", 1e-5, 1.0, log=True),
        Param("width", "int", 1, 1024, log=True),
        Param("layers", "int", 1, 8),
        Param("dropout", "float", 0.0, 0.9),
        Param("activation", "categorical", choices=("relu", "tanh", "sigmoid")),
    )
    a = ("hartmann3",)
    b = ("branin",)
    two = (
        Param("branch", "categorical", choices=("hartmann3", "branin")),
        *(Param(f"a{i}", "float", 0.0, 1.0, parent="branch", when=a) for i in range(3)),
        Param("b0", "float", -5.0, 10.0, parent="branch", when=b),
        Param("b1", "float", 0.0, 15.0, parent="branch", when=b),
    )
    nas = (
        Param("depth", "categorical", choices=(1, 2, 3)),
        Param("optimizer", "categorical", choices=("adam", "sgd")),
        Param("units1", "int", 8, 512, log=True),
        Param("units2", "int", 8, 512, log=True, parent="depth", when=(2, 3)),
        Param("units3", "int", 8, 512, log=True, parent="depth", when=(3,)),
        Param("lr", "float", 1e-5, 1.0, log=True),
        Param("momentum", "float", 0.0, 0.99, parent="optimizer", when=("sgd",)),
        Param("weight_decay", "float", 1e-6, 1e-1, log=True),
    )
    switch_best = 0.1 * 0.397887 + BRANCH_B_SHIFT
    return [
        Problem("MixedNet", "mixed", net, mixed_net, 0.0, 100, "int, log int, log float, cat"),
        Problem("Switch", "mixed", two, switch, switch_best, 100, "cat switches sub-spaces"),
        Problem("NASLike", "mixed", nas, nas_like, -0.05, 100, "conditional widths, momentum"),
    ]


# Held-out problems: for checking hptune's defaults on problems they were not chosen on ----


def griewank(x: Sequence[float]) -> float:
    """Griewank's function; minimum 0 at the origin."""
    v = np.asarray(x, dtype=float)
    i = np.arange(1, len(v) + 1)
    return float(1 + np.sum(v**2) / 4000 - np.prod(np.cos(v / np.sqrt(i))))


def rastrigin(x: Sequence[float]) -> float:
    """Rastrigin's function; minimum 0 at the origin."""
    v = np.asarray(x, dtype=float)
    return float(10 * len(v) + np.sum(v**2 - 10 * np.cos(2 * math.pi * v)))


SCHWEFEL_ARGMIN = 420.968746


def schwefel(x: Sequence[float]) -> float:
    """Schwefel's function (2.26); minimum about 0 at ``x_i = 420.968746``."""
    v = np.asarray(x, dtype=float)
    return float(418.9828872724338 * len(v) - np.sum(v * np.sin(np.sqrt(np.abs(v)))))


def alpine(x: Sequence[float]) -> float:
    """The Alpine (No. 1) function; minimum 0 at the origin."""
    v = np.asarray(x, dtype=float)
    return float(np.sum(np.abs(v * np.sin(v) + 0.1 * v)))


_OPTIMIZER_LR = {"adam": -3.3, "sgd": -1.5, "rmsprop": -3.7}  # log10 of the best lr
_OPTIMIZER_PENALTY = {"adam": 0.0, "sgd": 0.05, "rmsprop": 0.2}


def train_like(v: Mapping[str, Any]) -> float:
    """A training-like loss; minimum 0 at adam, lr=10**-3.3, batch=128, wd=1e-4, 3 layers.

    Each optimizer has its own best learning rate; SGD's momentum is conditional on it
    (best 0.9, and its best loss is 0.05); larger batches want a larger learning rate.
    """
    opt = v["optimizer"]
    b = math.log2(v["batch_size"]) - 7
    u = math.log10(v["lr"]) - _OPTIMIZER_LR[opt] - 0.15 * b
    loss = 0.4 * u**2 + 0.03 * b**2 + _OPTIMIZER_PENALTY[opt]
    if opt == "sgd":
        loss += 2.0 * (v["momentum"] - 0.9) ** 2
    return loss + 0.08 * (math.log10(v["weight_decay"]) + 4) ** 2 + 0.1 * abs(v["layers"] - 3)


def _heldout() -> list[Problem]:
    train = (
        Param("optimizer", "categorical", choices=("adam", "sgd", "rmsprop")),
        Param("lr", "float", 1e-6, 1.0, log=True),
        Param("batch_size", "int", 16, 1024, log=True),
        Param("momentum", "float", 0.0, 0.99, parent="optimizer", when=("sgd",)),
        Param("weight_decay", "float", 1e-7, 1e-1, log=True),
        Param("layers", "int", 1, 6),
    )
    held = "heldout"
    return [
        _box("Griewank8", griewank, [(-30, 70)] * 8, 0.0, "analytic; box off-centre", held),
        _box("Rastrigin6", rastrigin, [(-3, 7)] * 6, 0.0, "analytic; box off-centre", held),
        _box("Schwefel4", schwefel, [(-500, 500)] * 4, schwefel([SCHWEFEL_ARGMIN] * 4), "", held),
        _box("Alpine6", alpine, [(-4, 10)] * 6, 0.0, "analytic; box off-centre", held),
        Problem("TrainLike", held, train, train_like, 0.0, 100, "cat, conditional, log int"),
    ]


def all_problems() -> dict[str, Problem]:
    """Every problem by name: synthetic, mixed, sklearn, then the held-out ones."""
    from sklearn_problems import sklearn_problems

    problems = [*_synthetic(), *_mixed(), *sklearn_problems(), *_heldout()]
    return {p.name: p for p in problems}


def get_problem(name: str) -> Problem:
    """The problem called ``name``; an unknown name lists the valid ones."""
    problems = all_problems()
    if name not in problems:
        raise KeyError(f"unknown problem {name!r}; valid names: {', '.join(problems)}.")
    return problems[name]


def main() -> None:
    for p in all_problems().values():
        best = "unknown" if p.best_known is None else f"{p.best_known:.6g}"
        print(f"{p.name:28} {p.family:9} d={p.dim:<3} budget={p.budget:<4} best={best}  {p.note}")


if __name__ == "__main__":
    main()
