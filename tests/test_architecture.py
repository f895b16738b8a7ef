"""The package's layers import one way, without cycles and without private names.

Ground types -> space -> storage -> strategies -> study -> execution -> integrations,
analysis and CLI (see "Architecture" in the README). Every import counts, also those
inside functions, except those under ``if TYPE_CHECKING:`` (annotations only).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hptune

ROOT = Path(hptune.__file__).parent

# Layers, lowest first; a module belongs to the first layer with a matching prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "ground",
        (
            "hptune.exceptions",
            "hptune.records",
            "hptune.validation",
            "hptune.seeding",
            "hptune._registry",
            "hptune._extras",
        ),
    ),
    ("space", ("hptune.space",)),
    ("storage", ("hptune.storage", "hptune.history", "hptune.export")),
    ("strategies", ("hptune.samplers", "hptune.pruners", "hptune.dominance", "hptune.stopping")),
    (
        "study",
        (
            "hptune.study",
            "hptune.trial",
            "hptune.leases",
            "hptune.ask",
            "hptune.tell",
            "hptune.pruning",
        ),
    ),
    ("execution", ("hptune.execution",)),
    ("top", ("hptune.integrations", "hptune.analysis", "hptune.cli", "hptune.demo", "hptune")),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if prefix == "hptune" and module != "hptune":
                    continue  # only the package's own __init__ is "top" by this prefix
                return rank
    raise AssertionError(f"module {module} has no layer; add it to LAYERS in this test")


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imports_of(module: str) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` for each hptune import."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("hptune")]
            found += [(name, None, node.lineno) for name in names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("hptune"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, None, node.lineno))
                else:
                    found.append((target, alias.name, node.lineno))
    return found


def _owner_package(module: str) -> str:
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for module in MODULES:
        for target, _, line in imports_of(module):
            if layer_of(target) > layer_of(module):
                upward.append(
                    f"{MODULES[module].name}:{line} {module} ({LAYERS[layer_of(module)][0]}) "
                    f"imports {target} ({LAYERS[layer_of(target)][0]})"
                )
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    graph = {m: {t for t, _, _ in imports_of(m) if t in MODULES and t != m} for m in MODULES}
    # A package's __init__ re-exporting its modules is not a cycle with them: a module
    # of the package never needs the package's __init__ to be complete.
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not module.startswith(t + ".")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_imports_a_private_name_of_another_package() -> None:
    found = []
    for module in MODULES:
        own = _owner_package(module)
        for target, name, line in imports_of(module):
            owner = _owner_package(target) if target in MODULES else target
            last = target.rpartition(".")[2]
            # A package's private modules serve it and its subpackages only.
            if last.startswith("_") and not last.startswith("__"):
                parent = target.rpartition(".")[0]
                if not (own == parent or own.startswith(parent + ".")):
                    found.append(f"{module}:{line} imports private module {target}")
            private = name is not None and name.startswith("_") and not name.startswith("__")
            if private and not (own == owner or own.startswith(owner + ".")):
                found.append(f"{module}:{line} imports private name {target}.{name}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module", ["hptune.samplers.tpe", "hptune.pruners.hyperband"])
def test_the_checks_see_imports(module: str) -> None:
    # Guards the checks above against finding nothing because the parser found nothing.
    assert imports_of(module)
