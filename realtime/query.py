"""Changing the query while the engine runs: the condition is computed on this helper's own thread
(the query network runs once per query, never on the audio path or the worker) and swapped into the
engine, which crossfades to it over one hop. The latest request wins; the previous query keeps
running until the new one is ready."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

import torch

from realtime.engine import Engine

State = Literal["idle", "encoding", "active", "error"]


class QueryUpdater:
    def __init__(
        self,
        engine: Engine,
        embed_text: Callable[[str], torch.Tensor],
        on_state: Callable[[State, str], None] = lambda state, text: None,
    ) -> None:
        self.engine, self.embed_text, self.on_state = engine, embed_text, on_state
        self.state: State = "idle"
        self.active_text: str | None = None
        self.error: str | None = None
        self.encodings = 0  # how many embeddings were computed
        self._pending: str | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="query-updater", daemon=True).start()

    def request(self, text: str) -> None:
        """Encode ``text`` and make it the engine's query when ready (a newer request replaces it)."""
        with self._lock:
            self._pending = text
        self._set_state("encoding", text)
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                text, self._pending = self._pending, None
                self._wake.clear()
            if text is None:
                continue
            try:
                with torch.inference_mode():
                    film = self.engine.separator.net.film(self.embed_text(text))
                self.encodings += 1
            except Exception as error:  # shown to the user; the previous query keeps running
                self.error = str(error)
                self._set_state("error", text)
                continue
            self.engine.set_condition(film)
            self.active_text = text
            self._set_state("active", text)

    def _set_state(self, state: State, text: str) -> None:
        self.state = state
        self.on_state(state, text)
