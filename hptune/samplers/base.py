"""The sampler interface: history in, proposal out."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hptune.history import FinishedReader, as_view
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.seeding import trial_uniform
from hptune.space import Distribution

__all__ = ["Proposal", "ProposalRequest", "Sampler", "infer_space", "trial_uniform"]


@dataclass(frozen=True, slots=True)
class ProposalRequest:
    """Everything a sampler may use to propose parameters for one trial.

    Attributes:
        number: the number of the trial being proposed for (unique in the study).
        space: the parameters to propose, by name.
        history: every other trial of the study (finished, running and waiting),
            ordered by number. From a study it is a :class:`~hptune.history.HistoryView`
            (no copy): ``as_view(history).finished_since(n_seen)`` gives the trials that
            finished since a sampler's last look, and ``.memo`` holds what samplers
            derived from it already (encoded parameters). A plain list works too.
        directions: one per objective.
        params: what the trial holds already (for conditional, define-by-run spaces).
        budgets: the steps at which the study's pruner compares trials (its rungs), in
            increasing order; empty without a rung-based pruner. Model-based samplers
            fit their model at the highest budget enough trials reached (BOHB).
        n_trials: how many trials the study will hold when the running ``optimize`` call
            ends (None when unknown: ask/tell, or no ``n_trials`` limit). A hint for
            samplers that plan by budget (``auto``).
    """

    number: int
    space: Mapping[str, Distribution]
    history: Sequence[FrozenTrial]
    directions: tuple[StudyDirection, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    budgets: tuple[float, ...] = ()
    n_trials: int | None = None


@dataclass(frozen=True, slots=True)
class Proposal:
    """A sampler's answer: a value per parameter, an optional claim key, attributes.

    When ``claim`` is set the study gives the key to the trial through the storage; if
    another trial holds it already, the study asks again with a fresh history. This is
    how several workers avoid taking the same point of a finite space.

    ``attrs`` are JSON values the study records as the trial's system attributes with
    the proposal (a CMA-ES generation, the strategy ``auto`` chose), so that a sampler
    can rebuild its state from the history alone. Keys are prefixed by the sampler's
    name by convention (``"cmaes:generation"``).
    """

    params: dict[str, Any]
    claim: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


class Sampler(abc.ABC):
    """Propose parameters from the trial history.

    Contract: a sampler reads only its request and its own configuration (set in the
    constructor, never changed later). Given the same request and seed it returns the
    same proposal, so it behaves the same in one process or in many, and after a resume.
    Every returned value must belong to its distribution.
    """

    @abc.abstractmethod
    def propose(self, request: ProposalRequest) -> Proposal:
        """Propose a value for every parameter of ``request.space``.

        Raises:
            SearchSpaceExhausted: when a finite sampler has nothing left.
        """

    def propose_one(self, request: ProposalRequest, name: str, distribution: Distribution) -> Any:
        """Propose a value for a parameter met inside the objective (define-by-run).

        ``request.space`` is empty here and ``request.params`` holds the values the
        trial got so far. The default proposes a one-parameter space.
        """
        return self.propose(replace(request, space={name: distribution})).params[name]

    def infer_space(self, history: Sequence[FrozenTrial]) -> dict[str, Distribution]:
        """Return the space to propose jointly at ``ask`` time for a define-by-run study.

        The default is empty: every parameter is proposed when the objective asks for it.
        """
        return {}


def infer_space(history: Sequence[FrozenTrial]) -> dict[str, Distribution]:
    """Return the parameters every finished (complete or pruned) trial shares.

    A parameter whose distribution changed between trials is left out. Sorted by name.
    Kept in the history's memo and extended as trials finish, so an ask does not rescan
    the history.
    """
    view = as_view(history)
    with view.memo.lock:
        shared: _SharedSpace = view.memo.get(("shared-space",), _SharedSpace, keep=1)
        return shared.update(view)


class _SharedSpace:
    """The parameters every finished (complete or pruned) trial shares, kept up to date."""

    def __init__(self) -> None:
        self.reader = FinishedReader()
        self.space: dict[str, Distribution] | None = None

    def update(self, history: Sequence[FrozenTrial]) -> dict[str, Distribution]:
        for trial in self.reader.new_finished(history):
            if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED):
                continue
            if self.space is None:
                self.space = dict(trial.distributions)
            else:
                self.space = {
                    k: d for k, d in self.space.items() if trial.distributions.get(k) == d
                }
        return dict(sorted((self.space or {}).items()))
