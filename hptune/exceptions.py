"""Every exception and warning hptune raises.

The tree, grouped by what the caller should do::

    HptuneError
    ├── InvalidSpaceError (ValueError)        fix the search space
    ├── InvalidValueError (ValueError)        fix what the objective returns / tell receives
    ├── ConfigurationError (ValueError)       fix an argument (unknown name, bad direction, ...)
    ├── StorageError                          the storage is unreachable or inconsistent
    │   ├── StorageURLError (ValueError)      malformed URL, unknown scheme, missing directory
    │   ├── SchemaVersionError                database written by another schema version
    │   ├── StudyNotFoundError (KeyError)     no study of that name
    │   ├── DuplicatedStudyError              a study of that name exists already
    │   └── TrialNotFoundError (KeyError)
    ├── TrialStateError                       the trial is not in a state that allows this
    │   └── TrialFinishedError                finished already (tell twice, lost lease)
    ├── SearchSpaceExhausted                  the sampler has nothing left to propose (grid)
    └── TrialPruned                           raised inside an objective to stop the trial

    HptuneWarning (UserWarning)               something works but should be fixed
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DuplicatedStudyError",
    "HptuneError",
    "HptuneWarning",
    "InvalidSpaceError",
    "InvalidValueError",
    "ObjectiveError",
    "SchemaVersionError",
    "SearchSpaceExhausted",
    "StorageError",
    "StorageURLError",
    "StudyNotFoundError",
    "TrialFinishedError",
    "TrialNotFoundError",
    "TrialPruned",
    "TrialStateError",
]


class HptuneError(Exception):
    """Base class of every hptune error."""


class InvalidSpaceError(HptuneError, ValueError):
    """A distribution or a search space is malformed."""


class InvalidValueError(HptuneError, ValueError):
    """An objective value, intermediate value or parameter value is not acceptable."""


class ConfigurationError(HptuneError, ValueError):
    """An argument names something that does not exist or is out of range."""


class StorageError(HptuneError):
    """The storage failed or holds something hptune cannot use."""


class StorageURLError(StorageError, ValueError):
    """A storage URL is malformed, names an unknown scheme or an unusable place."""


class SchemaVersionError(StorageError):
    """The database was written by another version of hptune's schema."""


class StudyNotFoundError(StorageError, KeyError):
    """No study of the given name exists in the storage."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the sentence readable.
        return str(self.args[0]) if self.args else ""


class DuplicatedStudyError(StorageError):
    """A study of the given name exists already."""


class TrialNotFoundError(StorageError, KeyError):
    """No trial of the given id exists in the storage."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TrialStateError(HptuneError):
    """The trial's state does not allow the operation."""


class TrialFinishedError(TrialStateError):
    """The trial was finished already; its record does not change."""


class SearchSpaceExhausted(HptuneError):
    """The sampler has proposed every point of a finite space."""


class ObjectiveError(HptuneError):
    """The objective failed the same way on the first trials of an ``optimize`` call.

    Raised instead of going on when every one of the first trials failed with the same
    exception type and message: a bug in the objective, not a bad configuration. The
    message holds the last trial's traceback.
    """


class TrialPruned(HptuneError):
    """Raise inside an objective to stop the trial early; it is recorded as PRUNED."""


class HptuneWarning(UserWarning):
    """Something works but should be fixed; the text says how."""
