"""One mechanism for everything that runs off the GUI thread.

A ``Worker`` runs a function, or a generator function, in a plain
``threading.Thread`` and brings what it produces back to the GUI thread
through a queued signal: ``yielded(value)`` for each value a generator yields,
then ``done(result)`` (the return value) or ``failed(message)`` (one line).
The work gets a ``CancelToken`` as its first argument and looks at it
between chunks; blocking work can ask the token to wake it
(``token.on_cancel(control.stop)``).

Every start has a generation id. A job whose result is no longer wanted
(cancelled, or superseded: in "latest wins" mode a newer submit cancels the
older job) is dead on the GUI side at once: whatever it still sends is
dropped there, so a stale result never arrives, however late its thread ends.

Why a plain thread and not a QThread: nothing Qt runs in the worker (it only
emits), and a plain thread cannot end in "QThread: Destroyed while thread is
still running" when a window closes. ``shutdown(timeout)`` cancels every job
and joins the threads within the close budget; threads are daemons only so a
worker stuck in a C call can never keep the process alive, not as a way to
leave them behind.

``RunManager`` holds any number of training runs and starts them one after
another, each in its own thread: the queue experiments will fill.

Ideas from superqt's ``utils/_qthreading.py`` (one generator worker with
yielded/finished/errored) and Orange3's ``widgets/utils/concurrent.py`` (a
pure run(data, state) function; a newer task cancels the older one).
"""
from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)

# What a job's thread sends to the GUI thread: values on the way, then exactly one final message.
YIELDED, DONE, FAILED, ENDED = range(4)  # ENDED: cancelled work that ended without a result
JOIN_AFTER_FINAL_S = 1.0  # after its final message a thread only has to return


class CancelToken(threading.Event):
    """Set when the work's result is no longer wanted. The work polls ``is_set()`` (or passes
    ``token.is_set`` as a cancel callable); ``on_cancel(fn)`` also calls ``fn`` at that moment,
    on the cancelling thread, to wake work that is blocked (a paused trainer)."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def on_cancel(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if not self.is_set():
                self._callbacks.append(fn)
                return
        fn()  # already cancelled: at once

    def set(self) -> None:
        with self._lock:
            if self.is_set():
                return
            super().set()
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn()

    cancel = set


def one_line(exc: BaseException) -> str:
    """An exception as the one line a user is shown: its message, else its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class _Job:
    generation: int
    thread: threading.Thread
    token: CancelToken
    live: bool = True  # its results are still wanted
    callbacks: dict = field(default_factory=dict)  # "yielded", "done", "failed" -> callable, optional


def _cancel_jobs(jobs: dict, *_) -> None:
    for job in list(jobs.values()):
        job.live = False
        job.token.set()


class Worker(QObject):
    """Runs ``fn(token, *args, **kwargs)`` off the GUI thread; see the module's docstring.

    ``latest_wins=True``: a submit cancels every older job (projections, scoring, loads).
    ``latest_wins=False``: jobs are independent and run side by side; per-job callbacks
    (``on_yield``, ``on_done``, ``on_fail``) tell them apart.
    """

    yielded = Signal(object)
    done = Signal(object)
    failed = Signal(str)
    ended = Signal(int)  # a job's thread has finished, wanted or not (after its done/failed)
    busyChanged = Signal(bool)
    # Job thread -> GUI thread: (generation, kind, payload). Queued even when emitted on the
    # GUI thread, so deliveries always come from the event loop, in order.
    _relay = Signal(int, int, object)

    def __init__(self, name: str, parent: QObject | None = None, latest_wins: bool = True,
                 initializer: Callable[[], None] | None = None):
        super().__init__(parent)
        self.name = name
        self.latest_wins = latest_wins
        self._initializer = initializer  # runs first in each job's thread (e.g. a torch thread policy)
        self._generation = 0
        self._jobs: dict[int, _Job] = {}
        self._busy = False
        self._relay.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        # If the owner goes without calling shutdown, its jobs still hear that nobody waits for them.
        self.destroyed.connect(partial(_cancel_jobs, self._jobs))

    # --- state ------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """The newest job's generation (0 before the first submit)."""
        return self._generation

    @property
    def busy(self) -> bool:
        """Whether a job whose result is wanted has not delivered it yet."""
        return self._busy

    @property
    def thread(self) -> threading.Thread | None:
        """The newest job's thread until it has ended and been joined; None after."""
        job = self._jobs.get(self._generation)
        return job.thread if job is not None else None

    def threads(self) -> list[threading.Thread]:
        return [job.thread for job in self._jobs.values()]

    def is_live(self, generation: int) -> bool:
        job = self._jobs.get(generation)
        return job is not None and job.live

    # --- commands (GUI thread) -------------------------------------------------------------------
    def submit(self, fn: Callable, *args, on_yield: Callable | None = None, on_done: Callable | None = None,
               on_fail: Callable | None = None, **kwargs) -> int:
        """Start ``fn(token, *args, **kwargs)`` in a new thread; returns its generation."""
        if self.latest_wins:
            self.cancel()
        self._generation += 1
        generation = self._generation
        token = CancelToken()
        thread = threading.Thread(target=self._run, args=(generation, token, fn, args, kwargs),
                                  name=f"aegui-{self.name}-{generation}", daemon=True)
        callbacks = {k: v for k, v in (("yielded", on_yield), ("done", on_done), ("failed", on_fail)) if v}
        self._jobs[generation] = _Job(generation, thread, token, callbacks=callbacks)
        self._update_busy()
        thread.start()
        return generation

    def cancel(self, generation: int | None = None) -> None:
        """Cancel one job (or all): its token is set and nothing more of it is delivered."""
        jobs = self._jobs.values() if generation is None else [self._jobs[generation]] if generation in self._jobs else []
        for job in list(jobs):
            job.live = False
            job.token.set()
        self._update_busy()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every job's thread has ended (tests and scripts); True when they have."""
        deadline = time.monotonic() + timeout
        for thread in self.threads():
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads())

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel every job and join the threads within ``timeout`` seconds in all; True when none
        is left running. A thread that did not end is reported (False) and kept for a later try."""
        self.cancel()
        deadline = time.monotonic() + timeout
        for generation, job in list(self._jobs.items()):
            job.thread.join(max(0.0, deadline - time.monotonic()))
            if not job.thread.is_alive():
                del self._jobs[generation]
        stuck = [job.thread.name for job in self._jobs.values()]
        if stuck:
            log.warning("worker threads did not end within %.1f s: %s", timeout, ", ".join(stuck))
        return not stuck

    # --- the job's thread: runs the work and emits, touches nothing else --------------------------------
    def _run(self, generation: int, token: CancelToken, fn: Callable, args: tuple, kwargs: dict) -> None:
        emit = self._relay.emit
        kind, payload = ENDED, None
        try:
            if self._initializer is not None:
                self._initializer()
            result = fn(token, *args, **kwargs)
            if inspect.isgenerator(result):
                result = yield_from(result, token, lambda value: emit(generation, YIELDED, value))
            if not token.is_set():
                kind, payload = DONE, result
        except Exception as exc:  # the GUI shows it; the app must stay usable
            if not token.is_set():  # a cancelled job's exception is as unwanted as its result
                log.debug("work in %s failed", threading.current_thread().name, exc_info=True)
                kind, payload = FAILED, one_line(exc)
        try:
            emit(generation, kind, payload)
        except RuntimeError:  # the worker object is already gone: nobody is waiting
            pass

    # --- back on the GUI thread ------------------------------------------------------------------------
    @Slot(int, int, object)
    def _deliver(self, generation: int, kind: int, payload) -> None:
        job = self._jobs.get(generation)
        if job is None:
            return  # joined and forgotten already (shutdown), or never ours
        if kind == YIELDED:
            if job.live:
                self._emit(job, "yielded", payload)
            return
        # The final message: the thread has nothing left to do but return.
        job.thread.join(JOIN_AFTER_FINAL_S)
        if not job.thread.is_alive():
            del self._jobs[generation]
        wanted, job.live = job.live, False
        self._update_busy()
        if wanted and kind == DONE:
            self._emit(job, "done", payload)
        elif wanted and kind == FAILED:
            self._emit(job, "failed", payload)
        self.ended.emit(generation)

    def _emit(self, job: _Job, what: str, payload) -> None:
        callback = job.callbacks.get(what)
        if callback is not None:
            callback(payload)
        getattr(self, what).emit(payload)

    def _update_busy(self) -> None:
        busy = any(job.live for job in self._jobs.values())
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)


def yield_from(generator, token: CancelToken, send: Callable) -> object:
    """Run ``generator`` to its end, sending each value; returns its return value. Between values
    the token is looked at: once it is set, the generator is closed (its ``finally`` blocks run)."""
    try:
        while True:
            if token.is_set():
                generator.close()
                return None
            send(next(generator))
    except StopIteration as stop:
        return stop.value


class RunManager(QObject):
    """Training runs in a queue: each starts when the one before it has ended, in its own thread.

    ``submit`` queues a run (it starts at once when none is running) and returns its id; the
    run's messages come with it. A cancelled run's results are dropped at once, but the next
    run starts only when its thread has ended, so two runs never train at the same time.
    """

    runStarted = Signal(int)
    runYielded = Signal(int, object)
    runDone = Signal(int, object)
    runFailed = Signal(int, str)
    queueChanged = Signal()

    def __init__(self, name: str = "train", parent: QObject | None = None):
        super().__init__(parent)
        self.worker = Worker(name, self, latest_wins=False)
        self.worker.ended.connect(self._on_ended)
        self._queue: deque[tuple[int, Callable, tuple, dict]] = deque()
        self._next_id = 0
        self._current: int | None = None
        self._current_generation = 0

    @property
    def current(self) -> int | None:
        """The id of the run whose thread is running, or None."""
        return self._current

    @property
    def pending(self) -> list[int]:
        return [run_id for run_id, *_ in self._queue]

    @property
    def active(self) -> bool:
        return self._current is not None or bool(self._queue)

    @property
    def next_id(self) -> int:
        """The id the next ``submit`` will return (to register a run before it can start)."""
        return self._next_id + 1

    def submit(self, fn: Callable, *args, **kwargs) -> int:
        """Queue ``fn(token, *args, **kwargs)`` (a generator function, typically) as a run."""
        self._next_id += 1
        self._queue.append((self._next_id, fn, args, kwargs))
        self.queueChanged.emit()
        self._start_next()
        return self._next_id

    def cancel(self, run_id: int) -> None:
        """Drop a queued run, or cancel the running one (its results are dropped)."""
        if run_id == self._current:
            self.worker.cancel(self._current_generation)
            return
        kept = deque(item for item in self._queue if item[0] != run_id)
        if len(kept) != len(self._queue):
            self._queue = kept
            self.queueChanged.emit()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Forget the queue, cancel the running run and join its thread; True when none is left."""
        self._queue.clear()
        ok = self.worker.shutdown(timeout)
        if ok:
            self._current = None
        return ok

    def _start_next(self) -> None:
        if self._current is not None or not self._queue:
            return
        run_id, fn, args, kwargs = self._queue.popleft()
        self._current = run_id
        self._current_generation = self.worker.submit(
            fn, *args, on_yield=partial(self.runYielded.emit, run_id), on_done=partial(self.runDone.emit, run_id),
            on_fail=partial(self.runFailed.emit, run_id), **kwargs)
        self.queueChanged.emit()
        self.runStarted.emit(run_id)

    def _on_ended(self, generation: int) -> None:
        if generation == self._current_generation and self._current is not None:
            self._current = None
            self._start_next()
