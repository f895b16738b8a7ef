"""Export trials to CSV, JSON and pandas: one flat row per trial."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from hptune.exceptions import ConfigurationError
from hptune.records import FrozenTrial, StudyDirection

if TYPE_CHECKING:
    import pandas

__all__ = [
    "FORMATS",
    "dump_trials",
    "to_dataframe",
    "trial_to_row",
    "trials_to_json",
    "write_trials",
]

FORMATS = ("csv", "json")


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def trial_to_row(trial: FrozenTrial) -> dict[str, Any]:
    """Flatten a trial: number, state, value(s), params_*, user_attrs_*, times, reason."""
    row: dict[str, Any] = {"number": trial.number, "state": trial.state.value}
    values = trial.values or ()
    if len(values) <= 1:
        row["value"] = values[0] if values else None
    else:
        row.update({f"values_{i}": v for i, v in enumerate(values)})
    row.update({f"params_{k}": v for k, v in sorted(trial.params.items())})
    row.update({f"user_attrs_{k}": v for k, v in sorted(trial.user_attrs.items())})
    row["datetime_start"] = _time(trial.datetime_start)
    row["datetime_complete"] = _time(trial.datetime_complete)
    duration = trial.duration
    row["duration_s"] = None if duration is None else duration.total_seconds()
    row["fail_reason"] = trial.fail_reason
    row["prune_reason"] = trial.prune_reason
    return row


def trials_to_json(
    trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection] = ()
) -> dict[str, Any]:
    """Return the full record of every trial as a JSON-able dict."""
    return {
        "directions": [d.value for d in directions],
        "trials": [
            {
                "number": t.number,
                "state": t.state.value,
                "values": list(t.values) if t.values is not None else None,
                "params": t.params,
                "distributions": {k: d.to_dict() for k, d in t.distributions.items()},
                "intermediate_values": [[s, v] for s, v in sorted(t.intermediate_values.items())],
                "user_attrs": t.user_attrs,
                "system_attrs": t.system_attrs,
                "datetime_start": _time(t.datetime_start),
                "datetime_complete": _time(t.datetime_complete),
            }
            for t in trials
        ],
    }


def dump_trials(
    trials: Sequence[FrozenTrial],
    stream: TextIO,
    format: str,
    *,
    directions: Sequence[StudyDirection] = (),
) -> None:
    """Write ``trials`` to a text stream as CSV (one flat row each) or JSON (full records)."""
    fmt = format.lower()
    if fmt not in FORMATS:
        raise ConfigurationError(f"export format must be one of {list(FORMATS)}, got {format!r}.")
    if fmt == "json":
        json.dump(trials_to_json(trials, directions), stream, indent=2)
        stream.write("\n")
        return
    rows = [trial_to_row(t) for t in trials]
    columns = list(dict.fromkeys(k for row in rows for k in row)) or ["number", "state", "value"]
    writer = csv.DictWriter(stream, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)


def write_trials(
    trials: Sequence[FrozenTrial],
    path: str | Path,
    *,
    format: str | None = None,
    directions: Sequence[StudyDirection] = (),
) -> Path:
    """Write ``trials`` to ``path``; the format comes from the suffix unless given."""
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ConfigurationError(
            f"export format must be one of {list(FORMATS)}, got {fmt or path.name!r}; "
            "pass format= (--format on the command line) or use a .csv or .json file name."
        )
    with path.open("w", newline="") as f:
        dump_trials(trials, f, fmt, directions=directions)
    return path


def to_dataframe(trials: Sequence[FrozenTrial]) -> pandas.DataFrame:
    """Return one row per trial as a pandas DataFrame (needs ``hptune[pandas]``)."""
    from hptune._extras import require

    pd = require("pandas", "pandas")
    return pd.DataFrame([trial_to_row(t) for t in trials])
