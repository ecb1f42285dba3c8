"""A first look at the data: class counts per split and sample images per class, for both datasets.

It trains no network (its plan is empty): every fact it states is computed from the loaded labels and
images. The folder's layout is every task's (`mnistlab.tasks.base`): config, plan, findings, present
(figures by mnistlab.viz.data_overview), prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="data-overview",
    title="The data: MNIST and Fashion-MNIST at a glance",
    description="class counts per split and sample images per class for both datasets",
    # Reading the data and one figure: about a second.
    analysis_cost=lambda config: 3.0,  # the example's brief run: 3 s on the 2-core AMD EPYC
)
