"""Model families, each built from a small declarative spec so that a sweep is a list of specs."""

from mnistlab.models.cnn import CNN1, CNNSpec, build_cnn, parse_cnn
from mnistlab.models.imported import ImportedSpec
from mnistlab.models.mlp import MLP_BRIEF, MLPSpec, build_mlp, parse_mlp
from mnistlab.models.spec import FAMILIES, Family, ModelSpec, family_of, parameter_count, parse_spec, register_family
from mnistlab.models.summary import forward_macs, model_summary, spec_forward_macs, summary_rows

__all__ = [
           "CNN1",
           "FAMILIES",
           "MLP_BRIEF",
           "CNNSpec",
           "Family",
           "ImportedSpec",
           "MLPSpec",
           "ModelSpec",
           "build_cnn",
           "build_mlp",
           "family_of",
           "forward_macs",
           "model_summary",
           "parameter_count",
           "parse_cnn",
           "parse_mlp",
           "parse_spec",
           "register_family",
           "spec_forward_macs",
           "summary_rows",
]
