"""Every experiment is one folder of the same files, declared once.

A task of the package is `mnistlab/tasks/<name>/` holding `__init__.py` (its declaration,
`TASK = Task.from_folder(__name__, ...)`, which takes the parts from the other files by their names, and nothing
else), `config.py`, `plan.py`, `findings.py`, `present.py` and `prose.py`, and `networks.py` where it trains
a kind of network of its own; no module under `tasks/` is longer than 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mnistlab.catalog import TASK_NAMES
from mnistlab.tasks import REGISTRY, module_name

TASKS_DIR = Path(__file__).resolve().parents[1] / "src" / "mnistlab" / "tasks"
FILES = {"__init__.py", "config.py", "plan.py", "findings.py", "present.py", "prose.py"}
OPTIONAL = {"networks.py"}
MAX_LINES = 400
# Tasks still one module, being split into folders (issue 25); emptied as each lands.
NOT_YET_FOLDERS: set[str] = set()


def test_the_registry_is_the_catalog_s_names_in_order():
    assert list(REGISTRY)[: len(TASK_NAMES)] == list(TASK_NAMES)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_each_task_is_a_folder_of_the_same_files(name):
    if name in NOT_YET_FOLDERS:
        pytest.skip(f"{name} is not yet a folder")
    folder = TASKS_DIR / module_name(name).rpartition(".")[2]
    files = {p.name for p in folder.glob("*.py")}
    assert files >= FILES, f"{name} lacks {sorted(FILES - files)}"
    assert files <= FILES | OPTIONAL, f"{name} has files outside the layout: {sorted(files - FILES - OPTIONAL)}"
    # the declaration is the whole __init__: a docstring, imports and TASK = Task(...)
    tree = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        is_docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_task = (isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["TASK"]
                   and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "Task.from_folder")
        assert is_docstring or is_task or isinstance(node, ast.Import | ast.ImportFrom), (
            f"{name}/__init__.py line {node.lineno}: only the TASK declaration belongs there")
    task = REGISTRY[name]
    assert task.analyse is None and task.findings and task.present and task.prose, (
        f"{name} should analyse through findings, present and prose")


def test_no_module_under_tasks_is_over_400_lines():
    long = {str(p.relative_to(TASKS_DIR)): n for p in TASKS_DIR.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
            and p.stem.replace("_", "-") not in NOT_YET_FOLDERS}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
