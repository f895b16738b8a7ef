"""Leases, as the execution layer knows them: see :mod:`hptune.leases`.

The policy lives below the study (which reaps lost trials at ``ask``); workers use its
:class:`~hptune.leases.Heartbeat`. Kept so that ``hptune.execution.leases`` imports work.
"""

from __future__ import annotations

from hptune.leases import Heartbeat, Leases, fail_and_retry, reap_lost_trials

__all__ = ["Heartbeat", "Leases", "fail_and_retry", "reap_lost_trials"]
