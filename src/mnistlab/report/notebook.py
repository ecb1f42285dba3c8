"""A Jupyter notebook that reproduces the lab by calling the package, one section per task."""

from __future__ import annotations

from pathlib import Path

from mnistlab.errors import MnistlabError


def build_notebook(profile: str = "quick", tasks: list[str] | None = None, out: str = "results-notebook"):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from mnistlab.tasks import REGISTRY

    names = tasks or list(REGISTRY)
    cells = [
        new_markdown_cell(
            "# mnistlab\nEach section below runs one experiment of the lab through the package "
            f"(profile `{profile}`), then shows its metrics and figures. Change `PROFILE` to `'brief'` "
            "for the assignment's full settings."),
        new_code_cell(
            "from pathlib import Path\n"
            "from IPython.display import Image, display\n"
            "from mnistlab.runner import run_task\n"
            "from mnistlab.runtime import resolve_device\n"
            "from mnistlab.tasks import REGISTRY\n\n"
            f"PROFILE = {profile!r}\nOUT = Path({out!r})\nDEVICE = resolve_device('auto')\n\n"
            "def show(name):\n"
            "    task = REGISTRY[name]\n"
            "    record = run_task(task, profile=PROFILE, config=task.config(PROFILE), out=OUT,\n"
            "                      device=DEVICE, seed=0, show_progress=False)\n"
            "    for key, value in sorted(record['metrics'].items())[:40]:\n"
            "        print(f'{key:<40} {value}')\n"
            "    for fig in record['figures']:\n"
            "        print(fig['caption'])\n"
            "        display(Image(filename=str(OUT / name / fig['file'])))\n"),
    ]
    for name in names:
        task = REGISTRY[name]
        cells.append(new_markdown_cell(f"## {task.title}\n{task.description}"))
        cells.append(new_code_cell(f"show({name!r})"))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat, nb


def write_notebook(path: Path, profile: str = "quick", execute: bool = False,
                   tasks: list[str] | None = None) -> Path:
    try:
        nbformat, nb = build_notebook(profile, tasks)
    except ImportError:
        raise MnistlabError("writing a notebook needs nbformat: pip install 'mnistlab[notebook]'") from None
    if path.is_dir():
        raise MnistlabError(f"cannot write the notebook to {path}: it is a folder; give a file name such as "
                            f"{path / 'mnistlab.ipynb'}")
    from mnistlab.atomic import check_folder, check_write_target

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
    from mnistlab.atomic import clean_stale_temps
    from mnistlab.store import atomic_write_text

    clean_stale_temps(path.parent)
    try:
        atomic_write_text(path, nbformat.writes(nb))
    except OSError as exc:
        raise MnistlabError(f"cannot write the notebook to {path}: {exc.strerror or exc}") from None
    return path
