"""SIGTERM, SIGHUP and SIGINT to a worker: its trial ends in a terminal state, it exits fast.

"Fast" is measured against the objective, which would sleep for ten minutes: a worker
that exits within the generous wait below was cut short by the signal. No test asserts
a tight bound on the seconds it took, which a loaded machine can stretch.
"""

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
        time.sleep(600)
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


def wait_for_exit(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stderr = process.communicate()[1].decode(errors="replace")
        raise AssertionError(
            f"the worker did not exit within {timeout} s of the signal; stderr:\n{stderr}"
        ) from None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_preemption_fails_the_trial_queues_a_retry_and_exits(
    tmp_path: Path, signum: signal.Signals
) -> None:
    process, url = run_until_started(tmp_path)
    process.send_signal(signum)
    assert wait_for_exit(process) == 128 + signum
    trials = ht.load_study("s", url).trials
    assert trials[0].state is ht.TrialState.FAIL
    assert signum.name in (trials[0].fail_reason or "")
    assert trials[1].state is ht.TrialState.WAITING
    assert trials[1].system_attrs["fixed_params"] == trials[0].params


def test_ctrl_c_fails_the_trial_without_retry(tmp_path: Path) -> None:
    process, url = run_until_started(tmp_path)
    process.send_signal(signal.SIGINT)
    wait_for_exit(process)
    trials = ht.load_study("s", url).trials
    assert [t.state for t in trials] == [ht.TrialState.FAIL]
    assert "interrupted" in (trials[0].fail_reason or "")
