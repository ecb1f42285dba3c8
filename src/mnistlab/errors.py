"""The one exception type the CLI turns into a single clear line and exit code 2."""


class MnistlabError(Exception):
    """A mistake the user can fix (bad option, missing data, ...): shown as one line, never a traceback."""


class DataError(MnistlabError):
    """Data files are missing, unreadable or do not match their published digest."""


class ConfigError(MnistlabError):
    """A task name, profile, option or `--set` value is not valid."""


class TrainingError(MnistlabError):
    """Training cannot go on (for example the loss became NaN or infinite)."""
