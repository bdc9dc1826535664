"""The live views redraw as often as the GUI thread can spare: slower while drawing takes more than its
share of a core, back to the full rate once it takes much less."""

from gui.view_rate import MAX_INTERVAL_MS, PERIOD_S, VIEW_CPU_SHARE, ViewRate


def _run(rate, cpu_share, seconds, start_s):
    """Feed ``seconds`` of timer ticks at the rate's own interval, the GUI thread busy ``cpu_share`` of the time."""
    wall_s = start_s
    while wall_s < start_s + seconds:
        wall_s += rate.interval_ms / 1000
        rate.update(cpu_share * wall_s, wall_s)
    return wall_s


def test_a_busy_gui_thread_redraws_less_often_and_recovers_when_drawing_is_cheap_again():
    rate = ViewRate(33, 0.0, 0.0)
    assert rate.update(0.01, 0.1) == 33  # judged only once a period has passed
    now_s = _run(rate, 2 * VIEW_CPU_SHARE, 20, 0.0)  # a slow machine: drawing takes twice its share
    assert rate.interval_ms == MAX_INTERVAL_MS
    _run(rate, VIEW_CPU_SHARE / 4, 20, now_s)  # drawing cheap again
    assert rate.interval_ms == 33


def test_a_share_within_the_budget_keeps_the_rate():
    rate = ViewRate(33, 0.0, 0.0)
    _run(rate, 0.75 * VIEW_CPU_SHARE, 10 * PERIOD_S, 0.0)
    assert rate.interval_ms == 33


def test_a_strained_engine_slows_the_views_however_cheap_drawing_is():
    rate = ViewRate(33, 0.0, 0.0)
    wall_s = 0.0
    while wall_s < 20:
        wall_s += rate.interval_ms / 1000
        rate.update(0.0, wall_s, engine_strained=True)
    assert rate.interval_ms == MAX_INTERVAL_MS
