"""hptune: hyperparameter tuning for deep learning.

Example:
    >>> import hptune as ht
    >>> study = ht.create_study(direction="minimize", seed=0)
    >>> _ = study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 1) ** 2, n_trials=20,
    ...                    show_progress=False)
    >>> len(study.trials)
    20
"""

from __future__ import annotations

from hptune import execution as _execution  # noqa: F401 - registers the loop optimize runs
from hptune.exceptions import (
    ConfigurationError,
    DuplicatedStudyError,
    HptuneError,
    HptuneWarning,
    InvalidSpaceError,
    InvalidValueError,
    ObjectiveError,
    SchemaVersionError,
    SearchSpaceExhausted,
    StorageError,
    StorageURLError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
    TrialPruned,
    TrialStateError,
)
from hptune.leases import Leases
from hptune.pruners import (
    HyperbandPruner,
    MedianPruner,
    PatientPruner,
    PercentilePruner,
    Pruner,
    SuccessiveHalvingPruner,
)
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.samplers import (
    AutoSampler,
    CmaEsSampler,
    EvolutionSampler,
    GPSampler,
    GridSampler,
    QMCSampler,
    RandomSampler,
    Sampler,
    TPESampler,
)
from hptune.space import Categorical, Distribution, Float, Int
from hptune.stopping import (
    ConvergenceRule,
    MaxTrials,
    NoImprovement,
    StopReason,
    StopRule,
    TargetValue,
    Timeout,
)
from hptune.storage import InMemoryStorage, Storage
from hptune.study import Study, create_study, delete_study, list_studies, load_study
from hptune.trial import Trial

__version__ = "0.1.0"

__all__ = [
    "AutoSampler",
    "Categorical",
    "CmaEsSampler",
    "ConfigurationError",
    "ConvergenceRule",
    "Distribution",
    "DuplicatedStudyError",
    "EvolutionSampler",
    "Float",
    "FrozenTrial",
    "GPSampler",
    "GridSampler",
    "HptuneError",
    "HptuneWarning",
    "HyperbandPruner",
    "InMemoryStorage",
    "Int",
    "InvalidSpaceError",
    "InvalidValueError",
    "Leases",
    "MaxTrials",
    "MedianPruner",
    "NoImprovement",
    "ObjectiveError",
    "PatientPruner",
    "PercentilePruner",
    "Pruner",
    "QMCSampler",
    "RandomSampler",
    "Sampler",
    "SchemaVersionError",
    "SearchSpaceExhausted",
    "StopReason",
    "StopRule",
    "Storage",
    "StorageError",
    "StorageURLError",
    "Study",
    "StudyDirection",
    "StudyNotFoundError",
    "SuccessiveHalvingPruner",
    "TPESampler",
    "TargetValue",
    "Timeout",
    "Trial",
    "TrialFinishedError",
    "TrialNotFoundError",
    "TrialPruned",
    "TrialState",
    "TrialStateError",
    "__version__",
    "create_study",
    "delete_study",
    "list_studies",
    "load_study",
]
