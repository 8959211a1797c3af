"""The command line starts light, the package has no import cycle, and every CLI module
registers its commands the same way.

* Importing ``bizlogic.cli`` or showing help loads none of the heavy dependencies (numpy,
  scipy, the tokenizers, the database and web stacks) nor the mining, records, store or
  API packages: those load inside the commands that use them. Checked in fresh
  interpreters, by module name, not by timing (benchmarks/cli_start.py times it).
* No import cycle between bizlogic's modules, read from the source with ``ast``:
  neither among the imports that run when a module is imported, nor when the imports
  deferred into functions are counted as well.
* Each module of ``bizlogic.cli`` with commands exposes ``register(app)``; that is the
  only place commands are attached, and the root app is exactly their union.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main

import bizlogic
import bizlogic.cli

SRC = Path(bizlogic.__file__).resolve().parent.parent
HEAVY_PACKAGES = (
    "numpy",
    "scipy",
    "rjieba",
    "jieba",
    "pandas",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "alembic",
    "bizlogic.records",
    "bizlogic.store",
    "bizlogic.api",
)
# The mining package is loaded only for its catalogue of algorithm names.
MINING_ALLOWED = ("bizlogic.mining", "bizlogic.mining.catalogue")
# Modules of bizlogic.cli that hold no commands.
NOT_COMMANDS = {"options", "tables", "client", "importing", "__main__"}


def heavy(modules: set[str]) -> list[str]:
    found = {
        name
        for name in modules
        if any(name == p or name.startswith(p + ".") for p in HEAVY_PACKAGES)
        or (name.startswith("bizlogic.mining") and name not in MINING_ALLOWED)
    }
    return sorted(found)


def env(tmp_path: Path) -> dict[str, str]:
    """An environment whose settings (read by the root command) are the defaults."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BL_")}
    return {**clean, "BL_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "100"}


def imported_by(args: list[str], tmp_path: Path) -> set[str]:
    """The modules a fresh ``python -X importtime -m bizlogic.cli ARGS`` imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bizlogic.cli", *args],
        capture_output=True,
        text=True,
        env=env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage: bizlogic" in done.stdout
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert len(lines) > 50, done.stderr[-2000:]  # -X importtime did report
    return {line.rsplit("|", 1)[1].strip() for line in lines}


def test_importing_the_cli_loads_nothing_heavy(tmp_path: Path) -> None:
    code = "import sys, json, bizlogic.cli; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env(tmp_path),
        timeout=60,
        check=True,
    )
    modules = set(json.loads(done.stdout))
    assert "bizlogic.cli" in modules
    assert heavy(modules) == []


@pytest.mark.parametrize("args", [["--help"], ["health", "--help"], ["analyze", "--help"]])
def test_help_loads_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    modules = imported_by(args, tmp_path)
    assert "bizlogic.cli" in modules
    assert heavy(modules) == []


# -------------------------------------------------------------------- import cycles


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name → (file, is a package) for every module of bizlogic."""
    found = {}
    for path in sorted((SRC / "bizlogic").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_graph(*, deferred: bool) -> dict[str, set[str]]:
    """Module → the bizlogic modules it imports. Imports under ``if TYPE_CHECKING:`` never
    count; those inside functions count only with ``deferred``."""
    modules = _modules()
    graph = {}
    for name, (path, package) in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = _imports(tree.body, name, package, set(modules), deferred)
        graph[name] = targets - {name}
    return graph


def _imports(
    nodes: list[ast.stmt], name: str, package: bool, modules: set[str], deferred: bool
) -> set[str]:
    def known(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found: set[str | None] = set()
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node):
            found |= _imports(node.orelse, name, package, modules, deferred)
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not deferred:
            continue
        if isinstance(node, ast.Import):
            found |= {known(a.name) for a in node.names if a.name.split(".")[0] == "bizlogic"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package (or the module's package) upwards
                parent = name.split(".")[: None if package else -1]
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if base.split(".")[0] == "bizlogic":
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in modules else known(base))
        for child in ast.iter_child_nodes(node):
            body = [child] if isinstance(child, ast.stmt) else None
            if isinstance(child, ast.excepthandler | ast.match_case):
                body = child.body
            if body:
                found |= _imports(body, name, package, modules, deferred)
    found.discard(None)
    return found  # type: ignore[return-value]


def components(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle of each strongly connected component."""
    found = []
    for component in components(graph):
        inside = {node: graph[node] & component for node in component}
        found.append(find_cycle(inside))
    return sorted(found)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, …, a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_sees_the_cli_package() -> None:
    graph = import_graph(deferred=False)
    assert "bizlogic.cli.options" in graph["bizlogic.cli.analyze"]
    assert "bizlogic.settings" not in graph["bizlogic.cli"]  # imported in a function only
    assert "bizlogic.settings" in import_graph(deferred=True)["bizlogic.cli"]


@pytest.mark.parametrize("deferred", [False, True], ids=["module-level", "with-deferred"])
def test_no_import_cycle(deferred: bool) -> None:
    found = cycles(import_graph(deferred=deferred))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_finder_finds_each_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e", "a"}, "e": {"d"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["d", "e", "d"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# -------------------------------------------------------------------- registration


def command_modules() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(bizlogic.cli.__path__)]
    return sorted(set(names) - NOT_COMMANDS)


def commands_of(register) -> list[str]:
    app = typer.Typer()
    app.callback()(lambda: None)  # a group, even for one command
    register(app)
    group = typer.main.get_command(app)
    return group.list_commands(None)


def test_every_cli_module_registers_through_register() -> None:
    listed = {module.__name__.rpartition(".")[2] for module in bizlogic.cli.MODULES}
    assert listed == set(command_modules())
    every: list[str] = []
    for module in bizlogic.cli.MODULES:
        assert list(inspect.signature(module.register).parameters) == ["app"], module
        names = commands_of(module.register)
        assert names, f"{module.__name__}.register adds no command"
        every.extend(names)
    root = typer.main.get_command(bizlogic.cli.app)
    assert sorted(every) == sorted(root.list_commands(None))  # nothing registered twice
    assert root.list_commands(None) == list(bizlogic.cli.HELP_ORDER)


def test_commands_are_attached_only_in_register() -> None:
    """No decorator wiring, no `app.command(...)` at module level: `register` does it all
    (the root callback is the one attachment of the package's __init__)."""
    attach = {"command", "add_typer", "callback"}
    for path in sorted(Path(bizlogic.cli.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        allowed: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "register":
                allowed.update(id(child) for child in ast.walk(node))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    assert not (isinstance(target, ast.Attribute) and target.attr in attach), (
                        f"{path.name}: @{ast.unparse(decorator)} on {node.name}"
                    )
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in attach
                and id(node) not in allowed
            ):
                call = ast.unparse(node)
                assert path.name == "__init__.py" and call.startswith("app.callback("), (
                    f"{path.name}:{node.lineno}: {call} outside register()"
                )
