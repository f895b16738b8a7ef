"""The tell protocol: finish a trial once, with checked values, or as pruned or failed.

A NaN or infinite value fails the trial (the reason is stored); a value of the wrong type
or number is an error that changes nothing.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hptune.exceptions import InvalidValueError
from hptune.records import CONSTRAINTS_ATTR, FrozenTrial, TrialState
from hptune.trial import Trial
from hptune.validation import NotFiniteError, check_constraints, check_number

if TYPE_CHECKING:
    from hptune.study import Study

__all__ = ["finish", "tell"]


def tell(
    study: Study,
    trial: Trial | int,
    value: float | Sequence[float] | None = None,
    *,
    values: Sequence[float] | None = None,
    state: TrialState | str | None = None,
    constraints: Sequence[float] | None = None,
    reason: str | None = None,
) -> FrozenTrial:
    """Finish a trial once; see :meth:`hptune.Study.tell`.

    ``reason``: why a PRUNED trial was stopped (the message of ``TrialPruned``), stored
    as its ``prune_reason``.
    """
    trial_id = _trial_id(study, trial)
    extra: dict[str, Any] = {}
    if constraints is not None:
        extra[CONSTRAINTS_ATTR] = check_constraints(constraints)
    final = TrialState.parse(state) if state is not None else TrialState.COMPLETE
    if value is not None and values is not None:
        raise InvalidValueError("give value or values, not both.")
    given = values if values is not None else value
    if final is TrialState.COMPLETE:
        checked, reason = _check_values(study, given)
        if reason is not None:
            return finish(study, trial_id, TrialState.FAIL, None, reason, extra)
        return finish(study, trial_id, final, checked, None, extra)
    if given is not None:
        raise InvalidValueError(
            f"a {final.value} trial takes no value, got {given!r}; a pruned trial keeps "
            "its last reported value."
        )
    if final is TrialState.PRUNED:
        # The handle wrote every report it holds: no read. A trial told by number is read.
        reported = (
            trial.intermediate_values
            if isinstance(trial, Trial)
            else study.storage.get_trial(trial_id).intermediate_values
        )
        kept = [reported[max(reported)]] if reported else None
        if kept is not None and study.is_multi_objective:
            kept = None
        if reason:
            extra["prune_reason"] = reason
        return finish(study, trial_id, final, kept, None, extra)
    if final is TrialState.FAIL:
        return finish(study, trial_id, final, None, "told as failed", extra)
    raise InvalidValueError(f"tell needs a final state (complete, pruned, fail), got {final}.")


def _trial_id(study: Study, trial: Trial | int) -> int:
    if isinstance(trial, Trial):
        if trial.study is not study and trial.study.study_id != study.study_id:
            raise InvalidValueError(f"trial {trial.number} belongs to another study.")
        return trial.trial_id
    if isinstance(trial, numbers.Integral) and not isinstance(trial, bool):
        trial = int(trial)  # numpy integers too
        history = study._read()
        if 0 <= trial < len(history):  # numbers are gap-free: trial n sits at index n
            return history[trial].trial_id
        raise InvalidValueError(f"study {study.name!r} has no trial number {trial}.")
    raise InvalidValueError(f"tell needs a Trial or a trial number, got {trial!r}.")


def _check_values(study: Study, given: Any) -> tuple[list[float], str | None]:
    """Return the values as floats, or a failure reason for NaN/inf; raise on bad type."""
    n = len(study.directions)
    if given is None:
        raise InvalidValueError(
            f"a complete trial needs {'a value' if n == 1 else f'{n} values'}; got None."
        )
    items = _items(given)
    if len(items) != n:
        raise InvalidValueError(
            f"study {study.name!r} has {n} objective(s) but {len(items)} value(s) were given: "
            f"{given!r}."
        )
    checked: list[float] = []
    for item in items:
        try:
            checked.append(check_number("the objective value", item))
        except NotFiniteError:  # NaN, infinite or too large: the trial fails, reason stored
            return [], f"objective returned {_value_text(item)}"
        except InvalidValueError as e:
            if e.__cause__ is not None:  # a value that could not be read (a failed device)
                raise
            raise InvalidValueError(
                f"the objective value must be a number, got {item!r} of type "
                f"{type(item).__name__}; return a float (or a list of floats for "
                "several objectives)."
            ) from None
    return checked, None


def _items(given: Any) -> list[Any]:
    """The objective values in ``given``: a number, or a sequence, array or tensor of them."""
    if isinstance(given, (str, bytes, Mapping)):
        return [given]
    if isinstance(given, Sequence):
        return list(given)
    if getattr(given, "ndim", None) == 1:  # a numpy array or tensor of values
        return list(given)
    return [given]  # a number (a 0-d array or tensor too)


def _value_text(item: Any) -> str:
    try:
        return repr(float(item))
    except OverflowError:
        return "an integer too large for a float"


def finish(
    study: Study,
    trial_id: int,
    state: TrialState,
    values: Sequence[float] | None,
    reason: str | None,
    attrs: Mapping[str, Any] | None = None,
) -> FrozenTrial:
    """Move the trial to ``state`` once, recording ``reason`` as its failure reason."""
    attrs = dict(attrs or {})
    if reason is not None:
        attrs["fail_reason"] = reason
    return study.storage.finish_trial(trial_id, state, values, system_attrs=attrs)
