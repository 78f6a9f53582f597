"""The dependency direction of the engine's packages (one way, from the adapters down to the core), enforced by import-linter."""
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_import_layers_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, cwd=str(ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 4 kept, 0 broken" in r.stdout


def test_no_import_cycle_in_the_engine():
    """No module of engine/ reaches itself through its imports, counting imports inside functions."""
    import grimp
    graph = grimp.build_graph("engine", cache_dir=None, exclude_type_checking_imports=True)  # as the contracts: an editor's type is no import
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if i.startswith("engine")} for m in graph.modules if m.startswith("engine")}
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    cycles: list = []
    counter = [0]

    def visit(v):  # Tarjan's strongly connected components, iteratively deep enough for the engine
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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
    for v in sorted(edges):
        if v not in index:
            visit(v)
    packages = {m for m in edges if any(o.startswith(m + ".") for o in edges)}
    real = [c for c in cycles if not set(c) <= packages | {x for x in c if x.endswith("__init__")}]
    assert not real, real


def test_the_tests_mirror_the_engines_packages():
    """Every package of engine/ has its folder of tests, and every folder of tests is a package of the
    engine or one of the few that span it (docs/architecture.md, Tests)."""
    engine = {p.name for p in (ROOT / "engine").iterdir() if (p / "__init__.py").is_file()}
    tests = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert engine - {"locale"} <= tests, sorted(engine - tests)
    assert tests - engine == {"browser", "scenarios", "fixtures"}
    for name in engine & tests:
        assert list((ROOT / "tests" / name).glob("test_*.py")), name
