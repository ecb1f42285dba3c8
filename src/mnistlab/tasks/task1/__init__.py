"""Task 1: PCA and t-SNE views of MNIST, and which digit pairs a linear classifier can separate.

The brief asks why PCA suits visualisation, what the 2-D plots show, and which classes can be
linearly separated. The answers here are numbers from this run: explained variance, per-class
centroids and spreads, a linear SVM for each of the 45 digit pairs on the 2-D PCA embedding and on
the 784 raw pixels (test accuracy), and three class-separation measures on PCA and t-SNE of the
same subset. It trains no neural network: the pair SVMs and t-SNE are sub-runs of its own kinds
(networks.py), planned and cached as networks are. The folder's layout is every task's
(`mnistlab.tasks.base`): config, plan, networks, findings, present, prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="task1",
    title="Task 1: PCA, t-SNE and linear separability",
    description="PCA and t-SNE of MNIST; linear SVM for all 45 digit pairs in 2-D and 784-D",
    key_table="pairs",
    headline=("2-D PCA, linear SVM per digit pair: test accuracy, mean of the 45 pairs",
              "pca2d_pair_acc_mean"),
    # PCA, the separation measures and the figures (the pair SVMs and t-SNE are sub-runs): about 4 s of the
    # brief run's 44 s on the 2-core AMD EPYC.
    analysis_cost=lambda config: 4.0 * (config.train_limit or 60_000) / 60_000,
)
