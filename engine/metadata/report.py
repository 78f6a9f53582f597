"""Compile an expression from a metadata document, reporting a problem (with its code, file and
line) instead of raising: the loader goes on and reports everything at once."""
from __future__ import annotations

from engine.expressions.language import Expr, ExpressionError, Scope, compile_expression


def compile_or_report(ctx, file: str, doc, path: tuple, source: str, scope: Scope) -> Expr | None:
    try:
        return compile_expression(source, scope)
    except ExpressionError as exc:
        ctx.add(exc.code, file, doc, path, f"{exc.message} in '{source[:80]}'")
        return None
