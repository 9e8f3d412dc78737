"""Every nas module imports in a fresh interpreter, and no two modules import each other, not even
through an import inside a function or under TYPE_CHECKING (a hidden cycle)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> dict[str, Path]:
    """nas module name → source file, from pyproject's package-dir mapping."""
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    mods: dict[str, Path] = {}
    for pkg, folder in sorted(package_dir.items(), key=lambda kv: len(kv[0])):
        for f in (ROOT / folder).rglob("*.py"):
            parts = list(f.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join([pkg, *parts])] = f
    return mods


def _registry_loader_imports(tree: ast.Module) -> set[int]:
    """The import statements inside a registry's loader (``Registry(..., loader=f)``): they load built-in
    plug-ins that import the registry back to register themselves, by design."""
    loaders = {kw.value.id for node in ast.walk(tree) if isinstance(node, ast.Call) for kw in node.keywords
               if kw.arg == "loader" and isinstance(kw.value, ast.Name)}
    return {id(n) for f in tree.body if isinstance(f, ast.FunctionDef) and f.name in loaders
            for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The nas modules ``name`` imports anywhere in its source (module level, functions, TYPE_CHECKING)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    plugin_loads = _registry_loader_imports(tree)
    for node in ast.walk(tree):
        if id(node) in plugin_loads:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in mods and t != name}
    return out


def import_graph() -> nx.DiGraph:
    """Edges between nas modules (packages' ``__init__`` left out: they only re-export; registry loaders'
    plug-in imports left out)."""
    mods = _modules()
    g = nx.DiGraph()
    for name, path in mods.items():
        if path.name == "__init__.py":
            continue
        g.add_node(name)
        g.add_edges_from((name, t) for t in _imports(name, path, mods) if mods[t].name != "__init__.py")
    return g


def test_no_import_cycle_between_modules() -> None:
    g = import_graph()
    assert g.number_of_nodes() > 100 and g.has_edge("nas.search.app.run", "nas.search.results.report")
    cycles = sorted(nx.simple_cycles(g), key=len)
    assert not cycles, f"import cycles (shortest first): {cycles[:5]}"


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    names = sorted(n for n in _modules() if not n.endswith("__main__"))
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    r = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


#: ``nas.search``'s roles, lowest first (docs/search.md): the shared values (``names``, then ``trial`` and
#: ``space_ref``), the searchers (DeepMAD's program among them), storage and the run folder, the loop, the
#: application service, the benchmark harnesses.
SEARCH_ROLES = {"names": 0, "trial": 1, "space_ref": 1, "searchers": 2, "deepmad": 3, "results": 3, "loop": 4,
                "app": 5, "bench": 6}


def test_search_roles_are_layered() -> None:
    """A role of ``nas.search`` imports only roles below it: searchers nothing of the loop, the run folder,
    the service or the harnesses; the loop and the results nothing of the service; nothing the harnesses."""
    g = import_graph()
    role = {n: n.split(".")[2] for n in g if n.startswith("nas.search.")}
    assert set(role.values()) <= set(SEARCH_ROLES), set(role.values()) - set(SEARCH_ROLES)
    wrong = sorted((a, b) for a, b in g.edges if a in role and b in role and role[a] != role[b]
                   and SEARCH_ROLES[role[b]] >= SEARCH_ROLES[role[a]])
    assert not wrong, f"a role of nas.search importing a peer or a role above it: {wrong}"


#: The design's layers, lowest first (ARCHITECTURE.md): a module imports only modules of a lower layer or
#: of its own top-level folder. ``nas.*`` modules outside the base are the CLI and the public API.
LAYERS = {"base": 0, "searchspace": 1, "hw_models": 2, "training": 2, "predictors": 3, "supernet": 3,
          "search": 4, "api": 5}
BASE = {"nas.errors", "nas.io", "nas.settings", "nas.lock", "nas.memory"}


def _layer(module: str) -> str:
    if module in BASE:
        return "base"
    folder = module.split(".")[1]
    return folder if folder in LAYERS else "api"


def test_layers_import_only_the_layers_below_them() -> None:
    g = import_graph()
    assert _layer("nas.training.trainer") == "training" and _layer("nas.cli.main") == "api"
    wrong = sorted((a, b) for a, b in g.edges
                   if _layer(a) != _layer(b) and LAYERS[_layer(b)] >= LAYERS[_layer(a)])
    assert not wrong, f"imports of a peer or higher layer: {wrong}"
