"""The optimize progress bar: trials done, best value, elapsed time."""

from __future__ import annotations

import sys
import threading
from typing import Any

from hptune.records import FrozenTrial, StudyDirection, TrialState


class ProgressBar:
    """A tqdm bar updated as trials finish; a no-op when disabled."""

    def __init__(
        self,
        *,
        enabled: bool | None,
        total: int | None,
        name: str,
        directions: tuple[StudyDirection, ...],
        best: float | None,
    ) -> None:
        self._lock = threading.Lock()
        self._directions = directions
        self._best = best
        self._bar: Any = None
        if enabled is None:
            enabled = sys.stderr.isatty()
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=name, unit=" trials", dynamic_ncols=True)
            self._show()

    @property
    def enabled(self) -> bool:
        """True when a bar is shown."""
        return self._bar is not None

    def update(self, trial: FrozenTrial) -> None:
        """Count a finished trial and refresh the best value."""
        if self._bar is None:
            return
        with self._lock:
            if (
                len(self._directions) == 1
                and trial.state is TrialState.COMPLETE
                and trial.values is not None
                and (self._best is None or self._directions[0].better(trial.values[0], self._best))
            ):
                self._best = trial.values[0]
            self._bar.update(1)
            self._show()

    def _show(self) -> None:
        if self._best is not None:
            self._bar.set_postfix_str(f"best={self._best:.6g}", refresh=True)

    def close(self) -> None:
        """Finish the bar's line."""
        if self._bar is not None:
            self._bar.close()
