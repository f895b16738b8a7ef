"""The automatic default: a strategy chosen for each trial from what the study looks like.

``"auto"`` is what :func:`hptune.create_study` uses when no sampler is named. For each
trial it looks at the joint space, the number of objectives, how many trials are finished
or running, and (when given) the planned budget, picks one of hptune's samplers, and lets
it propose. The rule, and the benchmark figures it rests on
(``benchmarks/results/samplers.md``, ``benchmarks/results/multiobjective.md``). These
figures are **in-sample**: the rule was chosen on those problems and seeds. The held-out
sections of ``samplers.md`` check it on problems and seeds it was not chosen on.

* **Several objectives: multi-objective TPE** while fewer than ``evolution_after``
  trials are finished, then **NSGA-II** (``"evolution"``). On ZDT1-3 and DTLZ2 at 1,000
  evaluations and an MLP's error against its size (5 seeds), this schedule reached a mean
  normalized hypervolume of 0.79, against 0.71 for MOTPE alone, 0.71 for NSGA-II alone
  and 0.60 for Optuna's best (its TPE).
* **One objective, early: the Gaussian process** (``"gp"``) until ``gp_trials`` trials
  are finished or running. At 50 evaluations (15 problems, 5 seeds) it scored 94.2, the
  best of all samplers measured (Nevergrad's NGOpt 92.7, hptune's and Optuna's TPE 86.8,
  Optuna's GP 86.5), and a proposal costs well under 0.1 s up to a few hundred trials.
* **One objective, later: TPE** (``"tpe"``), whose cost per proposal stays flat (about
  1-2 ms at 1,000 trials, against tens for the GP) and whose model copes with conditional
  and categorical spaces of any size.
* **CMA-ES** (``"cmaes"``) when the space has only floats and integers, none conditional,
  and the planned budget is at least ``cmaes_budget``. With at least ``cmaes_per_dim``
  trials per parameter it runs the whole study; with fewer it takes over from the GP,
  started at the best trial with a step of a tenth of each range. On 7 continuous
  problems at 300-1,000 evaluations (5 seeds) CMA-ES alone scored 91.6 and TPE 84.0.
  GP-then-CMA-ES was ahead where the budget is short for the dimension (Ackley-40 and
  Styblinski-Tang-40 at 1,000 evaluations, 25 per parameter: 80.1 and 80.4 against 78.1
  and 78.2), and behind where it is long (Ackley-10 and Styblinski-Tang-8 at 500, 50 and
  62 per parameter: 90.3 and 87.5 against 92.4 and 92.6; there the GP settles in a local
  basin that a small CMA-ES step does not leave). The threshold of 40 per parameter lies
  between the two; with it this default scored 92.1, ahead of CMA-ES alone (91.6) and
  Optuna's (91.5).
* A study with many trials running at once (``parallel_trials`` or more) skips the GP:
  its proposals cost more with every pending point, while TPE's constant liar stays
  cheap (with 8 pending both kept 99% of their sequential score).

The choice is recorded on each trial as the system attribute ``"auto:sampler"``, so a
study shows what was used when; it depends on the history only, so a resumed study or
another worker makes the same choice.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from hptune.history import FinishedReader, HistoryView, as_view
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.samplers.base import Proposal, ProposalRequest, Sampler
from hptune.samplers.cmaes import CmaEsSampler
from hptune.samplers.evolution import EvolutionSampler
from hptune.samplers.gp import GPSampler
from hptune.samplers.tpe import TPESampler
from hptune.space import Categorical, Distribution
from hptune.validation import check_int

__all__ = ["AutoSampler"]

#: The system attribute that records the choice.
CHOICE_ATTR = "auto:sampler"

# CMA-ES taking over from the GP starts at the best trial with this step size (a fraction
# of each range): on Rosenbrock-20 at 1,000 evaluations, 0.2 and 0.3 lost the GP's head
# start (final best 62-304 and 91-114 against 25-32 for CMA-ES alone); 0.1 kept it.
_CMAES_SIGMA0 = 0.1


class AutoSampler(Sampler):
    """Pick a sampler for each trial from the space, objectives, history and workers.

    Args:
        seed: makes the proposals reproducible; None draws a fresh seed.
        gp_trials: trials (finished or running) proposed by the Gaussian process before
            TPE (or CMA-ES) takes over, for one objective.
        cmaes_trials: with a purely numeric, unconditional space, CMA-ES takes over from
            this many trials on, when ``n_trials`` says the study will reach
            ``cmaes_budget`` trials; None never uses CMA-ES.
        cmaes_budget: the planned budget from which CMA-ES is worth it.
        cmaes_per_dim: with a planned budget of at least this many trials per parameter
            (and at least ``cmaes_budget``), CMA-ES runs the whole study from its first
            trial instead of taking over from the GP.
        evolution_after: finished trials after which a multi-objective study moves from
            TPE to NSGA-II.
        parallel_trials: running trials from which the GP is skipped.
        n_trials: the planned number of trials, when known.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(seed=0)  # "auto" is the default
        >>> _ = study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.5) ** 2,
        ...                    n_trials=12, show_progress=False)
        >>> study.trials[-1].system_attrs["auto:sampler"]
        'gp'
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        gp_trials: int = 200,
        cmaes_trials: int | None = 200,
        cmaes_budget: int = 500,
        cmaes_per_dim: int = 40,
        evolution_after: int = 500,
        parallel_trials: int = 16,
        n_trials: int | None = None,
    ) -> None:
        counts = {
            "gp_trials": gp_trials,
            "cmaes_budget": cmaes_budget,
            "cmaes_per_dim": cmaes_per_dim,
            "evolution_after": evolution_after,
            "parallel_trials": parallel_trials,
        }
        if cmaes_trials is not None:
            counts["cmaes_trials"] = cmaes_trials
        if n_trials is not None:
            counts["n_trials"] = n_trials
        for name, value in counts.items():
            check_int("AutoSampler", name, value)
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        self.gp_trials = gp_trials
        self.cmaes_trials = cmaes_trials
        self.cmaes_budget = cmaes_budget
        self.cmaes_per_dim = cmaes_per_dim
        self.evolution_after = evolution_after
        self.parallel_trials = parallel_trials
        self.n_trials = n_trials
        self._init_children()

    def _init_children(self) -> None:
        self._lock = threading.Lock()
        self._tpe = TPESampler(seed=self.seed)
        self._gp = GPSampler(seed=self.seed)
        self._evolution = EvolutionSampler(seed=self.seed)
        self._cmaes: tuple[int, CmaEsSampler] | None = None  # (first trial, sampler)
        self._facts = _Facts()

    def __repr__(self) -> str:
        return (
            f"AutoSampler(seed={self.seed}, gp_trials={self.gp_trials}, "
            f"cmaes_trials={self.cmaes_trials}, cmaes_budget={self.cmaes_budget}, "
            f"cmaes_per_dim={self.cmaes_per_dim}, "
            f"evolution_after={self.evolution_after}, "
            f"parallel_trials={self.parallel_trials}, n_trials={self.n_trials})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_children()

    def infer_space(self, history: Sequence[FrozenTrial]) -> dict[str, Distribution]:
        """The union of the finished trials' parameters (conditional ones too)."""
        return self._tpe.infer_space(history)

    def propose_one(self, request: ProposalRequest, name: str, distribution: Distribution) -> Any:
        """A parameter outside the joint space: drawn at random (seeded), as TPE does.

        The first trial of a define-by-run study has no joint space yet: it is recorded
        with the choice ``"random"``.
        """
        return self._tpe.propose_one(request, name, distribution)

    def propose(self, request: ProposalRequest) -> Proposal:
        if not request.space:  # the first trials of a define-by-run study
            return Proposal({}, attrs={CHOICE_ATTR: "random"})
        name = self.choose(request)
        proposal = self._sampler(name, request).propose(request)
        return Proposal(proposal.params, proposal.claim, {**proposal.attrs, CHOICE_ATTR: name})

    def choose(self, request: ProposalRequest) -> str:
        """Return the name of the sampler for ``request`` (recorded on the trial)."""
        history = as_view(request.history)
        n_finished = history.n_finished
        n_running = len(history.running())
        if len(request.directions) > 1:
            return "evolution" if n_finished >= self.evolution_after else "tpe"
        if self.cmaes_trials is not None and request.space:
            if self._first_cmaes(history) is not None:
                return "cmaes"  # once CMA-ES took over it keeps the study
            budget = request.n_trials if request.n_trials is not None else self.n_trials
            if (
                budget is not None
                and budget >= self.cmaes_budget
                and (n_finished >= self.cmaes_trials or budget >= self._cmaes_from_start(request))
                and self._numeric_and_unconditional(request)
            ):
                return "cmaes"
        if n_running >= self.parallel_trials:
            return "tpe"
        if n_finished + n_running < self.gp_trials:
            return "gp"
        return "tpe"

    def _first_cmaes(self, history: HistoryView) -> int | None:
        """The number of the first trial proposed by CMA-ES (finished or not), or None."""
        with self._lock:
            self._facts.read(history)
            first = self._facts.first_cmaes
        for trial in history.unfinished():
            if trial.system_attrs.get(CHOICE_ATTR) == "cmaes":
                if first is None or trial.number < first:
                    first = trial.number
                break  # ordered by number: the first unfinished one is the earliest
        return first

    def _numeric_and_unconditional(self, request: ProposalRequest) -> bool:
        """Floats and integers only, and every complete trial used all of them."""
        space: Mapping[str, Distribution] = request.space
        if any(isinstance(d, Categorical) for d in space.values()):
            return False
        with self._lock:
            self._facts.read(request.history)
            common = self._facts.common
        return common is None or set(space) <= common

    def _cmaes_from_start(self, request: ProposalRequest) -> int:
        """The planned budget from which CMA-ES runs the whole study (no GP first)."""
        return self.cmaes_per_dim * len(request.space)

    def _sampler(self, name: str, request: ProposalRequest) -> Sampler:
        if name == "tpe":
            return self._tpe
        if name == "gp":
            return self._gp
        if name == "evolution":
            return self._evolution
        return self._cmaes_sampler(request)

    def _cmaes_sampler(self, request: ProposalRequest) -> CmaEsSampler:
        """CMA-ES as it took over: at the best trial the GP (or TPE) found, or afresh.

        Both are read from the history (the first CMA-ES trial and the choices before
        it), so a resumed study or another worker rebuilds the same sampler.
        """
        start = self._first_cmaes(as_view(request.history))
        start = request.number if start is None else start
        with self._lock:
            if self._cmaes is not None and self._cmaes[0] == start:
                return self._cmaes[1]
            guided = any(
                t.number < start and t.system_attrs.get(CHOICE_ATTR) in ("gp", "tpe")
                for t in request.history
            )
            if not guided:  # CMA-ES runs the whole study: its own defaults
                sampler = CmaEsSampler(seed=self.seed)
            else:
                before = [
                    t
                    for t in request.history
                    if t.number < start and t.state is TrialState.COMPLETE and t.feasible
                ]
                sign = 1.0 if request.directions[0] is StudyDirection.MINIMIZE else -1.0
                best = min(before, key=lambda t: sign * (t.values or (math.inf,))[0], default=None)
                x0 = None if best is None else dict(best.params)
                sampler = CmaEsSampler(seed=self.seed, x0=x0, sigma0=_CMAES_SIGMA0)
            self._cmaes = (start, sampler)
            return sampler


class _Facts:
    """What ``auto`` needs of the finished trials, taken in as they finish."""

    def __init__(self) -> None:
        self.reader = FinishedReader()
        self.generation = 0
        self.first_cmaes: int | None = None  # the first finished trial proposed by CMA-ES
        self.common: set[str] | None = None  # the parameters every complete trial used

    def read(self, history: Sequence[FrozenTrial]) -> None:
        fresh = self.reader.new_finished(history)
        if self.reader.generation != self.generation:
            self.generation, self.first_cmaes, self.common = self.reader.generation, None, None
        for trial in fresh:
            if trial.system_attrs.get(CHOICE_ATTR) == "cmaes" and (
                self.first_cmaes is None or trial.number < self.first_cmaes
            ):
                self.first_cmaes = trial.number
            if trial.state is TrialState.COMPLETE:
                names = set(trial.params)
                self.common = names if self.common is None else self.common & names
