"""Model families, each built from a small declarative spec so that a sweep is a list of specs."""

from mnistlab.models.cnn import CNN1, CNNSpec, build_cnn, parse_cnn
from mnistlab.models.mlp import MLP_BRIEF, MLPSpec, build_mlp, parse_mlp
from mnistlab.models.summary import forward_macs, model_summary, spec_forward_macs, summary_rows

__all__ = [
           "CNN1",
           "MLP_BRIEF",
           "CNNSpec",
           "MLPSpec",
           "build_cnn",
           "build_mlp",
           "forward_macs",
           "model_summary",
           "parse_cnn",
           "parse_mlp",
           "spec_forward_macs",
           "summary_rows",
]
