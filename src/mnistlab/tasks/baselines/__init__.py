"""Extension: classic baselines and "manifold untangling".

Three classic MNIST models, softmax regression (7,850 parameters), an MLP with one 100-unit sigmoid layer
(79,510) and a sigmoid CNN with two 5x5 convolutions (366,806), trained with the one engine; then t-SNE
of the test images as each network sees them (pixels, logits, hidden layers), scored with Task 1's
separation measures: how far each layer has pulled the ten classes apart.

The folder's layout is every task's (`mnistlab.tasks.base`): config, plan, findings, present (figures from
mnistlab.viz.untangling), prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="baselines",
    title="Extension: classic baselines and manifold untangling",
    description="softmax regression, a 100-unit sigmoid MLP and a 5x5 sigmoid CNN; t-SNE of their layers",
    key_table="models",
    # The t-SNE of five representations: 62 s for 5,000 test digits at the brief's settings.
    analysis_cost=lambda config: 5.0 + 62.0 * config.tsne_subset / 5000,
)
