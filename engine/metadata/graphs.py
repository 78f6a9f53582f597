"""Depth-first order of a small dependency graph, with every cycle found (computed fields that
use each other, roles that inherit from each other)."""
from __future__ import annotations


def dependency_order(edges: dict[str, list[str]]) -> tuple[list[str], list[list[str]]]:
    """(nodes with what they depend on first, cycles as [a, b, ..., a]); edges to nodes not in
    `edges` are ignored."""
    order: list[str] = []
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cycles.append(stack[stack.index(n):] + [n])
            return
        state[n] = 1
        for m in edges.get(n, ()):
            if m in edges:
                visit(m, stack + [n])
        state[n] = 2
        order.append(n)

    for n in edges:
        visit(n, [])
    return order, cycles
