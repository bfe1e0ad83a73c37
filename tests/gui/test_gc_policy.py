"""Cyclic garbage is collected on the GUI thread only (gui/gc_policy.py): a worker thread that
allocates far past Python's threshold collects nothing, the GUI thread's check does."""
from __future__ import annotations

import gc
import threading


class Cycle:
    """An object in a reference cycle that says, when it goes, which thread freed it."""

    def __init__(self, freed_in: list):
        self.me = self
        self.freed_in = freed_in

    def __del__(self):
        self.freed_in.append(threading.current_thread().name)


def test_cycles_are_collected_by_the_gui_thread_not_by_a_busy_worker(qapp, _gui_thread_gc):
    collector = _gui_thread_gc
    assert not gc.isenabled()
    gc.collect()
    freed_in: list[str] = []
    Cycle(freed_in)  # unreachable at once, but only a collection can free it

    kept = []

    def allocate():  # containers kept alive count towards the threshold (freed ones count back)
        kept.append([[] for _ in range(50 * collector.thresholds[0])])

    worker = threading.Thread(target=allocate, name="busy-worker")
    worker.start()
    worker.join()
    assert freed_in == []  # with automatic collection the worker would have freed it
    assert collector.check() > 0
    assert freed_in == [threading.main_thread().name]
    assert collector.check() == 0  # nothing due right after a collection
    kept.clear()
