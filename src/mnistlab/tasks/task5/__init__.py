"""Task 5: seeing inside CNN-1: its learned filters, its feature maps for a '2' and a '9', and deep dreams.

The network is Task 4.1's CNN-1, trained with exactly Task 4's recipe (the `cnn_*` fields follow
`common.CNN1_TRAINING` per profile): both tasks plan one sub-run, trained once for both. The folder's
layout is every task's (`mnistlab.tasks.base`): config, plan, findings, present, prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="task5",
    title="Task 5: seeing inside the CNN (filters, feature maps, deep dream)",
    description="CNN-1's filters and feature maps for a '2' and a '9', and class visualisations (deep dream)",
    headline=("deep dream from noise: CNN-1's confidence in the dreamt class, mean of 10",
              "dream_all_mean_confidence_noise"),
    # Brief: 4 s measured (3 octaves of 50 dream steps per class, and the filter and map grids).
    analysis_cost=lambda config: 1.0 + 3.0 * config.octaves * config.steps_per_octave / 150,
)
