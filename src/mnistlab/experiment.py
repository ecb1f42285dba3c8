"""Everything an experiment of your own needs, in one import (see docs/extending.md).

An experiment is a `Task`: a frozen config dataclass (fields made with `opt`, so `mnistlab show` can
explain them), its profiles, a `plan` of the networks it needs (`classifier_run` makes one that the lab's
engine trains and caches), and its analysis in three steps: `findings` (numbers, read from the trained
networks through `ctx.trained`), `present` (a `Result`: metrics, `Table`s, `Figure`s saved with
`ctx.figure`) and `prose` (paragraphs by id; a `Paragraph` states a finding). `register` adds it to the
lab; name its module in MNISTLAB_EXPERIMENTS and every command knows it.
"""

from mnistlab.analysis.contrasts import Arm, Contrast
from mnistlab.execution.subrun import SubRun
from mnistlab.models import ModelSpec, parse_spec
from mnistlab.tasks import register
from mnistlab.tasks.base import Context, Figure, Paragraph, Result, Table, Task, opt
from mnistlab.tasks.common import classifier_run
from mnistlab.train import TrainConfig

__all__ = ["Arm", "Context", "Contrast", "Figure", "ModelSpec", "Paragraph", "Result", "SubRun", "Table", "Task",
           "TrainConfig", "classifier_run", "opt", "parse_spec", "register"]
