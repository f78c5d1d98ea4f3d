"""Dependencies point one way. Between packages: ``SpineCoreLib`` at the base, the two module packages on
it (neither imports the other), the ``mrtoct`` command line on top of all three. Inside them: no module
imports, even lazily inside a function, a module that imports it back (a cycle breaks as soon as someone
moves an import to the top)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (ROOT / "SpineCore" / "SpineCoreLib",
            ROOT / "SpineLandmarkRegistration" / "SpineLandmarkRegistrationLib",
            ROOT / "MRtoCTTranslation" / "MRtoCTTranslationLib",
            ROOT / "mrtoct")
# What each package may import besides itself; anything else is an arrow back up or sideways.
ALLOWED = {
    "SpineCoreLib": set(),
    "SpineLandmarkRegistrationLib": {"SpineCoreLib"},
    "MRtoCTTranslationLib": {"SpineCoreLib"},
    "mrtoct": {"SpineCoreLib", "SpineLandmarkRegistrationLib", "MRtoCTTranslationLib"},
}


def _module_name(path: Path, package: Path) -> tuple[str, str]:
    """The dotted module name of ``path`` and the package its relative imports start from."""
    parts = (package.name, *path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _imports(tree: ast.AST, pkg: str) -> set[str]:
    """Every module an AST imports, wherever the import stands (``from . import x`` names ``pkg.x`` too)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found |= {target} | {f"{target}.{a.name}" for a in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the core modules it imports (imports of a module's own ancestor packages left out)."""
    raw = {}
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            name, pkg = _module_name(path, package)
            raw[name] = _imports(ast.parse(path.read_text(encoding="utf-8")), pkg)
    known = set(raw)

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    graph = {}
    for name, targets in raw.items():
        owners = {owner(t) for t in targets} - {None, name}
        graph[name] = {o for o in owners if not name.startswith(o + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if not state.get(nxt) and (cycle := visit(nxt, stack)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if not state.get(node) and (cycle := visit(node, [])):
            return cycle
    return None


def test_the_finder_sees_a_cycle_through_a_lazy_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse("def f():\n    from .networks import build_network\n")
    assert "MRtoCTTranslationLib.diffusion.networks" in _imports(tree, "MRtoCTTranslationLib.diffusion")


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import from one package into another that ALLOWED does not list."""
    bad = []
    for name, targets in sorted(graph.items()):
        top = name.split(".")[0]
        bad += [f"{name} -> {t}" for t in sorted(targets) if t.split(".")[0] not in ALLOWED[top] | {top}]
    return bad


def test_layer_check_sees_an_arrow_back_up():
    assert layer_violations({"SpineCoreLib.levels": {"MRtoCTTranslationLib.options"}}) == [
        "SpineCoreLib.levels -> MRtoCTTranslationLib.options"]
    assert layer_violations({"MRtoCTTranslationLib.x": {"SpineLandmarkRegistrationLib.register"}})
    assert layer_violations({"mrtoct.main": {"SpineCoreLib.levels", "MRtoCTTranslationLib.options"}}) == []


def test_packages_depend_one_way():
    graph = import_graph()
    assert {name.split(".")[0] for name in graph} == set(ALLOWED)
    assert layer_violations(graph) == []


def test_no_import_cycle_in_the_core():
    graph = import_graph()
    assert "MRtoCTTranslationLib.diffusion.networks" in graph and len(graph) > 100
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
