"""The one worker mechanism: stale results dropped, cancellation seen by the work, failures as one line,
shutdown within its budget, and training runs queued one after another. The suite's leak guard
(conftest._no_leaks) fails any test here that leaves a thread behind."""
from __future__ import annotations

import threading
import time

import pytest

from aegui.gui.workers import DONE, YIELDED, CancelToken, RunManager, Worker, one_line

WAIT_MS = 5000


@pytest.fixture
def worker(qtbot):
    made = []

    def make(**kwargs):
        w = Worker("test", **kwargs)
        made.append(w)
        return w

    yield make
    for w in made:
        assert w.shutdown(2.0)


class Seen:
    """What a worker delivered, in order."""

    def __init__(self, worker):
        self.items: list = []
        worker.yielded.connect(lambda v: self.items.append(("yielded", v)))
        worker.done.connect(lambda v: self.items.append(("done", v)))
        worker.failed.connect(lambda m: self.items.append(("failed", m)))


def test_a_function_runs_off_the_gui_thread_and_its_result_arrives_on_it(qtbot, worker):
    w = worker()
    where = []
    seen = Seen(w)
    w.done.connect(lambda _: where.append(threading.current_thread()))

    def work(token, a, b=0):
        where.append(threading.current_thread())
        return a + b

    with qtbot.waitSignal(w.done, timeout=WAIT_MS):
        generation = w.submit(work, 2, b=3)
        assert w.busy and w.thread.name == f"aegui-test-{generation}"
    assert seen.items == [("done", 5)]
    assert where[0] is not threading.main_thread() and where[1] is threading.main_thread()
    assert not w.busy and w.thread is None  # delivered, so joined


def test_a_generator_yields_then_returns(qtbot, worker):
    w = worker()
    seen = Seen(w)

    def work(token):
        for i in range(3):
            yield i
        return "end"

    with qtbot.waitSignal(w.done, timeout=WAIT_MS):
        w.submit(work)
    assert seen.items == [("yielded", 0), ("yielded", 1), ("yielded", 2), ("done", "end")]


def test_a_newer_submit_drops_the_older_jobs_late_results(qtbot, worker):
    w = worker(latest_wins=True)
    seen = Seen(w)
    release_a = threading.Event()
    a_finished = threading.Event()

    def slow_a(token):
        try:
            yield "a: first"  # sent before B exists, and delivered
            release_a.wait(5)  # deaf to its token: a late, uncooperative job
            yield "a: late"  # sent after B was submitted: must never arrive
            return "a: done"
        finally:
            a_finished.set()

    def b(token):
        return "b: done"

    a = w.submit(slow_a)
    qtbot.waitUntil(lambda: bool(seen.items), timeout=WAIT_MS)  # A is running and has been heard
    with qtbot.waitSignal(w.done, timeout=WAIT_MS):
        w.submit(b)
    assert not w.is_live(a)
    release_a.set()
    assert a_finished.wait(5)
    qtbot.waitUntil(lambda: not any(t.is_alive() for t in w.threads()), timeout=WAIT_MS)
    qtbot.wait(50)  # anything A queued has been through the event loop by now
    assert seen.items == [("yielded", "a: first"), ("done", "b: done")]


def test_a_message_of_a_dead_generation_is_dropped_however_it_is_sent(qtbot, worker):
    w = worker()
    seen = Seen(w)
    with qtbot.waitSignal(w.done, timeout=WAIT_MS):
        old = w.submit(lambda token: "old")
    # Delivered the way a job delivers, from another thread and from this one: dropped.
    sender = threading.Thread(target=lambda: w._relay.emit(old, YIELDED, "stale"), name="test-stale-sender")
    sender.start()
    sender.join()
    w._relay.emit(old, DONE, "stale")
    qtbot.wait(50)
    assert seen.items == [("done", "old")]


def test_cancel_is_seen_by_the_work_and_nothing_is_delivered(qtbot, worker):
    w = worker()
    seen = Seen(w)
    noticed = threading.Event()
    woken = threading.Event()

    def work(token):
        token.on_cancel(woken.set)  # blocking work is woken by the token
        while not token.is_set():
            time.sleep(0.005)
        noticed.set()
        return "unwanted"

    w.submit(work)
    assert w.busy
    w.cancel()
    assert not w.busy
    assert noticed.wait(5) and woken.is_set()
    assert w.wait(5)
    qtbot.wait(50)
    assert seen.items == []


def test_a_cancelled_generator_is_closed(qtbot, worker):
    w = worker()
    closed = threading.Event()
    step = threading.Event()

    def work(token):
        try:
            while True:
                step.set()
                time.sleep(0.001)
                yield 1
        finally:
            closed.set()

    w.submit(work)
    assert step.wait(5)
    w.cancel()
    assert closed.wait(5)


def test_a_failure_is_one_line_and_the_worker_stays_usable(qtbot, worker):
    w = worker()
    seen = Seen(w)

    def boom(token):
        raise RuntimeError("first line of the problem\nsecond line with details")

    with qtbot.waitSignal(w.failed, timeout=WAIT_MS) as failed:
        w.submit(boom)
    assert failed.args == ["first line of the problem"]
    assert one_line(KeyError()) == "KeyError"
    with qtbot.waitSignal(w.done, timeout=WAIT_MS):
        w.submit(lambda token: 42)
    assert seen.items == [("failed", "first line of the problem"), ("done", 42)]


def test_independent_jobs_run_side_by_side(qtbot, worker):
    w = worker(latest_wins=False)
    results = {}
    both_running = threading.Barrier(2, timeout=5)

    def work(token, name):
        both_running.wait()  # each waits for the other: only concurrent jobs get past this
        return name

    with qtbot.waitSignals([w.done, w.done], timeout=WAIT_MS):
        for name in ("x", "y"):
            w.submit(work, name, on_done=lambda value, name=name: results.setdefault(name, value))
    qtbot.waitUntil(lambda: len(results) == 2, timeout=WAIT_MS)
    assert results == {"x": "x", "y": "y"}


def test_shutdown_joins_within_its_budget(qtbot, worker):
    w = worker()
    started = threading.Event()

    def cooperative(token):
        started.set()
        while not token.wait(0.01):
            pass

    w.submit(cooperative)
    assert started.wait(5)
    t0 = time.monotonic()
    assert w.shutdown(2.0) is True
    assert time.monotonic() - t0 < 2.0
    assert w.threads() == []


def test_shutdown_reports_a_stuck_worker(qtbot, worker):
    w = worker()
    release = threading.Event()
    started = threading.Event()

    def stuck(token):
        started.set()
        release.wait(10)  # deaf to its token

    w.submit(stuck)
    assert started.wait(5)
    t0 = time.monotonic()
    try:
        assert w.shutdown(0.2) is False
        assert time.monotonic() - t0 < 1.0
        assert [t.name for t in w.threads()] == [f"aegui-test-{w.generation}"]
    finally:
        release.set()
    assert w.shutdown(2.0) is True  # a later try joins it


def test_jobs_hear_that_their_owner_is_gone(qtbot):
    import shiboken6
    from PySide6.QtCore import QObject

    owner = QObject()
    w = Worker("owned", owner)
    started = threading.Event()

    def cooperative(token):
        started.set()
        while not token.wait(0.01):
            pass

    w.submit(cooperative)
    assert started.wait(5)
    thread = w.thread
    shiboken6.delete(owner)  # the owner goes without calling shutdown
    thread.join(2.0)
    assert not thread.is_alive()


def test_cancel_token_calls_back_once_and_at_once_when_already_cancelled():
    token = CancelToken()
    calls = []
    token.on_cancel(lambda: calls.append("early"))
    token.cancel()
    token.cancel()
    token.on_cancel(lambda: calls.append("late"))
    assert calls == ["early", "late"] and token.is_set()


# --- RunManager -------------------------------------------------------------------------------------
@pytest.fixture
def manager(qtbot):
    m = RunManager("testrun")
    yield m
    assert m.shutdown(2.0)


def test_queued_runs_start_one_after_another(qtbot, manager):
    events = []
    running = []  # how many runs are inside their work at once
    lock = threading.Lock()

    def run(token, name):
        with lock:
            running.append(name)
            overlap = len(running)
        yield f"{name} step (alone: {overlap == 1})"
        time.sleep(0.05)
        with lock:
            running.remove(name)
        return f"{name} result"

    manager.runStarted.connect(lambda i: events.append(("started", i)))
    manager.runYielded.connect(lambda i, v: events.append(("yielded", i, v)))
    manager.runDone.connect(lambda i, v: events.append(("done", i, v)))
    ids = [manager.submit(run, name) for name in ("a", "b", "c")]
    assert ids == [1, 2, 3]
    assert manager.current == 1 and manager.pending == [2, 3]
    qtbot.waitUntil(lambda: sum(e[0] == "done" for e in events) == 3, timeout=WAIT_MS)
    assert events == [
        ("started", 1), ("yielded", 1, "a step (alone: True)"), ("done", 1, "a result"),
        ("started", 2), ("yielded", 2, "b step (alone: True)"), ("done", 2, "b result"),
        ("started", 3), ("yielded", 3, "c step (alone: True)"), ("done", 3, "c result"),
    ]
    assert not manager.active and manager.worker.threads() == []


def test_a_cancelled_run_lets_the_next_start_only_when_its_thread_has_ended(qtbot, manager):
    events = []
    release = threading.Event()

    def slow(token):
        release.wait(5)  # finishes its step before it looks at the token
        yield "too late"
        return "unwanted"

    def quick(token):
        return "quick result"

    manager.runStarted.connect(lambda i: events.append(("started", i)))
    manager.runDone.connect(lambda i, v: events.append(("done", i, v)))
    first = manager.submit(slow)
    dropped = manager.submit(quick)
    second = manager.submit(quick)
    manager.cancel(dropped)
    assert manager.pending == [second]
    manager.cancel(first)
    qtbot.wait(100)
    assert events == [("started", first)]  # the cancelled run's thread is still busy: nothing new
    release.set()
    qtbot.waitUntil(lambda: ("done", second, "quick result") in events, timeout=WAIT_MS)
    assert events == [("started", first), ("started", second), ("done", second, "quick result")]


def test_shutdown_forgets_the_queue_and_stops_the_running_run(qtbot, manager):
    started = []
    manager.runStarted.connect(started.append)

    def run(token):
        while not token.wait(0.01):
            yield "step"

    manager.submit(run)
    manager.submit(run)
    t0 = time.monotonic()
    assert manager.shutdown(2.0)
    assert time.monotonic() - t0 < 2.0
    qtbot.wait(50)
    assert started == [1] and not manager.active
