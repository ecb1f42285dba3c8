"""Task 3: the brief's MLP [784, 1000, 1000, 10] and four MLPs of other depth and width.

Every model is trained by the one engine (`mnistlab.train.fit`) through the sub-run cache, so an
interrupted sweep resumes and a rerun only redraws the report. The folder's layout is every task's
(`mnistlab.tasks.base`): config, plan, findings, present, prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="task3",
    title="Task 3: multi-layer perceptrons, depth and width",
    description="MLP [784,1000,1000,10] with Adam, and four MLPs of 3-7 hidden layers",
    key_table="sweep",
    key_figure="accuracy_vs_size",
    headline=("MLP [784, 1000, 1000, 10]: test accuracy",
              "first_test_acc"),
    default_seeds={"brief": 3},
    # Figures and tables: the brief's 220 s are its six networks' (156 + 63 s) to within a second or two.
    analysis_cost=lambda config: 3.0,
)
