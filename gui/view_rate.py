"""How often the live views redraw: as often as the GUI thread can spare, never at the audio's cost.

Drawing the spectrograms is the window's heavy work, and on a 2-core machine the GUI thread competes
with the separation worker for a core (and for Python's lock). The view timer's interval follows the
GUI thread's own CPU time (its timer work and the painting that follows) and the engine's strain:
above :data:`VIEW_CPU_SHARE` of a core, or while the engine is strained (late, or a real-time factor
over :data:`STRAINED_RTF`), the views redraw less often (frames are dropped, never audio); with the
engine at ease and drawing well below its share they speed up again to the full rate. Measured with
another program busy on one core (``python -m benchmarks.gui --load busy-core``), views at a full 30
redraws a second took the worker from a real-time factor of 0.45 to 0.80, with 444 dropouts in 30 s.
"""

from __future__ import annotations

VIEW_CPU_SHARE = 0.3  # of one core, for the window's timer work and painting
STRAINED_RTF = 0.6  # an engine above this real-time factor gets the core before the views do
MAX_INTERVAL_MS = 500  # the views still move twice a second, however busy the machine
PERIOD_S = 0.5  # the share is judged over this much wall time
SLOWER, FASTER = 1.5, 1.25


class ViewRate:
    """The view timer's interval (ms), from the GUI thread's CPU time (``time.thread_time``) and the
    wall time (``time.monotonic``), both in seconds."""

    def __init__(self, fastest_ms: int, cpu_s: float, wall_s: float) -> None:
        self.fastest_ms = fastest_ms
        self.interval_ms = fastest_ms
        self._since = (cpu_s, wall_s)

    def update(self, cpu_s: float, wall_s: float, engine_strained: bool = False) -> int:
        """The interval to use from now; judged again once :data:`PERIOD_S` has passed."""
        cpu_before, wall_before = self._since
        if wall_s - wall_before < PERIOD_S:
            return self.interval_ms
        share = (cpu_s - cpu_before) / (wall_s - wall_before)
        self._since = (cpu_s, wall_s)
        if share > VIEW_CPU_SHARE or engine_strained:
            self.interval_ms = min(MAX_INTERVAL_MS, round(self.interval_ms * SLOWER))
        elif share < VIEW_CPU_SHARE / 2:
            self.interval_ms = max(self.fastest_ms, round(self.interval_ms / FASTER))
        return self.interval_ms
