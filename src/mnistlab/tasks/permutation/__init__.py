"""Extension: one fixed permutation of the 784 pixels, and the brief's MLP and CNN-1 retrained on it.

A fully connected network has no notion of which pixels are neighbours, so shuffling the pixel positions
the same way in every image changes nothing it can use; a CNN's small kernels and pooling assume that
neighbouring pixels belong together, and lose that once the positions are shuffled. The unshuffled
networks are trained with exactly Task 3's and Task 4's recipes, so after those tasks they are cache hits.

The folder's layout is every task's (`mnistlab.tasks.base`): config, plan, findings (the networks read into
`Findings`, with ctx.compare's verdicts and the rewired MLP), present (metrics, tables, the figures of
mnistlab.viz.permutation), prose (paragraph id -> text, which also judges Report C's two claims about the
permutation on our numbers, `REPORT_C_CLAIMS`), and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="permutation",
    title="Extension: a fixed pixel permutation, MLP vs CNN",
    description="the brief's MLP and CNN-1 retrained on pixel-permuted MNIST and Fashion-MNIST: MLP against CNN",
    key_table="accuracy",
    headline=("CNN-1 on MNIST: test accuracy lost to a pixel permutation, points",
              "cnn_change_pp"),
    # Its verdicts compare MLP and CNN across the permutation: one run per network cannot tell them apart.
    default_seeds={"brief": 3},
    # Figures and tables (not measured apart from training; a few seconds).
    analysis_cost=lambda config: 5.0,
)
