"""The one error raised for any problem loading a model, its weights or its tokenizer."""


class ModelLoadingError(Exception):
    """A checkpoint or model file could not be used; the message says which file and what to do."""
