"""Independent pieces of CPU work side by side: worker processes that each compute on one thread.

Used where the work splits into pieces that share nothing but read-only inputs: the utility
report's segmentation trainings, the embedded phantom's subjects and the preparing of a cohort's
subjects into the cache. Every piece computes on one
thread wherever it runs (in this process when there is one worker), so the results never depend on
the number of workers, and come back in the order of the pieces.

Workers are forked from a fork server (spawned where the platform has none), never from this
process: a plain fork would copy it mid-flight, with its OpenMP pool and any lock another thread
holds. The server is a fresh single-threaded interpreter that has imported only what the pieces need
(``PRELOAD``), so each worker starts in milliseconds; it is started once per process and reused.
A worker ends as soon as the process that started it ends, killed or not.

As with any forkserver or spawn pool, a worker first imports the main module under another name: a
script that calls these functions must keep its top level under ``if __name__ == "__main__":``
(the ``synthshare`` command and pytest do). If workers cannot start, or one dies, the pieces left
run in this process instead, with a warning, and give the same results.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

PRELOAD = ["synthshare.data.phantom_writers", "synthshare.data.cache", "synthshare.data.cohort", "synthshare.reports.utility",
           "monai.losses", "monai.metrics", "monai.networks.nets"]


def available_cpus() -> int:
    """CPU cores this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_workers(requested: int, pieces: int) -> int:
    """Worker processes for ``pieces`` of work: ``requested``, or one per available core when 0; never more than pieces."""
    return max(1, min(requested or available_cpus(), pieces))


def worker_context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _set_threads(n: int) -> int:
    """Set torch's intra-op threads if torch is loaded; the previous count (0 without torch)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return 0
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    return before


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    before = _set_threads(1)
    try:
        yield
    finally:
        if before:
            _set_threads(before)


_SHARED: Any = None  # in a worker: the read-only inputs every piece gets, set once by _init


def _exit_with_parent() -> None:
    """End this worker as soon as the process that started the pool ends, killed or not.

    Without it a worker outlives a killed release by the rest of its piece (minutes of training)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's sentinel pipe closes: the parent is gone
        os._exit(1)

    threading.Thread(target=watch, name="synthshare-parent-watch", daemon=True).start()


def _init(shared: Any) -> None:
    global _SHARED
    _exit_with_parent()
    _set_threads(1)
    _SHARED = shared


def _call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(_SHARED, item)


def run_pieces(
    fn: Callable[[Any, Item], Result], items: Iterable[Item], *, workers: int, shared: Any = None
) -> Iterator[Result]:
    """``fn(shared, item)`` for every item, yielded in the items' order.

    ``fn`` must be a module-level function (workers import it by name); ``shared`` is sent to each
    worker once. With one worker (or one item) everything runs here, on one thread. An error in any
    piece cancels the pieces not yet started and is raised here."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        with one_thread():
            for item in items:
                yield fn(shared, item)
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=worker_context(), initializer=_init,
                               initargs=(shared,))
    done = 0
    try:
        futures = [pool.submit(_call, fn, item) for item in items]
        for future in futures:
            result = future.result()
            done += 1
            yield result
    except BrokenProcessPool as err:
        # a worker died (killed, out of memory, or it could not start: see the module docstring); the
        # results do not depend on where a piece runs, so the rest runs here
        pool.shutdown(wait=True, cancel_futures=True)
        log.warning("worker processes failed (%s); running the remaining %d of %d pieces in this process",
                    err, len(items) - done, len(items))
        with one_thread():
            for item in items[done:]:
                yield fn(shared, item)
        return
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
