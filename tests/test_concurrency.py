"""Callbacks fired together share work: a remembered result is computed once, and audits never wait in a queue."""

from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from journeys import quarter_links
from journeys.attributes import journey_attributes
from journeys.selection import JourneyData
from tests.test_attributes import frames


def working_set() -> JourneyData:
    spells, episodes = frames()
    return JourneyData(spells, journey_attributes(episodes, spells))


def test_a_result_wanted_by_several_threads_at_once_is_computed_once() -> None:
    data, calls, started = working_set(), [], threading.Event()

    def compute() -> str:
        calls.append(1)
        started.set()
        time.sleep(0.2)  # the other threads ask while this one is still computing
        return "flows"

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(data.remember, ("view",), compute)
        started.wait(5)
        others = [pool.submit(data.remember, ("view",), compute) for _ in range(3)]
        assert [first.result(), *[o.result() for o in others]] == ["flows"] * 4
    assert len(calls) == 1


def test_a_failure_reaches_every_waiting_thread_and_the_next_call_tries_again() -> None:
    data, started = working_set(), threading.Event()

    def fail() -> str:
        started.set()
        time.sleep(0.2)
        raise ValueError("no counts for this quarter")

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(data.remember, ("view",), fail)
        started.wait(5)
        waiting = pool.submit(data.remember, ("view",), lambda: "never used")
        for future in (first, waiting):
            with pytest.raises(ValueError, match="no counts"):
                future.result()
    assert data.remember(("view",), lambda: "computed now") == "computed now"


def test_audits_run_by_the_caller_when_the_pool_is_busy() -> None:
    """Both pool threads blocked (other callbacks' audits): the caller runs the queued tasks itself."""
    release = threading.Event()
    blockers = [quarter_links._POOL.submit(release.wait, 10) for _ in range(2)]
    try:
        began = time.perf_counter()
        assert quarter_links.in_parallel([lambda: 1, lambda: 2, lambda: 3]) == [1, 2, 3]
        assert time.perf_counter() - began < 5
    finally:
        release.set()
        for blocker in blockers:
            blocker.result()


def test_warm_up_finds_the_latest_quarters_and_stops_when_the_data_are_replaced() -> None:
    from journeys.flows import Period
    from journeys.stages import load_stage_model
    from journeys.views import warm_up

    model = load_stage_model()
    quarters = [Period(2020, 1), Period(2020, 2)]
    data = working_set()
    gc.unfreeze()
    try:
        warm_up(data, model, quarters, wait=0)
        assert all(data.remembers(("quarter-rows", q.key, model.version)) for q in quarters)
        # then what is alive is out of the cyclic collector's reach (its full collections walked it in 65 ms)
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        replaced = working_set()
        warm_up(replaced, model, quarters, wait=0, current=lambda: False)
        assert not any(replaced.remembers(("quarter-rows", q.key, model.version)) for q in quarters)
        assert gc.get_freeze_count() == 0  # replaced midway: nothing frozen for data no page will use
    finally:
        gc.unfreeze()


def test_loading_more_data_gives_the_frozen_working_set_back_to_the_collector(tmp_path) -> None:
    """views.warm_up freezes the working set it coded; AppState.add unfreezes before it replaces it, so the old
    working set can be collected (a frozen reference cycle would never be)."""
    from journeys.cache import build_inputs
    from journeys.ui.state import AppState
    from tests.conftest import ROOT

    folder = ROOT / "data_samples" / "riverside"
    build = build_inputs(ROOT / "pathway_configs" / "riverside.yaml",
                         sorted(p for p in folder.iterdir() if p.is_file() and p.name != "README.md"), tmp_path)
    gc.freeze()
    try:
        assert gc.get_freeze_count() > 0
        state = AppState([], cache_root=tmp_path)
        state.add(build)
        assert gc.get_freeze_count() == 0  # the new warm-up waits a second before it codes and freezes again
    finally:
        gc.unfreeze()
