"""The errors of the real-time path, importable without torch (the ``lass`` command catches them)."""


class EngineFailure(RuntimeError):
    """The worker stopped on an error; the callback plays the fallback until the owner stops the engine."""


class VirtualMicError(RuntimeError):
    """No server to publish a virtual microphone on, or a name in use: the message says what to do."""


class UnprocessedOutput(RuntimeError):
    """A file streamed in real time was written, but parts of it went out unprocessed (the worker fell
    behind): the message says how much, and how to get a whole separation."""


class AudioDeviceError(RuntimeError):
    """No sound card can be opened (the PortAudio library is missing): the message says what to install."""
