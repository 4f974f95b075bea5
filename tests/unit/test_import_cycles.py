"""No import cycles between hotshare's modules (the layer contract in
.importlinter keeps the folders in order; this keeps each folder acyclic)."""

from __future__ import annotations

import grimp
import pytest


def cycles() -> list[tuple[str, str]]:
    graph = grimp.build_graph("hotshare")
    found = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported != module and graph.find_shortest_chain(importer=imported, imported=module):
                found.append((module, imported))
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles() == []


def test_the_check_sees_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself works: a graph with a cycle is reported."""
    real = grimp.build_graph

    def with_cycle(name: str) -> grimp.ImportGraph:
        g = real(name)
        g.add_import(importer="hotshare.config.keys", imported="hotshare.config.settings")
        return g
    monkeypatch.setattr(grimp, "build_graph", with_cycle)
    assert ("hotshare.config.keys", "hotshare.config.settings") in cycles()
