"""The ask protocol: start a trial (or an enqueued one), propose its parameters, claim.

:meth:`hptune.Study.ask` and :meth:`hptune.Trial.suggest_float` (for parameters met
inside the objective) run these functions; they read the study's history view and write
through its storage.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hptune.exceptions import SearchSpaceExhausted, StorageError
from hptune.history import HistoryView
from hptune.leases import reap_lost_trials
from hptune.records import FrozenTrial, TrialState
from hptune.samplers import Proposal, ProposalRequest
from hptune.space import Distribution, parse_space
from hptune.tell import finish
from hptune.trial import Trial

if TYPE_CHECKING:
    from hptune.study import Study

__all__ = ["MAX_CLAIM_ATTEMPTS", "ask", "propose_one"]

# How often ask() proposes again when another worker claimed the proposed point first.
MAX_CLAIM_ATTEMPTS = 1000


def ask(study: Study, space: Mapping[str, Any] | None = None, *, leased: bool = False) -> Trial:
    """Start a trial and return its handle; see :meth:`hptune.Study.ask`.

    ``leased``: the caller sends heartbeats for the trial (a worker of ``optimize``); its
    first heartbeat is written with the trial, so that the trial of a worker that dies
    at once is found by the reaper.
    """
    parsed = None if space is None else parse_space(space)
    with study._ask_lock:
        _reap_lost_trials(study)
        record = study.storage.pop_waiting_trial(study.study_id, heartbeat=leased)
        fixed = {} if record is None else dict(record.system_attrs.get("fixed_params", {}))
        history = study._read()
        joint = parsed if parsed is not None else study.sampler.infer_space(history)
        joint = {k: d for k, d in joint.items() if k not in fixed}
        number = len(history) if record is None else record.number
        proposal = _propose(study, record, number, joint, history)
        recorded: Proposal | None = None
        if record is None:
            # A declarative space is stored with the trial, in one transaction.
            params = None
            if parsed is not None and proposal.claim is None:
                params = {k: (joint[k], v) for k, v in proposal.params.items()}
                recorded = proposal
            record = study.storage.create_trial(
                study.study_id,
                params=params,
                expected_number=number,
                system_attrs=proposal.attrs if recorded is not None else None,
                heartbeat=leased,
            )
            if record.number != number:  # another worker started a trial meanwhile
                history = study._read()
                proposal = _propose(study, record, record.number, joint, history)
        proposal = _claim(study, record, joint, proposal)
        if proposal is not recorded:
            # Attributes written with a proposal that was then replaced are voided.
            stale = dict.fromkeys(recorded.attrs if recorded is not None else ())
            for key, value in {**stale, **proposal.attrs}.items():
                study.storage.set_trial_attr(record.trial_id, key, value, system=True)
                record.system_attrs[key] = value
        for key, value in record.system_attrs.get("enqueued_user_attrs", {}).items():
            study.storage.set_trial_attr(record.trial_id, key, value)
            record.user_attrs[key] = value
    proposed = {k: (joint[k], v) for k, v in proposal.params.items()}
    trial = Trial(study, record, proposed, history)
    if parsed:
        trial.suggest_space(parsed)
    return trial


def _reap_lost_trials(study: Study) -> None:
    # Every half grace period at most: a lost trial is found within 1.5 grace periods.
    now = time.monotonic()
    if now >= study._next_reap:
        study._next_reap = now + study.leases.grace / 2
        reap_lost_trials(study.storage, study.study_id, study.leases)


def _request(
    study: Study,
    number: int,
    space: Mapping[str, Distribution],
    history: HistoryView,
    params: Mapping[str, Any] | None = None,
) -> ProposalRequest:
    others = history.without(number)  # no copy: the view leaves the trial out
    # Rungs matter to joint proposals only; propose_one (empty space) skips them.
    budgets = study.pruner.budgets(others) if study.pruner is not None and space else ()
    return ProposalRequest(
        number,
        space,
        others,
        study.directions,
        dict(params or {}),
        tuple(budgets),
        study._planned_trials,
    )


def _propose(
    study: Study,
    record: FrozenTrial | None,
    number: int,
    joint: Mapping[str, Distribution],
    history: HistoryView,
) -> Proposal:
    """Ask the sampler; if the space is exhausted, fail the trial started for it."""
    try:
        return study.sampler.propose(_request(study, number, joint, history))
    except SearchSpaceExhausted:
        if record is not None:
            finish(study, record.trial_id, TrialState.FAIL, None, "search space exhausted")
        raise


def _claim(
    study: Study, record: FrozenTrial, joint: Mapping[str, Distribution], proposal: Proposal
) -> Proposal:
    for _ in range(MAX_CLAIM_ATTEMPTS):
        if proposal.claim is None or study.storage.claim(
            study.study_id, record.trial_id, proposal.claim
        ):
            return proposal
        proposal = _propose(study, record, record.number, joint, study._read())
    raise StorageError(
        f"trial {record.number}: {MAX_CLAIM_ATTEMPTS} proposals were all claimed by other "
        "trials; the sampler keeps proposing taken points."
    )


def propose_one(study: Study, trial: Trial, name: str, distribution: Distribution) -> Any:
    """Ask the sampler for one parameter met inside the objective (used by Trial).

    The sampler sees the history as it stood when the trial started: proposals
    inside one trial do not reread the storage.
    """
    seen = trial._history
    history = seen if isinstance(seen, HistoryView) else study._read()
    request = _request(study, trial.number, {}, history, trial.params)
    return study.sampler.propose_one(request, name, distribution)
