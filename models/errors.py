"""The one error raised for any problem loading a model, its weights or its tokenizer."""


class ModelLoadingError(Exception):
    """A checkpoint or model file could not be used; the message says which file and what to do."""


class SeparationStopped(Exception):
    """A separation was stopped before its end (an interrupt, or another file's failure ended the run)."""


class NonFiniteOutput(Exception):
    """The network returned NaN or infinite samples (an input or a condition out of its range); nothing
    of that output is written."""


class UserError(ValueError):
    """What the user asked or gave cannot be done (a query, an option, a device, a preset, a
    manifest); the message says what and what to do. The command line exits with status 2 for it.
    Any other exception is a bug: status 1, with its traceback."""
