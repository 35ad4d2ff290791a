"""No dead options: a public function or method of mlkube reads every parameter it accepts (issue 18, item 5).

An option accepted and never read looks like it does something (``load_manifests(paths, root=...)`` ignored its
root); it can only mislead. Methods whose signature a library dictates are listed with the reason."""

from __future__ import annotations

import ast

from helpers import PACKAGE_ROOT

#: (module path, qualified name) -> why the parameter is there although unread.
PROTOCOL = {
    ("mlkube/kube/render.py", "ignore_aliases"): "PyYAML's Dumper.ignore_aliases(data) signature",
    ("mlkube/pinning/registry.py", "makefile"): "socket.makefile(mode, ...) signature, called by http.client",
}


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Module-level functions and methods (nested functions are callbacks whose signature the caller sets)."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            found += [item for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node)
    return found


def _abstract(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A body that only says "subclasses implement this" (docstring, then raise, pass or ...)."""
    body = [item for item in node.body if not (isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant))]
    return len(body) <= 1 and all(isinstance(item, ast.Raise | ast.Pass) for item in body)


def _unread_parameters() -> list[str]:
    found = []
    for path in sorted((PACKAGE_ROOT / "mlkube").rglob("*.py")):
        module = str(path.relative_to(PACKAGE_ROOT))
        for node in _functions(ast.parse(path.read_text())):
            if node.name.startswith("_") or (module, node.name) in PROTOCOL or _abstract(node):
                continue
            read = {name.id for name in ast.walk(node) if isinstance(name, ast.Name)}
            parameters = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
            unread = [p for p in parameters if p not in ("self", "cls") and not p.startswith("_") and p not in read]
            if unread:
                found.append(f"{module}:{node.lineno} {node.name}({', '.join(unread)})")
    return found


def test_every_public_function_reads_every_parameter_it_accepts():
    assert _unread_parameters() == []
