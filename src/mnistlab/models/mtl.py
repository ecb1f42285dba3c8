"""Task 6 networks: the single-task CNNs and the hard-parameter-sharing multi-task network.

Single-task (brief 6.1): conv [32, 64, 128] 3x3 stride 1 'same', ReLU, 2x2/2 max-pool after conv 1
and conv 2, flatten (128 x 7 x 7 = 6,272), dense [3136, 1024, 100, N]:
23,080,598 parameters for N = 10 (items) and 23,079,891 for N = 3 (groups).

Multi-task (brief 6.2): the same conv stack and the dense 3136 layer are shared; two heads
[1024, 100, 10] and [1024, 100, 3] follow: 26,395,689 parameters. The 6,272 x 3,136 shared dense
layer holds 19.7 M of them, which is why one MTL network is much smaller than two single-task ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from torch import Tensor, nn

from mnistlab.models.cnn import CNNSpec, build_cnn

ITEM_CLASSES = 10
GROUP_CLASSES = 3
CONV_CHANNELS = (32, 64, 128)
SHARED_DENSE = 3136
HEAD_DENSE = (1024, 100)


def single_task_spec(classes: int) -> CNNSpec:
    """The brief's 6.1 single-task CNN with `classes` outputs."""
    return CNNSpec(channels=CONV_CHANNELS, kernels=(3, 3, 3), strides=(1, 1, 1), pool_after=(0, 1),
                   dense=(SHARED_DENSE, *HEAD_DENSE), classes=classes)


def build_single_task(classes: int) -> nn.Sequential:
    return build_cnn(single_task_spec(classes))


def _head(width: int, hidden: Sequence[int], classes: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


class MTLNet(nn.Module):
    """Shared trunk (conv stack + dense 3136) and one head per task; forward returns a tuple of logits.

    The trunk is built from the very same spec as the single-task CNNs (minus its last two dense
    layers and output), so "identical up to the split" holds by construction. The defaults are the
    brief's; smaller widths give a fast stand-in for tests. The loss weighting
    is not part of the model: see mnistlab.weighting.
    """

    def __init__(self, classes: Sequence[int] = (ITEM_CLASSES, GROUP_CLASSES),
                 channels: Sequence[int] = CONV_CHANNELS, shared_dense: int = SHARED_DENSE,
                 head_hidden: Sequence[int] = HEAD_DENSE):
        super().__init__()
        n = len(channels)
        single = build_cnn(CNNSpec(channels=tuple(channels), kernels=(3,) * n, strides=(1,) * n,
                                   pool_after=(0, 1), dense=(), classes=shared_dense))
        # build_cnn ends with Linear(flat, shared_dense) as its "output": add the ReLU that makes it hidden.
        self.trunk = nn.Sequential(*single, nn.ReLU())
        self.heads = nn.ModuleList(_head(shared_dense, head_hidden, c) for c in classes)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        z = self.trunk(x)
        return tuple(head(z) for head in self.heads)

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters every task's loss reaches (what gradient-based weighting methods operate on)."""
        return self.trunk.parameters()


def build_mtl() -> MTLNet:
    return MTLNet()


__all__ = ["GROUP_CLASSES", "ITEM_CLASSES", "MTLNet", "build_mtl", "build_single_task", "single_task_spec"]
