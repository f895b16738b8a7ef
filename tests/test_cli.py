"""The `hptune` command: every subcommand, its output and its exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hptune as ht
from hptune.cli import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, main


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A SQLite file holding a finished study 'demo' (10 trials) and an empty 'other'."""
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    study = ht.create_study("demo", storage, direction="maximize", seed=0)

    def objective(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.suggest_categorical("kind", ["a", "b"])
        if trial.number == 3:
            raise ValueError("bad luck")
        return x

    study.optimize(objective, n_trials=10, show_progress=False)
    ht.create_study("other", storage)
    return storage


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_studies_lists_every_study(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "studies", "--storage", url)
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["name", "directions", "trials"]
    assert any(line.split()[:3] == ["demo", "maximize", "10"] for line in lines)
    assert any(line.split()[:3] == ["other", "minimize", "0"] for line in lines)


def test_show_summarizes_and_names_the_best_trial(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    study = ht.load_study("demo", url)
    code, out, _ = run(capsys, "show", "demo", "--storage", url)
    assert code == EXIT_OK
    assert "trials: 10 (9 complete, 1 fail)" in out
    assert f"best trial: {study.best_trial.number}," in out
    assert "last stop: n_trials" in out


def test_show_of_a_study_without_complete_trials(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "show", "other", "--storage", url)
    assert code == EXIT_OK
    assert "none complete yet" in out


def test_trials_table_and_state_filter(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "trials", "demo", "--storage", url)
    assert code == EXIT_OK
    assert len(out.splitlines()) == 2 + 10  # header, rule, one line per trial
    assert "params_x" in out.splitlines()[0]
    code, out, _ = run(capsys, "trials", "demo", "--storage", url, "--state", "fail")
    assert code == EXIT_OK
    rows = out.splitlines()[2:]
    assert len(rows) == 1 and rows[0].split()[:2] == ["3", "fail"]
    code, out, _ = run(capsys, "trials", "demo", "--storage", url, "--limit", "2")
    assert [r.split()[0] for r in out.splitlines()[2:]] == ["8", "9"]


def test_export_csv_to_stdout(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "export", "demo", "--storage", url, "--format", "csv")
    assert code == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["number"]) for r in rows] == list(range(10))
    assert rows[3]["state"] == "fail" and rows[3]["fail_reason"] == "ValueError: bad luck"
    study = ht.load_study("demo", url)
    assert float(rows[0]["params_x"]) == study.trials[0].params["x"]


def test_export_json_to_a_file(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.json"
    code, _, err = run(
        capsys, "export", "demo", "--storage", url, "--format", "json", "-o", str(target)
    )
    assert code == EXIT_OK and "wrote 10 trials" in err
    data = json.loads(target.read_text())
    assert data["directions"] == ["maximize"]
    assert len(data["trials"]) == 10
    assert data["trials"][0]["distributions"]["x"] == {
        "type": "float",
        "low": 0.0,
        "high": 1.0,
        "log": False,
        "step": None,
    }


def test_delete_needs_confirmation_then_deletes(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal
    code, _, err = run(capsys, "delete", "demo", "--storage", url)
    assert code == EXIT_USAGE and "--yes" in err
    assert [s.name for s in ht.list_studies(url)] == ["demo", "other"]
    code, out, _ = run(capsys, "delete", "demo", "--storage", url, "--yes")
    assert code == EXIT_OK and "deleted study 'demo' (10 trials)" in out
    assert [s.name for s in ht.list_studies(url)] == ["other"]


@pytest.mark.parametrize("command", ["show", "trials", "export", "delete"])
def test_unknown_study_exits_3_and_names_the_known_ones(
    url: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--yes"] if command == "delete" else []
    code, _, err = run(capsys, command, "nope", "--storage", url, *extra)
    assert code == EXIT_NOT_FOUND
    assert "'nope'" in err and "'demo'" in err


def test_missing_database_file_exits_3_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing.db"
    code, _, err = run(capsys, "studies", "--storage", f"sqlite:///{path}")
    assert code == EXIT_NOT_FOUND and "no database at" in err
    assert not path.exists()


@pytest.mark.parametrize("bad", ["nosuchdb://x/y", "not a url"])
def test_bad_storage_url_exits_2(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "studies", "--storage", bad)
    assert code == EXIT_USAGE
    assert "hptune: error:" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as info:
        main(["export", "demo", "--format", "xml"])
    assert info.value.code == EXIT_USAGE


def test_storage_from_the_environment(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPTUNE_STORAGE", url)
    code, out, _ = run(capsys, "studies")
    assert code == EXIT_OK and "demo" in out


def test_the_installed_command_returns_the_exit_codes(url: str, tmp_path: Path) -> None:
    found = subprocess.run(
        [sys.executable, "-m", "hptune.cli", "show", "demo", "--storage", url],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "hptune.cli", "show", "x", "--storage", url],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert missing.returncode == EXIT_NOT_FOUND
    assert "no study named 'x'" in missing.stderr


def _foreign_sqlite(path: Path) -> bytes:
    import sqlite3

    with sqlite3.connect(path) as conn:  # another program's database (rollback journal)
        conn.execute("CREATE TABLE studies (study_id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO studies (name) VALUES ('theirs')")
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("command", [["studies"], ["show", "x"], ["trials", "x"]])
@pytest.mark.parametrize("kind", ["foreign", "empty"])
def test_read_commands_leave_a_database_that_is_not_hptunes_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], kind: str
) -> None:
    path = tmp_path / "other.db"
    before = _foreign_sqlite(path) if kind == "foreign" else b""
    if kind == "empty":
        path.write_bytes(b"")
    code, _, err = run(capsys, *command, "--storage", f"sqlite:///{path}")
    assert code == EXIT_ERROR
    assert "is not an hptune database" in err
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no -wal, no -shm


def test_a_postgres_database_without_hptune_tables_is_refused_unchanged(
    postgres_url_and_options: tuple[str, dict[str, Any]],
) -> None:
    import sqlalchemy as sa

    from hptune.storage.sql import SQLStorage

    url, options = postgres_url_and_options
    with pytest.raises(ht.StorageError, match="is not an hptune database"):
        SQLStorage(url, engine_kwargs=options, create=False)
    engine = sa.create_engine(url, **options)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()


def test_trials_shows_why_trials_failed_or_were_pruned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"

    def objective(trial: ht.Trial) -> float:
        if trial.number == 0:
            raise ht.TrialPruned("plateau after 3 epochs")
        raise KeyError("missing column")

    ht.create_study("r", url, sampler="random", seed=0).optimize(
        objective, n_trials=2, show_progress=False
    )
    code, out, _ = run(capsys, "trials", "r", "--storage", url, "--state", "pruned")
    assert code == EXIT_OK and "plateau after 3 epochs" in out
    code, out, _ = run(capsys, "trials", "r", "--storage", url, "--state", "fail")
    assert code == EXIT_OK and "KeyError: 'missing column'" in out


@pytest.fixture
def three(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'three.db'}"
    study = ht.create_study("three", url, sampler="random", seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, show_progress=False)
    return url


def test_export_to_a_place_that_cannot_be_written_is_an_error_not_a_traceback(
    three: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no-such-dir" / "x.csv")
    code, _, err = run(capsys, "export", "three", "--storage", three, "-o", missing)
    assert code == EXIT_ERROR and "No such file or directory" in err and "Traceback" not in err
    code, _, err = run(
        capsys, "export", "three", "--storage", three, "-o", str(tmp_path), "--format", "csv"
    )
    assert code == EXIT_ERROR and "Is a directory" in err


def test_export_takes_the_format_from_the_suffix(
    three: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parquet = tmp_path / "out.parquet"
    code, _, err = run(capsys, "export", "three", "--storage", three, "-o", str(parquet))
    assert code == EXIT_USAGE and "got 'parquet'" in err and not parquet.exists()
    as_json = tmp_path / "out.json"
    assert run(capsys, "export", "three", "--storage", three, "-o", str(as_json))[0] == EXIT_OK
    assert len(json.loads(as_json.read_text())["trials"]) == 3


def test_trials_limit_counts_from_zero(three: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "trials", "three", "--storage", three, "--limit", "0")
    assert code == EXIT_OK and "(none)" in out
    code, out, _ = run(capsys, "trials", "three", "--storage", three, "--limit", "1")
    assert code == EXIT_OK and len(out.strip().splitlines()) == 3  # header, rule, one trial
    with pytest.raises(SystemExit) as info:
        main(["trials", "three", "--storage", three, "--limit", "-1"])
    assert info.value.code == EXIT_USAGE


def test_end_of_input_at_the_delete_prompt_deletes_nothing(
    three: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def eof(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", eof)
    code, out, err = run(capsys, "delete", "three", "--storage", three)
    assert code == EXIT_OK and "nothing deleted" in out and "Traceback" not in err
    assert [r.name for r in ht.list_studies(three)] == ["three"]


def test_a_read_only_sqlite_uri_works_in_the_cli(
    three: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = three.removeprefix("sqlite:///")
    uri = f"sqlite:///file:{path}?mode=ro&uri=true"
    code, out, _ = run(capsys, "trials", "three", "--storage", uri)
    assert code == EXIT_OK and len(out.strip().splitlines()) == 5


def test_a_reader_that_goes_away_ends_the_output_quietly(
    three: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from hptune.cli import EXIT_BROKEN_PIPE

    read, write = os.pipe()
    os.close(read)  # the reader is gone
    with open(write, "w") as closed:
        monkeypatch.setattr("sys.stdout", closed)
        assert main(["trials", "three", "--storage", three]) == EXIT_BROKEN_PIPE
