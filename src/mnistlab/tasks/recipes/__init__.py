"""Extension: how far the brief's own networks go with a modern training recipe, each ingredient measured.

The architectures stay exactly the brief's (the MLP [784, 1000, 1000, 10], CNN-1, and Task 6's single-task
item and group CNNs and its multi-task network: parameter counts asserted in tests/test_recipes.py); only how
they are trained changes. The ingredients are options of the one engine (mnistlab.train.TrainConfig), so any
task can use them:

  augment    random views of each training batch on the device: rotation, scale and shift for digits
             ("affine"), mirror and shift for clothes ("flip-shift")
  schedule   cosine decay of the learning rate after a linear warm-up (`warmup` of all steps)
  smoothing  label smoothing of the cross-entropy
  ema        an exponential moving average of the weights, scored in place of the raw weights
  tta        test-time augmentation: the softmax averaged over the identity and fixed shifted (digits) or
             mirrored (clothes) views
  select     training length chosen on validation: the epoch with the best validation accuracy (of the
             scored weights, the average's) is restored

Every network of this task trains on the first nine tenths of the training images and is validated on the
last tenth (`val_fraction`), which no network trains on; the brief's plain recipe too, so that every arm sees
the same images. The recipe of each network is then chosen on validation: of the recipes it was trained with
on every seed (the full one, the full one minus each ingredient, the brief's), the one with the best mean
validation accuracy; the multi-task network's lambda likewise, among its full-recipe networks (it is trained
at every lambda with the brief's recipe too, so that the chosen lambda has its brief-recipe twin). The test set
decides nothing: each network's test accuracy is recorded after every epoch, for the learning curves, and is
reported at the epoch chosen on validation; no choice reads it (tests/test_recipes.py poisons the test labels
and sees the same choices).

How the ablation is drawn: `plan.py`'s docstring; the seeds and the extended profile's budget: `config.py`'s.
The folder's layout is every task's (`mnistlab.tasks.base`): config, plan, findings, present (the figure from
mnistlab.viz.recipes), prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="recipes",
    title="Extension: the brief's networks with a modern training recipe",
    description="the brief's MLP, CNN-1 and Task 6 networks, unchanged, trained with augmentation, a cosine "
                "schedule, label smoothing, a weight average, test-time views and length chosen on validation",
    key_table="ablation",
    key_figure="curves",
    headline=("CNN-1 [32, 64, 128] at the recipe chosen on validation: test accuracy", "cnn1_chosen_test_acc"),
    # Rescoring the kept networks without test-time views and the curves figure: seconds, not minutes.
    analysis_cost=lambda config: 5.0,
)
