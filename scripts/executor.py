"""One way to run a sweep's independent jobs: in this process, on local processes, or on a
Dask distributed cluster.

The accuracy study, ``tent compare``, ``make synth-sweep`` and the energy runs of ``make
report`` are sweeps: many jobs that share some read-only inputs (a network and its images, a
design) and differ in a small item (a scheme and a width, a seed). :func:`run_jobs` runs
``function(shared, item)`` for every item and yields ``(item, result)`` as each finishes:

- ``jobs=1`` and no scheduler: in this process, in order (tests, debugging);
- ``jobs=N``: a pool of N fresh local processes (spawned, one BLAS thread each), each given
  ``shared`` once when it starts;
- ``scheduler="tcp://host:8786"``: the workers of a running Dask scheduler. ``shared`` is
  scattered to every worker once; each item is a Dask task. Dask's client is a
  ``concurrent.futures`` executor, its workers can join and leave during a run, and its
  dashboard shows the jobs: nothing of it is written here.

Every job is a pure function of its inputs, so the results do not depend on where they ran.
"""

import concurrent.futures
import multiprocessing

from sim.toolchain import environment

__all__ = ["run_jobs", "map_jobs", "check_scheduler"]

_shared = None
_BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def check_scheduler(address):
    """``address`` if it looks like a Dask scheduler address (``tcp://host:port``,
    ``tls://…``, ``inproc://…`` or ``host:port``), else a ``ValueError``."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"--scheduler must be a Dask scheduler address such as "
                         f"tcp://host:8786, not {address!r}")
    scheme, sep, rest = address.partition("://")
    target = rest if sep else address
    if sep and scheme not in ("tcp", "tls", "inproc", "ws", "wss", "ucx"):
        raise ValueError(f"--scheduler {address!r}: unknown protocol {scheme!r} (tcp, tls, "
                         f"inproc, ws, wss or ucx)")
    if scheme != "inproc" and ":" not in target:
        raise ValueError(f"--scheduler {address!r} needs a port, e.g. tcp://host:8786")
    return address


def _install(shared):
    global _shared
    _shared = shared


def _call(function, item):
    return function(_shared, item)


def run_jobs(function, shared, items, *, jobs=1, scheduler=None):
    """``(item, function(shared, item))`` for every item, as each finishes.

    Parameters
    ----------
    function : callable
        A module-level function (it travels to other processes by reference).
    shared
        Read-only inputs every job needs, sent once per worker.
    items : iterable
        One per job, small.
    jobs : int
        Local processes (1: in this process). Ignored with ``scheduler``.
    scheduler : str, optional
        A Dask scheduler's address: run on its workers instead.
    """
    items = list(items)
    if scheduler is not None:
        yield from _run_on_dask(function, shared, items, check_scheduler(scheduler))
    elif jobs <= 1 or len(items) <= 1:
        for item in items:
            yield item, function(shared, item)
    else:
        with _one_blas_thread(), concurrent.futures.ProcessPoolExecutor(
                min(jobs, len(items)), mp_context=multiprocessing.get_context("spawn"),
                initializer=_install, initargs=(shared,)) as pool:
            futures = {pool.submit(_call, function, item): index
                       for index, item in enumerate(items)}
            for future in concurrent.futures.as_completed(futures):
                yield items[futures[future]], future.result()


def _one_blas_thread():
    """Worker processes started meanwhile use one BLAS thread each: ``jobs`` processes with a
    BLAS thread per core each ran 2.5-3x slower than with one (measured on 2 cores). Dask's
    workers do the same by default."""
    return environment(dict.fromkeys(_BLAS_THREADS, "1"))


def _run_on_dask(function, shared, items, address):
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout="10s")
    except OSError as error:
        raise ConnectionError(f"cannot reach the Dask scheduler at {address}: {error}; start "
                              f"one with dask scheduler (see the README)") from None
    with client:
        stored = client.scatter(shared, broadcast=True)
        futures = {client.submit(function, stored, item, pure=False): index
                   for index, item in enumerate(items)}
        for future in as_completed(futures):
            yield items[futures[future]], future.result()


def map_jobs(function, shared, items, *, jobs=1, scheduler=None):
    """``[function(shared, item) for item in items]``, in the items' order, run as
    :func:`run_jobs` runs them."""
    items = list(items)
    results = [None] * len(items)
    for (index, _), result in run_jobs(_Numbered(function), shared, list(enumerate(items)),
                                       jobs=jobs, scheduler=scheduler):
        results[index] = result
    return results


class _Numbered:
    """``function(shared, item)`` of a numbered item ``(index, item)``; a class so that it
    travels to other processes by reference to ``function``."""

    def __init__(self, function):
        self.function = function

    def __call__(self, shared, numbered):
        return self.function(shared, numbered[1])
