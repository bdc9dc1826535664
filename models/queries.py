"""What a text query must be, checked before any model loads (nothing heavy is imported here)."""


def check_texts(texts: list[str]) -> None:
    """Raise ``ValueError`` if there is no text or a text is empty."""
    if not texts or any(not t.strip() for t in texts):
        raise ValueError("a query text is empty: describe the sound to separate, e.g. -q 'dog barking'")
