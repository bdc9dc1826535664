"""The one error raised for any problem loading a model, its weights or its tokenizer."""


class ModelLoadingError(Exception):
    """A checkpoint or model file could not be used; the message says which file and what to do."""


class SeparationStopped(Exception):
    """A separation was stopped before its end (an interrupt, or another file's failure ended the run)."""
