"""The pruning round trip: a running trial's reports against the others', one read.

The trial's own record comes from its handle (which wrote all of it); the others come
from the study's history, advanced by what changed since its last read. The pruner's
attributes for the trial (a Hyperband bracket) are written once, at the first check
that returns them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hptune.study import Study
    from hptune.trial import Trial

__all__ = ["should_prune"]


def should_prune(study: Study, trial: Trial) -> bool:
    """Ask the study's pruner whether ``trial`` should stop (see Trial.should_prune).

    The trial's own record comes from its handle, which wrote all of it: the only
    read is the history's advance, which fetches what changed since the last one.
    """
    if study.pruner is None:
        return False
    record = trial.frozen()
    history = study._read().without(trial.number)
    attrs = {
        key: value
        for key, value in study.pruner.trial_attrs(record, history).items()
        if key not in record.system_attrs
    }
    if attrs:
        for key, value in attrs.items():
            study.storage.set_trial_attr(trial.trial_id, key, value, system=True)
        trial._remember_system_attrs(attrs)
        record = trial.frozen()
    return study.pruner.should_prune(record, history, study.directions)
