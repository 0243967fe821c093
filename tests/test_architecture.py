"""The architecture of DESIGN.md, checked: floors, no import cycles, GAN families as plug-ins.

The import-linter contracts live in setup.cfg (``[importlinter:contract:...]``);
the tests below run them with the suite and add what a contract cannot say:
no cycle between any two modules (also across packages, also through imports
inside functions), and the plug-in rule of ``otlab.gan.families`` once more on
the graph itself.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Cycles that exist and have an owner removing them (none today); a new cycle fails the test.
KNOWN_CYCLES: list[set[str]] = []
#: Importers of a family besides the registry (which loads families by name): the demos
#: still import a family's settings class.  Tighten to none once they go through the registry.
FAMILY_IMPORTERS = ("otlab.demo.",)


@pytest.fixture(scope="module")
def graph():
    grimp = pytest.importorskip("grimp")
    return grimp.build_graph("otlab", include_external_packages=False)


def _strongly_connected(graph) -> list[set[str]]:
    """Tarjan's strongly connected components of more than one module (iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_import_linter_contracts_are_kept(capsys):
    pytest.importorskip("importlinter")
    import importlinter.api  # noqa: F401  (registers the contract types)
    from importlinter.application.use_cases import lint_imports

    kept = lint_imports(config_filename=str(ROOT / "setup.cfg"), cache_dir=None, no_logo=True)
    assert kept, "broken import-linter contracts (run lint-imports for details):\n" + \
        capsys.readouterr().out


def test_no_two_modules_import_each_other_directly_or_through_others(graph):
    cycles = [c for c in _strongly_connected(graph) if c not in KNOWN_CYCLES]
    assert not cycles, f"import cycles: {[sorted(c) for c in cycles]}"


def test_cycle_finder_finds_a_cycle_through_three_modules():
    grimp = pytest.importorskip("grimp")
    g = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"):
        g.add_module(name)
    for importer, imported in (("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.c", "pkg.a"),
                               ("pkg.d", "pkg.a")):
        g.add_import(importer=importer, imported=imported)
    assert _strongly_connected(g) == [{"pkg.a", "pkg.b", "pkg.c"}]


def test_gan_families_are_imported_by_nothing_but_their_registry(graph):
    families = "otlab.gan.families"
    if families not in graph.modules:
        pytest.skip("otlab.gan.families does not exist yet")
    for module in sorted(graph.find_descendants(families)):
        importers = {m for m in graph.find_modules_that_directly_import(module)
                     if m != families and not m.startswith(FAMILY_IMPORTERS)}
        assert not importers, f"{module} is imported by {sorted(importers)}, not via the registry"
