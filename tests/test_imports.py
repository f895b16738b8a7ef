"""``import hptune`` (and running a study in memory) pulls in no optional extra."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Optional dependencies: each belongs to an extra and is imported only where used.
EXTRAS = [
    "torch",
    "lightning",
    "pytorch_lightning",
    "sklearn",
    "pandas",
    "psycopg",
    "psycopg2",
    "dask",
    "distributed",
    "ray",
    "matplotlib",
    "plotly",
]


def _imported_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}


def test_import_hptune_imports_no_extra() -> None:
    modules = _imported_after("import hptune")
    assert "hptune" in modules
    assert sorted(modules & set(EXTRAS)) == []


def test_an_in_memory_study_imports_no_extra() -> None:
    code = (
        "import hptune as ht\n"
        "study = ht.create_study(seed=0)\n"
        "study.optimize(lambda t: t.suggest_float('x', 0, 1), n_trials=3, show_progress=False)\n"
        "study.ask({'n': ht.Int(1, 3)})\n"
        "import tempfile, os\n"
        "study.export(os.path.join(tempfile.mkdtemp(), 't.csv'))"
    )
    modules = _imported_after(code)
    assert sorted(modules & set(EXTRAS)) == []


def test_the_check_itself_sees_an_extra_when_one_is_imported() -> None:
    # Guards against a check that cannot fail (e.g. reading the wrong output).
    pytest.importorskip("pandas")
    modules = _imported_after("import hptune\nimport pandas")
    assert {"hptune", "pandas"} <= modules
