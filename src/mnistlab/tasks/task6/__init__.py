"""Task 6: multi-task learning on Fashion-MNIST, from the brief's fixed lambda to learned loss weighting.

Two single-task CNNs (10 items, 3 groups) against one hard-parameter-sharing network trained with
loss = lambda * L_item + (1 - lambda) * L_group for several lambda, plus learned weightings (uncertainty
weighting, PCGrad, GradNorm: mnistlab.weighting) on the same schedule. Every network is one cached sub-run of
the task's own kind, "mtl" (networks.py). The folder's layout is every task's (`mnistlab.tasks.base`):
config, plan, networks, findings, present (figures by mnistlab.viz.mtl), prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="task6",
    title="Task 6: multi-task learning on Fashion-MNIST (lambda study and learned loss weighting)",
    description="single-task CNNs vs a hard-sharing MTL network for lambda in {0..1}, uncertainty weighting, PCGrad, "
                "GradNorm",
    key_table="accuracy",
    key_figure="accuracy_vs_lambda",
    headline=("MTL at the lambda chosen on validation: item test accuracy",
              "best_mixed_item_test_acc"),
    default_seeds={"brief": 3},
    # Brief: 1,348 s measured, of which its eight networks' 5 epochs 1,275 s: about 9 s per network on 60,000.
    analysis_cost=lambda config: 2.0 + 8.75 * (len(config.lambdas) + len(config.strategies)) * (
        config.train_limit or 60_000) / 60_000,
)
