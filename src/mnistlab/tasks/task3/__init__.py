"""Task 3: the brief's MLP [784, 1000, 1000, 10] and four MLPs of other depth and width.

Every model is trained by the one engine (`mnistlab.train.fit`) through the sub-run cache, so an
interrupted sweep resumes and a rerun only redraws the report. The folder's layout is every task's
(`mnistlab.tasks.base`): config, plan, findings, present, prose, and this declaration.
"""

from mnistlab.tasks.base import Task
from mnistlab.tasks.task3.config import PROFILES, Config
from mnistlab.tasks.task3.findings import compute_findings
from mnistlab.tasks.task3.plan import contrasts, plan
from mnistlab.tasks.task3.present import PUBLISHED, present, seed_figures
from mnistlab.tasks.task3.prose import prose

TASK = Task(
    name="task3",
    title="Task 3: multi-layer perceptrons, depth and width",
    description="MLP [784,1000,1000,10] with Adam, and four MLPs of 3-7 hidden layers",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    contrasts=contrasts,
    findings=compute_findings,
    present=present,
    prose=prose,
    key_table="sweep",
    key_figure="accuracy_vs_size",
    published=PUBLISHED,
    headline=("MLP [784, 1000, 1000, 10]: test accuracy",
              "first_test_acc"),
    seed_figures=seed_figures,
    default_seeds={"brief": 3},
    # Figures and tables: the brief's 220 s are its six networks' (156 + 63 s) to within a second or two.
    analysis_cost=lambda config: 3.0,
)
