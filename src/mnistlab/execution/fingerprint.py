"""Fingerprints of the code a computation runs, so a cache key changes exactly when that code does.

A sub-run kind's networks depend on its build and train functions, on what those call (the model family,
the engine: `train`, `losses`, `augment`, `weighting`, data loading) and on the code of the values in its
key (the model spec, the data description, the training recipe). `code_fingerprint` follows those
references statically, from a few *roots* (a module and one of its top-level names), over the source of
the package: each reached top-level statement is parsed with `ast`, stripped of docstrings and
annotations (neither changes what runs) and dumped without line numbers, so an edit of a comment, a
docstring, a type hint or the order of definitions changes nothing, while an edit of any reached
statement changes the fingerprint (as `joblib.Memory` does for one function, here for everything the
function reaches).

How a reference is followed:
- a name defined at the top of the module reaches that definition (all of its statements);
- a name imported from a followed package (`from mnistlab.train import fit`, `import mnistlab.data as d`
  then `d.load`) reaches the definition in that module; a module used as a whole reaches all of it;
- an import inside a function reaches what it imports;
- a statement at the top of a module that binds no name (a registration call, a loop that imports the
  modules of a registry) is part of every fingerprint that reaches the module;
- a package whose top-level code imports its modules by name at run time (`importlib.import_module`, as
  `mnistlab.weighting` does to fill its registry) reaches every one of its modules.
Followed packages: `mnistlab` and the top-level package of each root (a kind in a test's own module).
Everything else (torch, NumPy) is outside: its version is the environment's business.

The walk is deterministic (sorted) and cached per process, so executor workers compute the same value
as the driver; the first fingerprint in a process parses the modules it reaches (tens of milliseconds).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

Root = tuple[str, str | None]  # (module, top-level name), or (module, None) for the whole module


@dataclass
class _Module:
    name: str
    is_package: bool
    files: list[Path]  # a package's modules, for the whole-package rule
    statements: list[ast.stmt] = field(default_factory=list)
    dumps: list[str] = field(default_factory=list)
    defines: dict[str, list[int]] = field(default_factory=dict)
    anonymous: list[int] = field(default_factory=list)
    aliases: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # local -> (module, name)
    star: list[str] = field(default_factory=list)
    imports_by_name: bool = False  # a package whose top-level code imports its modules by name (a registry)


def code_fingerprint(roots: Iterable[Root]) -> str:
    """A short hex digest of every statement reached from `roots` (see the module docstring)."""
    return _fingerprint(frozenset(roots))


def root_of(obj: Callable[..., Any] | type) -> Root:
    """The root that stands for a function or class: its module and its top-level enclosing name (a
    closure stands for the function that defines it; a top-level lambda for its whole module)."""
    top = obj.__qualname__.split(".")[0]
    return obj.__module__, (None if top.startswith("<") else top)


def fingerprint_of(obj: Callable[..., Any] | type) -> str:
    """The fingerprint of the code a function (or class) runs."""
    return code_fingerprint([root_of(obj)])


@cache
def _fingerprint(roots: frozenset[Root]) -> str:
    followed = {"mnistlab"} | {module.split(".")[0] for module, _ in roots}
    walk = _Walk(followed)
    for module, name in sorted(roots, key=lambda r: (r[0], r[1] or "")):
        walk.reach(module, name)
    digest = hashlib.sha256()
    for module, index in sorted(walk.statements):
        digest.update(f"{module}\n{_parsed(module).dumps[index]}\n".encode())
    return digest.hexdigest()[:16]


class _Walk:
    def __init__(self, followed: set[str]):
        self.followed = followed
        self.statements: set[tuple[str, int]] = set()
        self.modules: set[str] = set()

    def follows(self, module: str) -> bool:
        return module.split(".")[0] in self.followed and _parsed(module) is not None

    def reach(self, module: str, name: str | None) -> None:
        """Reach `name` of `module` (None: all of it) and everything its statements refer to."""
        if not self.follows(module):
            return
        parsed = _parsed(module)
        self._enter(parsed)
        if name is None:
            self._statements(parsed, range(len(parsed.statements)))
        elif name in parsed.defines:
            self._statements(parsed, parsed.defines[name])
        elif name in parsed.aliases:
            self.reach(*parsed.aliases[name])
        elif self.follows(f"{module}.{name}"):
            self.reach(f"{module}.{name}", None)
        elif parsed.star:
            for source in parsed.star:
                self.reach(source, name)
        else:  # not found statically (a name made at run time): the whole module, to be safe
            self._statements(parsed, range(len(parsed.statements)))

    def _enter(self, parsed: _Module) -> None:
        if parsed.name in self.modules:
            return
        self.modules.add(parsed.name)
        self._statements(parsed, parsed.anonymous)
        if parsed.imports_by_name:
            for path in parsed.files:
                self.reach(f"{parsed.name}.{path.stem}", None)

    def _statements(self, parsed: _Module, indexes: Iterable[int]) -> None:
        for index in indexes:
            if (parsed.name, index) in self.statements:
                continue
            self.statements.add((parsed.name, index))
            for module, name in _references(parsed, parsed.statements[index]):
                self.reach(module, name)


def _references(parsed: _Module, node: ast.AST, scoped: bool = False) -> Iterator[Root]:
    """What a statement refers to: (module, name) pairs, (module, None) for a whole module. Imports at
    module level (also under a top-level `if`) are links, followed where a name is used; an import inside
    a function or class (`scoped`) reaches what it imports."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        if scoped:
            yield from _imported(parsed, node)
        return
    if isinstance(node, ast.Attribute):
        chain = _chain(node)
        module = _module_alias(parsed, chain[0]) if chain else None
        if chain and module is not None:
            for part in chain[1:-1]:
                if _spec_file(f"{module}.{part}") is None:
                    break
                module = f"{module}.{part}"
            else:
                yield module, chain[-1]
                return
    if isinstance(node, ast.Name):
        if node.id in parsed.defines:
            yield parsed.name, node.id
        elif node.id in parsed.aliases:
            yield parsed.aliases[node.id]
        return
    scoped = scoped or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
    for child in ast.iter_child_nodes(node):
        yield from _references(parsed, child, scoped)


def _imported(parsed: _Module, node: ast.Import | ast.ImportFrom) -> Iterator[Root]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, None
        return
    source = _absolute(parsed, node)
    for alias in node.names:
        yield (source, None) if alias.name == "*" else (source, alias.name)


def _module_alias(parsed: _Module, local: str) -> str | None:
    """The module a local name stands for (`import a.b as m`, `from a import b` where a.b is a module)."""
    if local in parsed.defines or local not in parsed.aliases:
        return None
    module, name = parsed.aliases[local]
    if name is None:
        return module
    return f"{module}.{name}" if _spec_file(f"{module}.{name}") is not None else None


def _chain(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _absolute(parsed: _Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = parsed.name.split(".") if parsed.is_package else parsed.name.split(".")[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


@cache
def _spec_file(module: str) -> Path | None:
    """The source file of `module`, or None (not found, not Python source)."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None) if loaded is not None else None
    if origin is None:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec is not None else None
    if origin is None or not origin.endswith(".py"):
        return None
    return Path(origin)


@cache
def _parsed(module: str) -> _Module | None:
    path = _spec_file(module)
    if path is None:
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    files = sorted(p for p in path.parent.glob("*.py") if p.name != "__init__.py") if is_package else []
    parsed = _Module(module, is_package, files)
    for statement in _without_docstring(tree.body):
        _strip(statement)
        index = len(parsed.statements)
        parsed.statements.append(statement)
        parsed.dumps.append(ast.dump(statement, include_attributes=False))
        bound = _binds(statement)
        for imported in _top_imports(statement):
            for alias in imported.names:
                if isinstance(imported, ast.Import):
                    local = alias.asname or alias.name.split(".")[0]
                    parsed.aliases[local] = (alias.name if alias.asname else local, None)
                elif alias.name == "*":
                    parsed.star.append(_absolute(parsed, imported))
                else:
                    source = _absolute(parsed, imported)
                    parsed.aliases[alias.asname or alias.name] = (source, alias.name)
        if isinstance(statement, ast.Import | ast.ImportFrom):
            continue
        if not bound or not isinstance(statement, _DEFINITIONS):
            parsed.anonymous.append(index)  # a registration call, a loop that imports a registry's modules
        for name in bound:
            parsed.defines.setdefault(name, []).append(index)
    parsed.imports_by_name = is_package and any(
        isinstance(node, ast.Call) and (_chain(node.func) or [""])[-1] in ("import_module", "__import__")
        for index in parsed.anonymous for node in ast.walk(parsed.statements[index]))
    return parsed


# Statements that only bind names; any other top-level statement (a call, a loop, an if) runs whenever
# its module is imported, so it belongs to every fingerprint that reaches the module.
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign, ast.AugAssign)


def _top_imports(statement: ast.stmt) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports a top-level statement makes at module level (in it, or in its if/try blocks)."""
    if isinstance(statement, ast.Import | ast.ImportFrom):
        yield statement
    elif isinstance(statement, ast.If | ast.Try):
        for child in ast.iter_child_nodes(statement):
            if isinstance(child, ast.stmt):
                yield from _top_imports(child)


def _binds(statement: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds (or changes in place: `REGISTRY[k] = v`)."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {statement.name}
    if isinstance(statement, ast.Expr):
        return set()
    names: set[str] = set()
    for node in _walk_outside_scopes(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Subscript | ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
            base = _chain(node.value) if isinstance(node.value, ast.Attribute | ast.Name) else None
            if base:
                names.add(base[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.GeneratorExp, ast.ListComp,
           ast.SetComp, ast.DictComp)


def _walk_outside_scopes(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, _SCOPES):
            yield from _walk_outside_scopes(child)


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body or [ast.Pass()]


def _strip(tree: ast.AST) -> None:
    """Drop docstrings and annotations (in place): neither changes what the code computes."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            node.body = _without_docstring(node.body)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(value=None)


def forget() -> None:
    """Drop the parsed sources and fingerprints of this process (after its source files were edited)."""
    _fingerprint.cache_clear()
    _parsed.cache_clear()
    _spec_file.cache_clear()
