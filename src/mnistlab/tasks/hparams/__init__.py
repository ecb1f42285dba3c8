"""Extension: hyperparameter studies, one variable at a time against a reference model.

Two references, one small MLP and one small CNN, are trained on MNIST and Fashion-MNIST; each study
changes exactly one thing about a reference (the weight initialisation, the optimiser, the pooling, ...)
and lists the values it tries, the reference's own value among them, so every study has a baseline row.
Every run holds out the last `val_fraction` of the training images, stops once the validation loss has
not improved for `patience` epochs (or at `max_epochs`), restores the weights of its best epoch, and only
then meets the test set, once (the task's own sub-run kind, "hparams": networks.py).

The analysis reads the runs into `Findings` (McNemar p-values included); metrics, tables, the figures
(mnistlab.viz.studies) and the prose, which also sets Report C's qualitative findings against ours, are drawn
from those alone. The folder's layout is every task's (`mnistlab.tasks.base`).
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="hparams",
    title="Extension: hyperparameter studies, one variable at a time",
    description="an MLP and a CNN reference, each study changing one variable; early stopping on validation loss",
    key_table="summary",
    # Tables and figures of the studies (not measured apart from training; seconds).
    analysis_cost=lambda config: 10.0,
)
