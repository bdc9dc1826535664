"""The error of the real-time path, importable without torch (the ``lass`` command catches it)."""


class EngineFailure(RuntimeError):
    """The worker stopped on an error; the callback plays the fallback until the owner stops the engine."""
