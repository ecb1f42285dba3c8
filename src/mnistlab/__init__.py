"""mnistlab: a reproducible deep-learning lab on MNIST-family data."""

__version__ = "0.1.0"
