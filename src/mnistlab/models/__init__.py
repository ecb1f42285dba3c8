"""Model families, each built from a small declarative spec so that a sweep is a list of specs."""

from mnistlab.models.cnn import CNN1, CNNSpec, build_cnn
from mnistlab.models.mlp import MLP_BRIEF, MLPSpec, build_mlp
from mnistlab.models.summary import model_summary

__all__ = ["CNN1", "MLP_BRIEF", "CNNSpec", "MLPSpec", "build_cnn", "build_mlp", "model_summary"]
