"""The main demo end to end: a real PyTorch study on the digits data, stored in SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

import hptune as ht
from hptune.cli import EXIT_OK, main

pytest.importorskip("torch", reason="the demo needs PyTorch: pip install torch==2.13.0")
pytest.importorskip("sklearn", reason="the demo needs scikit-learn: pip install 'hptune[demo]'")

from hptune.demo import DigitsTask, run_demo, summarize


def test_demo_runs_resumes_and_tests_only_the_best(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = run_demo(storage=url, n_trials=3, max_epochs=3, pruner=None, show_progress=False)
    assert first.n_new_trials == 3
    assert 0.5 < first.val_accuracy <= 1.0  # 10 classes: chance is 0.1
    assert 0.5 < first.test_accuracy <= 1.0
    # Run again with a larger budget: the same study goes on where it stopped.
    second = run_demo(storage=url, n_trials=5, max_epochs=3, pruner=None, show_progress=False)
    assert second.n_new_trials == 2
    trials = ht.load_study("digits-mlp", url).trials
    assert [t.number for t in trials] == list(range(5))
    assert all(t.state is ht.TrialState.COMPLETE for t in trials)
    assert all(sorted(t.intermediate_values) == [1, 2, 3] for t in trials)
    assert set(trials[0].params) == {
        "lr",
        "width",
        "depth",
        "dropout",
        "weight_decay",
        "batch_size",
        "optimizer",
    }
    text = summarize(second)
    assert "test accuracy of the best configuration" in text
    assert "5 trials (2 new)" in text


def test_the_demo_prunes_with_asha_and_reports_the_epochs_saved(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run_demo(storage=url, n_trials=12, max_epochs=9, show_progress=False)
    trials = result.study.trials
    pruned = [t for t in trials if t.state is ht.TrialState.PRUNED]
    assert pruned, "ASHA stops the trials that fall behind at 1 and 3 epochs"
    assert all(t.last_step in (1, 3) for t in pruned)
    assert result.epochs_without_pruning == 12 * 9
    assert result.epochs_trained == sum(len(t.intermediate_values) for t in trials)
    assert result.epochs_trained < result.epochs_without_pruning
    assert "saved by stopping" in summarize(result)


def test_retraining_the_best_configuration_is_deterministic() -> None:
    task = DigitsTask(max_epochs=2, seed=0)
    params = {
        "lr": 1e-2,
        "width": 32,
        "depth": 1,
        "dropout": 0.1,
        "weight_decay": 1e-4,
        "batch_size": 64,
        "optimizer": "adam",
    }
    assert task.test_accuracy(params, seed=3) == task.test_accuracy(params, seed=3)
    val = list(task.fit(params, seed=3))
    assert len(val) == 2 and val == list(task.fit(params, seed=3))


def test_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    argv = ["demo", "--storage", url, "--n-trials", "2", "--epochs", "2", "--no-progress"]
    assert main(argv) == EXIT_OK
    out = capsys.readouterr().out
    assert "best configuration:" in out and "test accuracy" in out
    assert main([*argv, "--fresh"]) == EXIT_OK
    assert "2 trials (2 new)" in capsys.readouterr().out
