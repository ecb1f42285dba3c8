"""A first look at the data: class counts per split and sample images per class, for both datasets.

It trains no network (its plan is empty): every fact it states is computed from the loaded labels and
images. The folder's layout is every task's (`mnistlab.tasks.base`): config, plan, findings, present
(figures by mnistlab.viz.data_overview), prose, and this declaration.
"""

from mnistlab.tasks.base import Task
from mnistlab.tasks.data_overview.config import PROFILES, Config
from mnistlab.tasks.data_overview.findings import compute_findings
from mnistlab.tasks.data_overview.plan import plan
from mnistlab.tasks.data_overview.present import present
from mnistlab.tasks.data_overview.prose import prose

TASK = Task(
    name="data-overview",
    title="The data: MNIST and Fashion-MNIST at a glance",
    description="class counts per split and sample images per class for both datasets",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    findings=compute_findings,
    present=present,
    prose=prose,
    # Reading the data and one figure: about a second.
    analysis_cost=lambda config: 2.0,
)
