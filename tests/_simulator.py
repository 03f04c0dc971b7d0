"""A faster wait in Numba's CUDA simulator, for the simulator runs of ``_cuda_cases.py`` and
``_cuda_training_cases.py``.

The simulator runs a block as one Python thread per GPU thread, and its ``BlockManager.run`` waits
for them by polling: a loop that checks every live thread, over and over, holding the GIL while
the threads it waits for need it to run. In kernels with barriers most of the time went to that
loop: ``_cuda_cases.norm_cases`` took 62 s, 5.6 s with the wait below (``ctc_cases`` 3.4 s and
0.8 s, ``_cuda_training_cases.autograd_cases`` 27-30 s and 20 s).

``faster_block_loop`` replaces ``run`` with the same loop (the same checks, in the same order:
every thread blocked in ``syncthreads`` releases them all, an exception in one aborts the block and
is raised) that, when a thread is still running, waits up to 0.2 ms for it to end (``join``, which
lets go of the GIL) before it polls again. It changes when the loop looks, not what it does, and
only in these runs; where the simulator is not the one it was written against (another
``BlockManager.run``), it leaves the simulator alone and says so.
"""
from __future__ import annotations

import inspect

import numpy as np

WAIT_S = 0.0002


def faster_block_loop() -> bool:
    """Install the wait; returns whether it was installed."""
    try:
        from numba.cuda.simulator import kernel as sim
    except ImportError:
        return False
    manager, thread = getattr(sim, "BlockManager", None), getattr(sim, "BlockThread", None)
    try:
        source = inspect.getsource(manager.run)
    except (AttributeError, OSError, TypeError):
        return False
    if thread is None or not all(word in source for word in ("livethreads", "blockedthreads", "syncthreads_blocked",
                                                            "syncthreads_event", "t.exception", "abort")):
        return False

    def run(self, grid_point, *args):
        threads, livethreads, blockedthreads = set(), set(), set()
        for block_point in np.ndindex(*self._block_dim):
            def target():
                self._f(*args)
            t = thread(target, self, grid_point, block_point, self._debug)
            t.start()
            threads.add(t)
            livethreads.add(t)
        while livethreads:
            running = None
            for t in livethreads:
                if t.syncthreads_blocked:
                    blockedthreads.add(t)
                elif t.exception:  # abort the others, without joining them, and raise it
                    for other in threads:
                        other.abort = True
                        other.syncthreads_blocked = False
                        other.syncthreads_event.set()
                    raise t.exception[0].with_traceback(t.exception[1])
                else:
                    running = t
            if livethreads == blockedthreads:  # every live thread at the barrier: release them
                for t in blockedthreads:
                    t.syncthreads_blocked = False
                    t.syncthreads_event.set()
                blockedthreads = set()
            elif running is not None:
                running.join(WAIT_S)  # the threads run meanwhile: this loop no longer takes the GIL from them
            livethreads = {t for t in livethreads if t.is_alive()}
        for t in threads:  # an exception set before its thread ended, after the loop last looked
            if t.exception:
                raise t.exception[0].with_traceback(t.exception[1])

    manager.run = run
    return True
