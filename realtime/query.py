"""Changing the query while the engine runs: the condition is computed on this helper's own thread
(the query network runs once per query, never on the audio path or the worker) and swapped into the
engine, which crossfades to it over one hop. The latest request wins; the previous query keeps
running until the new one is ready.

A query is a description, a saved condition or an example clip (see :mod:`models.queries`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

import torch

from models.queries import Query, describe, excluded_count
from realtime.assembly import film_of
from realtime.engine import Engine

State = Literal["idle", "encoding", "active", "error"]


class QueryUpdater:
    def __init__(
        self,
        engine: Engine,
        embed: Callable[[Query], torch.Tensor],
        on_state: Callable[[State, Query], None] = lambda state, query: None,
    ) -> None:
        self.engine, self.embed, self.on_state = engine, embed, on_state
        self.state: State = "idle"
        self.active: Query | None = None
        self.error: str | None = None
        self.encodings = 0  # how many embeddings were computed
        self._pending: Query | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="query-updater", daemon=True)
        self._thread.start()

    def request(self, query: Query) -> None:
        """Encode ``query`` and make it the engine's query when ready (a newer request replaces it)."""
        with self._lock:
            self._pending = query
        self._set_state("encoding", query)
        self._wake.set()

    def close(self) -> None:
        """End the helper's thread (after an encoding under way, which is then dropped) and wait for it."""
        self._closed = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                query, self._pending = self._pending, None
                self._wake.clear()
            if self._closed:
                return
            if query is None:
                continue
            try:
                with torch.inference_mode():
                    film = film_of(self.engine.net, self.embed(query))
                self.encodings += 1
            except Exception as error:  # shown to the user; the previous query keeps running
                self.error = f"{describe(query)}: {error}"
                self._set_state("error", query)
                continue
            if self._closed:
                return
            self.engine.set_condition(film, excluded_count(query))
            self.active = query
            self._set_state("active", query)

    def _set_state(self, state: State, query: Query) -> None:
        self.state = state
        self.on_state(state, query)
