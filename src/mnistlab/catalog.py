"""The names of the lab's tasks and profiles, and the one description of each profile.

Kept free of torch, scikit-learn and the task modules, so that `mnistlab --help` (which needs only these
names) starts in well under a second. `tests/test_cli_commands.py` checks that TASK_NAMES lists exactly
the tasks of `mnistlab.tasks.REGISTRY`, in its order: a new task is added to both.
"""

from __future__ import annotations

from dataclasses import dataclass

TASK_NAMES = ("data-overview", "task1", "task2", "task3", "task4", "task5", "task6", "permutation", "baselines",
              "hparams", "clock", "recipes")


@dataclass(frozen=True)
class Profile:
    """A named set of config overrides. `summary` is the few words a banner or a verdict quotes;
    `detail` the sentence that `--help`, `list`, `show` and the report's header say."""

    name: str
    summary: str
    detail: str


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("quick", "subsets and 1-2 epochs",
            "subsets of the data and 1-2 epochs (8 for the clock task's small network): a smoke test of every task in "
            "about 2 minutes on 2 cores, whose numbers are not findings"),
    Profile("brief", "the assignment's settings",
            "the assignment's settings (full data, its epochs and sweeps; Tasks 3, 4, 6 and the permutation study "
            "over seeds 0-2): the answers; Tasks 1-6 take about 2 h on 2 cores (the data overview and Tasks 1-5 "
            "40 min, Task 6's three seeds 81 min)"),
    Profile("extended", "the brief's settings plus extra probes",
            "the brief's settings plus the probes that are not the assignment's (Task 6's batch-10 and "
            "plain-recipe networks; the recipes' ablation over 3 seeds, about 2 h on 2 cores)"),
)}
PROFILE_NAMES = tuple(PROFILES)


def describe_profile(name: str) -> str:
    """'quick: subsets of the data and ...' - the profile's one description, for help texts and headers."""
    return f"{name}: {PROFILES[name].detail}"


def profiles_help() -> str:
    """Every profile's description, one after another (argparse's help for --profile)."""
    return "; ".join(describe_profile(name) for name in PROFILE_NAMES)


# The grammar of the fields that name networks (their `spec` metadata, see mnistlab.tasks.base.opt).
SPEC_GRAMMAR: dict[str, str] = {
    "mlp": "an MLP is its hidden-layer widths joined by '-': 1000-1000 is two hidden layers of 1,000 ReLU units, "
           "500 one of 500, 0 none (softmax regression); a 10-way linear output follows. A list of several is "
           "comma-separated: --set task3.models=1000-1000,500,0",
    "cnn": "a CNN is its conv layers joined by '-', each <filters>k<kernel>s<stride>: 32k4s1-64k4s2 is 32 4x4 "
           "filters at stride 1, then 64 4x4 filters at stride 2 ('same' padding, ReLU); a 10-way linear output "
           "follows. A list of several is comma-separated: --set task4.models=32k4s1-64k4s2,32k4s2",
}
