"""A Jupyter notebook that reproduces the lab by calling the package, one section per task.

It reads and adds to an existing results folder (`results=`, the CLI's --results): a task whose result there
is up to date for the notebook's profile is shown, not trained again, and cached networks are reused.
"""

from __future__ import annotations

from pathlib import Path

from mnistlab.catalog import PROFILES
from mnistlab.errors import MnistlabError


def build_notebook(profile: str = "quick", tasks: list[str] | None = None, out: str = "results"):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from mnistlab.tasks import REGISTRY

    names = tasks or list(REGISTRY)
    cells = [
        new_markdown_cell(
            "# mnistlab\nEach section below runs one experiment of the lab through the package "
            f"(profile `{profile}`: {PROFILES[profile].detail}), then shows its metrics and figures. "
            f"Results go to, and are read from, `{out}`: a task already run there with the same settings is "
            "shown without training again. Change `PROFILE` to `'brief'` for the assignment's full settings."),
        new_code_cell(
            "import json\n"
            "from pathlib import Path\n"
            "from IPython.display import SVG, Image, display\n"
            "from mnistlab.execution.runner import run_task\n"
            "from mnistlab.execution.runtime import resolve_device\n"
            "from mnistlab.tasks import REGISTRY\n\n"
            f"PROFILE = {profile!r}\nOUT = Path({out!r})\nDEVICE = resolve_device('auto')\n\n"
            "def show(name):\n"
            "    task = REGISTRY[name]\n"
            "    stored = OUT / name / 'result.json'  # a result already there, in its figure format, is reused\n"
            "    fmt = json.loads(stored.read_text()).get('figure_format', 'png') if stored.is_file() else 'png'\n"
            "    record = run_task(task, profile=PROFILE, config=task.config(PROFILE), out=OUT,\n"
            "                      device=DEVICE, seed=0, show_progress=False, figure_format=fmt)\n"
            "    for key, value in sorted(record['metrics'].items())[:40]:\n"
            "        print(f'{key:<40} {value}')\n"
            "    for fig in record['figures']:\n"
            "        print(fig['caption'])\n"
            "        path = OUT / name / fig['file']\n"
            "        shown = {'.png': Image, '.svg': SVG}.get(path.suffix)\n"
            "        display(shown(filename=str(path)) if shown else path)  # a PDF: its path\n"),
    ]
    for name in names:
        task = REGISTRY[name]
        cells.append(new_markdown_cell(f"## {task.title}\n{task.description}"))
        cells.append(new_code_cell(f"show({name!r})"))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat, nb


def write_notebook(path: Path, profile: str = "quick", execute: bool = False,
                   tasks: list[str] | None = None, results: Path | None = None) -> Path:
    """Write the notebook to `path` (and execute it there if asked); it runs into and reads from `results`
    (default: a folder "results" beside the notebook's working directory)."""
    out = "results" if results is None else str(results.resolve() if execute else results)
    try:
        nbformat, nb = build_notebook(profile, tasks, out=out)
    except ImportError:
        raise MnistlabError("writing a notebook needs nbformat: pip install 'mnistlab[notebook]'") from None
    if path.is_dir():
        raise MnistlabError(f"cannot write the notebook to {path}: it is a folder; give a file name such as "
                            f"{path / 'mnistlab.ipynb'}")
    from mnistlab.execution.atomic import check_folder, check_write_target

    check_write_target(path)  # a link, a FIFO or a device is never replaced (nor /dev/null, run as root)
    check_folder(path.parent, "the notebook's folder")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise MnistlabError(f"cannot write the notebook to {path}: {blocker} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MnistlabError(f"cannot write the notebook to {path}: cannot create its folder "
                            f"({exc.strerror or exc})") from None
    if execute:
        try:
            from nbclient import NotebookClient
        except ImportError:
            raise MnistlabError("executing a notebook needs nbclient: pip install 'mnistlab[notebook]'") from None
        NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
                       ).execute()
    from mnistlab.execution.atomic import clean_stale_temps
    from mnistlab.execution.store import atomic_write_text

    clean_stale_temps(path.parent)
    try:
        atomic_write_text(path, nbformat.writes(nb))
    except OSError as exc:
        raise MnistlabError(f"cannot write the notebook to {path}: {exc.strerror or exc}") from None
    return path
