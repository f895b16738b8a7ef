"""Copy a study, with its attributes and trials, from one storage to another."""

from __future__ import annotations

from hptune.records import TrialState
from hptune.storage.base import Storage, StudyRecord

__all__ = ["copy_study"]


def copy_study(source: Storage, name: str, target: Storage) -> StudyRecord:
    """Copy study ``name`` from ``source`` into ``target`` (where the name must be free).

    Trials keep their numbers, states, parameters, values, intermediate values and
    attributes; start and completion times become the time of the copy. A RUNNING trial
    is copied as RUNNING, so its lease expires in the target unless its worker goes on.

    Raises:
        StudyNotFoundError: ``source`` has no study ``name``.
        DuplicatedStudyError: ``target`` has one already.
    """
    record = source.load_study(name)
    copy = target.create_study(name, record.directions)
    for key, value in record.user_attrs.items():
        target.set_study_attr(copy.study_id, key, value)
    for key, value in record.system_attrs.items():
        target.set_study_attr(copy.study_id, key, value, system=True)
    for trial in source.get_trials(record.study_id):
        if trial.state is TrialState.WAITING:  # an enqueued trial: all is in its attributes
            target.create_trial(copy.study_id, state=trial.state, system_attrs=trial.system_attrs)
            continue
        new = target.create_trial(copy.study_id, system_attrs=trial.system_attrs)
        params = {k: (trial.distributions[k], v) for k, v in trial.params.items()}
        target.set_trial_params(new.trial_id, params)
        for step, value in trial.intermediate_values.items():
            target.set_trial_intermediate(new.trial_id, step, value)
        for key, value in trial.user_attrs.items():
            target.set_trial_attr(new.trial_id, key, value)
        if trial.state.is_finished():
            target.finish_trial(new.trial_id, trial.state, trial.values)
    return target.load_study(name)
