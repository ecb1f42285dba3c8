"""Extension: tell the time from generated analogue clocks, five ways to phrase the answer.

One generated data set (`mnistlab.data.clocks`), one small CNN backbone, and five heads
(`mnistlab.models.clock`): cyclic regression, 24 and 720 classes, hour class + minute regression, and
sin/cos of both hands. Each variant is one sub-run of the task's own kind, "clock" (`networks.py`), trained
with the one engine; the analysis scores all by the same number, the mean common-sense error in minutes (the
short way round the 12-hour dial, at most 360), on the held-out clocks and on clocks of a second face family
that training never saw. Why the defaults are what they are, measured: `config.py`'s docstring.

The folder's layout is every task's (`mnistlab.tasks.base`): config, plan, networks, findings, present
(figures from mnistlab.viz.clock), prose, and this declaration.
"""

from mnistlab.tasks.base import Task

TASK = Task.from_folder(
    __name__,
    name="clock",
    title="Extension: tell the time from analogue clocks",
    description="generated analogue clocks read by five heads on one CNN: cyclic regression, 24/720 classes, "
                "hour class + minute, sin/cos; mean common-sense error in minutes",
    key_table="variants",
    # Generating the clocks and the figures (not measured apart from training; seconds).
    analysis_cost=lambda config: 5.0 + 5.0 * config.n_images / 18_000,
)
