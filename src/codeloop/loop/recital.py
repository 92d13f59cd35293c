"""Whether a program computes anything, or only prints a value the model wrote into it.

Made to write a program for a question that needs computing, a small model sometimes writes the
answer it would have guessed into a print call (`print("lamam")` for "mammal" spelled backwards,
`print(1)` for the l's in "cellar"). Running that adds nothing a recalled answer lacks, so the loop
asks once for a program that computes.
"""

from __future__ import annotations

import ast

# What a program may hold and still compute nothing: statements that bind, import or print literals.
_INERT = (
    ast.Module,
    ast.Expr,
    ast.Assign,
    ast.Import,
    ast.ImportFrom,
    ast.alias,
    ast.Pass,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.keyword,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
    ast.UnaryOp,
    ast.USub,
    ast.UAdd,
)


def computes_nothing(code: str) -> bool:
    """Whether `code` only prints literals (or names bound to literals): no operator, no call but
    print, no loop, no lookup. A program that does not parse is not judged here: it runs and fails."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    prints = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id == "print"):
                return False
            prints += 1
        elif isinstance(node, ast.FormattedValue):
            if node.format_spec is not None:
                return False  # f"{x:.2f}" formats: a computation, however small
        elif not isinstance(node, _INERT):
            return False
    return prints > 0
