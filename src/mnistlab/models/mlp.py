"""Multi-layer perceptrons: [784, hidden..., 10] with one activation, optional dropout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from mnistlab.errors import ConfigError
from mnistlab.models.spec import Family, register_family

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
               "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}
# Every initialisation a spec may ask for (the hyperparameter studies compare them all).
INITS = ("default", "glorot", "he", "normal", "zeros")


def initialise(model: nn.Module, init: str) -> nn.Module:
    """Initialise every Linear and Conv2d layer of a freshly built `model` in place.

    'default' keeps PyTorch's own (Kaiming-uniform with a=sqrt(5), i.e. U(+-1/sqrt(fan_in))) and draws
    nothing more; 'glorot' is Xavier-uniform, Keras' default and the initialisation Glorot & Bengio (2010)
    derived for sigmoid and tanh networks, which with PyTorch's default sit on a long plateau before they
    start to learn; 'he' is Kaiming-normal for ReLU, N(0, 2/fan_in); 'normal' is N(0, 1) whatever the
    fan-in, so pre-activations grow by about sqrt(fan_in) per layer; 'zeros' makes every unit of a layer
    the same function, with zero gradient to every weight (symmetry never broken). All but 'default' zero
    the biases.
    """
    if init not in INITS:
        raise ConfigError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    if init == "default":
        return model
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Conv2d):
            if init == "glorot":
                nn.init.xavier_uniform_(module.weight)
            elif init == "he":
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif init == "normal":
                nn.init.normal_(module.weight, 0.0, 1.0)
            else:
                nn.init.zeros_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


@dataclass(frozen=True)
class MLPSpec:
    hidden: tuple[int, ...] = (1000, 1000)
    activation: str = "relu"
    dropout: float = 0.0
    inputs: int = 784
    classes: int = 10
    init: str = "default"  # one of INITS

    # What the rest of the lab asks a spec instead of asking which family it is (models.spec.ModelSpec).
    family: ClassVar[str] = "MLP"
    view: ClassVar[str] = "flat"  # the data.load view its input takes

    @property
    def name(self) -> str:
        return "MLP " + "-".join(map(str, self.hidden)) if self.hidden else "softmax regression"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One input's shape, without the batch dimension."""
        return (self.inputs,)

    @property
    def depth(self) -> int:
        """Weight layers: the hidden layers and the output layer."""
        return len(self.hidden) + 1

    def build(self) -> nn.Sequential:
        return build_mlp(self)

    def describe(self) -> str:
        """The layer widths and activation, e.g. '[784, 256, 256, 10] relu'."""
        return f"[{', '.join(map(str, (self.inputs, *self.hidden, self.classes)))}] {self.activation}"


def parse_mlp(text: str, **kw) -> MLPSpec:
    """'1000-1000' -> MLPSpec(hidden=(1000, 1000)); '' or '0' is softmax regression (no hidden layer)."""
    text = text.strip()
    shown = text if len(text) <= 60 else f"{text[:40]}…({len(text):,} characters)"
    try:
        hidden = tuple(int(part) for part in text.split("-")) if text not in ("", "0") else ()
        if not all(part.isascii() and part.strip().isdigit() for part in text.split("-")) and hidden:
            raise ValueError(text)
    except ValueError:
        raise ConfigError(f"bad MLP spec {shown!r}: write the hidden widths joined by '-', e.g. 1000-1000") from None
    if any(not 1 <= h <= 10**9 for h in hidden):  # beyond, torch overflows before a size check could speak
        raise ConfigError(f"bad MLP spec {shown!r}: every hidden width must be between 1 and 1,000,000,000")
    return MLPSpec(hidden=hidden, **kw)


# An MLP's text is its hidden widths joined by '-' (nothing, or 0: softmax regression).
register_family(Family("MLP", MLPSpec, re.compile(r"[0-9\s-]*"), parse_mlp, "1000-1000"))

# The brief's Task 3.1 network, [784, 1000, 1000, 10]: 1,796,010 parameters.
MLP_BRIEF = MLPSpec(hidden=(1000, 1000))


def build_mlp(spec: MLPSpec) -> nn.Sequential:
    """Flatten -> (Linear -> activation [-> Dropout]) per hidden layer -> Linear to logits.

    The softmax is not a layer: the loss takes logits (see train.cross_entropy_objective).
    """
    if spec.activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {spec.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = [nn.Flatten()]
    width = spec.inputs
    for h in spec.hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[spec.activation]()]
        if spec.dropout > 0:
            layers.append(nn.Dropout(spec.dropout))
        width = h
    layers.append(nn.Linear(width, spec.classes))
    return initialise(nn.Sequential(*layers), spec.init)
