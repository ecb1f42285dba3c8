"""Task 2: the single-layer perceptron from scratch (NumPy), on pair (0, 1) in full and on all 45 digit pairs.

The algorithm lives in `mnistlab.models.perceptron` (predict, optimise, optimise_pairs); this task
prepares the brief's data (pm1, flat 784, label -1 for the first digit of a pair and +1 for the
second), trains every pair in one batched sweep and cross-checks each pair against scikit-learn's
Perceptron on the same split (sub-runs of its own kinds: networks.py, planned in plan.py), and writes the
figures, tables and answers. The folder's layout is every task's (`mnistlab.tasks.base`): config, plan,
networks, findings, present, prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="task2",
    title="Task 2: the single-layer perceptron from scratch, on all 45 digit pairs",
    description="NumPy perceptron (predict/optimise), pair 0-1 in full, all 45 pairs, sklearn cross-check",
    key_table="five_pairs",
    headline=("perceptron per digit pair: test accuracy, mean of the 45 pairs",
              "pair_test_acc_mean"),
    # The accuracies, weight measures and figures (the perceptrons are sub-runs): about 3 s of the brief run's
    # 39 s on the 2-core AMD EPYC.
    analysis_cost=lambda config: 3.0,
)
