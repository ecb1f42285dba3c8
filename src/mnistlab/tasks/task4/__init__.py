"""Task 4: CNN-1 (conv 32-64-128, 4x4, strides 1-2-2, 'same'), four CNNs of other depth and width,
and CNNs beside MLPs (accuracy, parameters, training and inference time).

CNN-1 is trained with exactly `common.CNN1_TRAINING` as `common.classifier_run`, so Task 5 finds
the same checkpoint in the sub-run cache; the MLPs are Task 3's sweep with Task 3's recipe (cache hits
when Task 3 ran first). The folder's layout is every task's (`mnistlab.tasks.base`): config, plan,
findings, present, prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="task4",
    title="Task 4: convolutional networks, and CNNs vs MLPs",
    description="CNN-1 [32,64,128] 4x4 strides 1-2-2, four more CNNs, and a CNN-vs-MLP comparison",
    key_table="cnn_vs_mlp",
    key_figure="accuracy_vs_size",
    headline=("CNN-1 [32, 64, 128]: test accuracy",
              "first_test_acc"),
    default_seeds={"brief": 3},
    # Figures and tables; the brief's 386 s are its networks'.
    analysis_cost=lambda config: 4.0,
)
