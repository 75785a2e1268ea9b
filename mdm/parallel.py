"""Spread pure computation (profiles, comparisons) of a large import over the machine's cores.

Worker processes are forked after the data they read has been put in `shared()`, so nothing big
is pickled on the way in; only the (small) results travel back. Workers never touch the
database. Where forking is impossible or not worth it (a django-q2 worker is a daemon process
and may not have children; a small batch) the same function runs in this process.
`MDM_WORKERS` caps the number of processes (default: the number of cores; 1 turns it off).
`beside_connection` runs database work in a thread on a second connection (PostgreSQL).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

MINIMUM_ITEMS = 2000  # below this the fork costs more than it saves
_shared: dict = {}


def shared() -> dict:
    """The data `fork_map`'s caller handed to its workers."""
    return _shared


def _share(data: dict) -> dict:
    """Make `data` what `shared()` gives; returns what it gave before, to be given again when
    done: a map run in this process (one core) may run another inside it (a one-chunk file's
    candidates, found while the estimate's pairs wait to be compared here)."""
    outer = dict(_shared)
    _shared.clear()
    _shared.update(data)
    return outer


def worker_count() -> int:
    configured = max(int(getattr(settings, "MDM_WORKERS", 1) or 1), 1)
    if configured < 2 or multiprocessing.current_process().daemon:
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return configured


def _tasks(
    function: Callable, items: Sequence, workers: int, per_slice: bool = False
) -> list[tuple[Callable, Sequence, bool]]:
    """`_run_slice`'s tasks: a few slices per worker even out slices that happen to be slower."""
    size = max(len(items) // (workers * 4), 1)
    return [
        (function, items[start : start + size], per_slice) for start in range(0, len(items), size)
    ]


def _run_slice(task: tuple[Callable, Sequence, bool]):
    function, items, per_slice = task
    return function(items) if per_slice else [function(item) for item in items]


def fork_map(
    function: Callable,
    items: Sequence,
    *,
    data: dict,
    minimum: int | None = None,
    meanwhile: Callable[[], object] | None = None,
    meanwhile_is_short: bool = False,
    per_slice: bool = False,
    each: Callable[[list], object] | None = None,
) -> list:
    """`[function(item) for item in items]`, in forked processes when there are enough items;
    with `per_slice`, the list of `function(part)` for consecutive parts of the items instead
    (see `fork_pool`). `each` is called in this process with the results of each part in
    turn, as soon as they are in (work on the first results while the workers make the
    rest); not with `meanwhile`.

    `function` must be a module-level function (it is sent by name); it reads `data` through
    `shared()`. Results come back in the order of `items`. `meanwhile` is called in this process
    while the workers run (the database writes of a chunk that do not depend on their results),
    so the parent's core is not idle: the workers are then one fewer, as the parent's core is
    taken, unless `meanwhile_is_short` (much shorter than the map: it shares the cores with
    as many workers as cores); with none left, `meanwhile` runs first and `function` in this
    process after it.
    """
    if each is not None and meanwhile is not None:
        raise ValueError("fork_map takes `each` or `meanwhile`, not both")
    outer = _share(data)
    try:
        taking = meanwhile is not None and not meanwhile_is_short  # the parent's core
        count = worker_count() - taking
        least = 1 if taking else 2  # one worker beside a busy parent pays
        if count < least or len(items) < (MINIMUM_ITEMS if minimum is None else minimum):
            if meanwhile is not None:
                meanwhile()
            parts = [function(items)] if per_slice else [[function(item) for item in items]]
            for part in parts if each is not None else ():
                each(part)
            return parts if per_slice else parts[0]
        with multiprocessing.get_context("fork").Pool(count) as pool:
            tasks = _tasks(function, items, count, per_slice)
            if each is not None:
                parts = []
                for part in pool.imap(_run_slice, tasks):
                    each(part)
                    parts.append(part)
            else:
                pending = pool.map_async(_run_slice, tasks)
                if meanwhile is not None:
                    meanwhile()
                parts = pending.get()
        return parts if per_slice else [result for part in parts for result in part]
    finally:
        _share(outer)


@contextmanager
def fork_pool(data: dict, *, items: int, minimum: int | None = None) -> Iterator[Callable]:
    """Workers forked once over `data`, for several maps whose items this process makes while
    the workers run the maps before: `fork_map` forks for each map, and its workers know only
    what existed when they were forked.

    Yields `submit(function, items, per_slice=False)`, which starts a map at once and returns
    a function that waits for its results and gives them, in the order of `items`; with
    `per_slice`, `function` takes a slice of the items at once and its results come back as
    the list of what it returned for each slice, in order (a function that works on arrays).
    `function` is module-level and reads `data` through `shared()`; the items travel to the
    workers pickled, so they should be small (pairs of numbers). Every core gets a worker: what
    this process does meanwhile shares the cores with them (for short work; `fork_map`'s
    `meanwhile` is for work as long as the map). `items` is how many the maps will have in all:
    below `minimum` (MINIMUM_ITEMS), or where no process can be forked (see `worker_count`),
    each map runs in this process when its results are asked for. Ask for every result inside
    the `with` block.
    """
    outer = _share(data)
    try:
        count = worker_count()
        if count < 2 or items < (MINIMUM_ITEMS if minimum is None else minimum):

            def here(
                function: Callable, items: Sequence, per_slice: bool = False
            ) -> Callable[[], list]:
                if per_slice:
                    return lambda: [function(items)]
                return lambda: [function(item) for item in items]

            yield here
            return
        with multiprocessing.get_context("fork").Pool(count) as pool:

            def submit(
                function: Callable, items: Sequence, per_slice: bool = False
            ) -> Callable[[], list]:
                pending = pool.map_async(_run_slice, _tasks(function, items, count, per_slice))
                if per_slice:
                    return pending.get
                return lambda: [result for part in pending.get() for result in part]

            yield submit
    finally:
        _share(outer)


def beside_connection(work: Callable[[], object], beside: bool) -> Callable[[], object]:
    """With `beside`, start `work()` on a database connection of its own, in a thread, while
    this one goes on; returns a function that waits for it and gives its result (or raises
    what it raised), and whose `done()` tells whether it has finished. Without, `work`
    itself: it runs when its result is asked for.

    For PostgreSQL, where the server works for each connection on a core of its own (on
    SQLite both would be served in this process, and writers exclude each other). The caller
    vouches that another connection sees every row `work` needs: it sees only what is
    committed; and that the two do not wait for each other's locks."""
    if not beside:
        return work
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # raised again in the thread that asks
            result["error"] = exc
        finally:
            connections.close_all()  # this thread's own

    thread = threading.Thread(target=run, name="concord-beside", daemon=True)
    thread.start()

    def wait():
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    wait.done = lambda: not thread.is_alive()
    return wait


class StatementsBeside:
    """Database work run in order on a thread that shares this thread's connection (and its
    transaction), while this thread goes on with work of its own; see `statements_beside`."""

    def __init__(self, enabled: bool):
        self._thread = None
        self.abandoned = False
        if not enabled or worker_count() < 2:
            return  # `submit` runs the work at once
        self._alias = DEFAULT_DB_ALIAS
        self._connection = connections[self._alias]
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._done = threading.Condition()
        self._pending = 0  # submitted, not yet done
        self._error: BaseException | None = None
        self._connection.inc_thread_sharing()
        self._thread = threading.Thread(target=self._run, name="concord-statements", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connections[self._alias] = self._connection
        while (work := self._queue.get()) is not None:
            try:
                if self._error is None and not self.abandoned:  # later work may rely on earlier
                    work()
            except BaseException as exc:  # raised again in the thread that waits
                self._error = exc
            finally:
                with self._done:
                    self._pending -= 1
                    self._done.notify_all()

    def submit(self, work: Callable[[], object]) -> None:
        """Run `work()` after the work submitted before it. Until `wait`, this thread must not
        touch the database: the two would share one connection."""
        if self._thread is None:
            work()
            return
        with self._done:
            self._pending += 1
        self._queue.put(work)

    def wait(self) -> None:
        """Wait until the submitted work is done (raising what it raised); the connection is
        this thread's again until the next `submit`."""
        if self._thread is None:
            return
        with self._done:
            self._done.wait_for(lambda: self._pending == 0)
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._connection.dec_thread_sharing()
            self._thread = None


@contextmanager
def statements_beside(enabled: bool = True) -> Iterator[StatementsBeside]:
    """A `StatementsBeside` for the block: its work is done (or abandoned, should the block
    raise) before the block is left, so nothing runs on the connection after its transaction.

    SQLite lets go of Python while it runs a statement, so a chunk's key rows go in on one core
    while its decisions are made on the other. Without a second core (or not `enabled`), work
    runs as it is submitted."""
    beside = StatementsBeside(enabled)
    try:
        yield beside
        beside.wait()
    except BaseException:
        beside.abandoned = True  # what has not begun is left undone (it would be rolled back)
        raise
    finally:
        beside._stop()  # waits for the work under way


def ahead(produce: Callable[[], Iterable], *, depth: int = 2, nice: int = 10) -> Iterator:
    """The items of `produce()`, made in a forked process up to `depth` items ahead of the one
    this process takes.

    For a pipeline whose first stage needs no database (reading and preparing the next chunk of
    a file): that stage then runs on the core this process leaves idle in its serial steps,
    instead of before each chunk on both. The process is forked at once, so call this while
    the heap is small: pages the two share are copied as either writes to them (forked after a
    100,000-row sample was read, it cost 500 MB at 200,000 records). It runs `nice`r, taking
    what is left over rather than slowing the work on the current item. Each item waits
    pickled in a file, not in memory, until it is taken; an exception raised in `produce` is
    raised here. Where no process can be forked (see `worker_count`) the items are made here.
    """
    if worker_count() < 2:
        return iter(produce())
    context = multiprocessing.get_context("fork")
    spool = tempfile.mkdtemp(prefix="concord-ahead-")
    room = context.Semaphore(depth)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_produce, args=(produce, sender, room, spool, nice), daemon=True
    )
    process.start()
    sender.close()  # the child's end: once it is gone, a read here ends in EOFError
    return _Received(receiver, process, room, spool)


def _produce(produce: Callable[[], Iterable], sender, room, spool: str, nice: int) -> None:
    """The forked process of `ahead`: never touches the parent's database connection."""
    gc.freeze()  # the parent's objects are not walked (nor their pages copied)
    gc.disable()  # what is made here is freed by reference counting once written
    os.nice(nice)
    try:
        for number, item in enumerate(produce()):
            room.acquire()  # at most `depth` items wait
            path = os.path.join(spool, f"{number}.pickle")
            with open(path, "wb") as handle:
                pickle.dump(item, handle, protocol=pickle.HIGHEST_PROTOCOL)
            del item
            sender.send(("item", path))
        sender.send(("done", None))
    except BaseException as exc:  # raised again in the parent
        try:
            sender.send(("error", exc))
        except Exception:  # an exception that does not pickle: its text does
            sender.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Received:
    """The parent's side of `ahead`. An iterator rather than a generator: a generator that is
    never started does not run its `finally` when dropped, and the process would stay behind,
    waiting for room (CI saw one outlive its test)."""

    def __init__(self, receiver, process, room, spool: str):
        self.receiver, self.process, self.room, self.spool = receiver, process, room, spool
        self.closed = False

    def __iter__(self) -> Iterator:
        return self

    def __next__(self):
        if self.closed:
            raise StopIteration
        try:
            kind, value = self.receiver.recv()
        except EOFError:
            self.close()
            raise RuntimeError(
                f"the process preparing the input stopped (exit code {self.process.exitcode})"
            ) from None
        except BaseException:
            self.close()
            raise
        if kind == "done":
            self.close()
            raise StopIteration
        if kind == "error":
            self.close()
            raise value
        paused = gc.isenabled()
        gc.disable()  # unpickling 50,000 records walked the whole heap: 1.8 s, not 0.44
        try:
            with open(value, "rb") as handle:
                item = pickle.load(handle)  # noqa: S301 (written by our own child)
        except BaseException:
            self.close()
            raise
        finally:
            if paused:
                gc.enable()
        os.remove(value)
        self.room.release()
        return item

    def close(self) -> None:
        """Stop the process (if the caller stops early) and remove what it left."""
        if self.closed:
            return
        self.closed = True
        self.receiver.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        shutil.rmtree(self.spool, ignore_errors=True)

    def __del__(self) -> None:
        if not getattr(self, "closed", True):  # not when __init__ itself failed
            self.close()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run a batch step without Python's cyclic garbage collector, and collect once after it.

    A chunk of an import allocates millions of objects that live until the chunk ends; the
    collector kept walking all of them (a quarter of a 100,000-record import), and in forked
    workers its walk writes to every object's header, so each worker copied the pages it only
    read. Reference counting still frees everything as usual; the few cycles a chunk leaves
    are collected at its end. The objects that were alive before the step are frozen for its
    length, so that one collection walks only what the step made (it walked the whole heap:
    0.2 s of a 10,000-record import). Nested uses pause once.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
        gc.unfreeze()
