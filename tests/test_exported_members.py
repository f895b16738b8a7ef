"""Keep every ``__all__`` honest: sorted, unique, complete, and naming what exists."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import hptune


def _public_subpackages() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(hptune.__path__, prefix="hptune.")
        if info.ispkg and not info.name.rsplit(".", 1)[-1].startswith("_")
    )


# The core modules named in DESIGN.md that declare a public __all__.
CORE_MODULES = [
    "hptune.export",
    "hptune.space",
    "hptune.stopping",
    "hptune.study",
    "hptune.trial",
]


def test_top_level_all_is_sorted_and_unique() -> None:
    assert hptune.__all__ == sorted(set(hptune.__all__))


def test_top_level_all_names_exist() -> None:
    missing = [name for name in hptune.__all__ if not hasattr(hptune, name)]
    assert missing == []


def test_top_level_all_lists_every_public_name() -> None:
    # Submodules appear as attributes once imported; they are reached as hptune.space etc.
    public = {
        name
        for name, value in vars(hptune).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__ import annotations
    }
    assert public == set(hptune.__all__) - {"__version__"}


def test_top_level_names_come_from_hptune() -> None:
    for name in hptune.__all__:
        value = getattr(hptune, name)
        module = getattr(value, "__module__", "hptune")
        assert module.startswith("hptune"), (name, module)


def test_there_are_public_subpackages() -> None:
    assert {"hptune.pruners", "hptune.samplers", "hptune.storage"} <= set(_public_subpackages())


@pytest.mark.parametrize("module_name", _public_subpackages() + CORE_MODULES)
def test_module_all_names_exist_and_are_unique(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list), f"{module_name} has no __all__ list"
    assert len(exported) == len(set(exported)), f"{module_name}.__all__ has duplicates"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ names what does not exist"


def test_top_level_reexports_are_the_subpackage_objects() -> None:
    from hptune import pruners, samplers, storage

    assert hptune.RandomSampler is samplers.RandomSampler
    assert hptune.Pruner is pruners.Pruner
    assert hptune.InMemoryStorage is storage.InMemoryStorage
