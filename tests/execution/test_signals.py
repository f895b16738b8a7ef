"""SIGTERM, SIGHUP and SIGINT to a worker: its trial ends in a terminal state, it exits fast."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import hptune as ht

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import hptune as ht

    def objective(trial):
        trial.suggest_float("x", 0, 1)
        Path(sys.argv[2]).write_text("started")
        time.sleep(60)
        return 0.0

    study = ht.create_study("s", sys.argv[1], load_if_exists=True, seed=0)
    study.optimize(objective, n_trials=1, show_progress=False)
    """
)


def run_until_started(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    url = f"sqlite:///{tmp_path / 's.db'}"
    marker = tmp_path / "started"
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), url, str(marker)], stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the worker never started its trial"
        time.sleep(0.05)
    return process, url


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_preemption_fails_the_trial_queues_a_retry_and_exits(
    tmp_path: Path, signum: signal.Signals
) -> None:
    process, url = run_until_started(tmp_path)
    sent = time.monotonic()
    process.send_signal(signum)
    assert process.wait(timeout=10) == 128 + signum
    assert time.monotonic() - sent < 5
    trials = ht.load_study("s", url).trials
    assert trials[0].state is ht.TrialState.FAIL
    assert signum.name in (trials[0].fail_reason or "")
    assert trials[1].state is ht.TrialState.WAITING
    assert trials[1].system_attrs["fixed_params"] == trials[0].params


def test_ctrl_c_fails_the_trial_without_retry(tmp_path: Path) -> None:
    process, url = run_until_started(tmp_path)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=10)
    assert time.monotonic() - sent < 5
    trials = ht.load_study("s", url).trials
    assert [t.state for t in trials] == [ht.TrialState.FAIL]
    assert "interrupted" in (trials[0].fail_reason or "")
