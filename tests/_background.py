"""Subprocess jobs that start when collection ends and run while the other tests run.

The suite's slowest tests each wait on one single-threaded subprocess: the bounds-checked compile
of every kernel (test_boundscheck.py, about two minutes) and the two CUDA-simulator runs
(test_cuda_kernels.py, about four minutes; test_cuda_training.py, about one). Run in line, the
second core of a 2-core CI machine idles through them. A test module declares its jobs in a
module-level ``BACKGROUND = {name: make}`` (``make()`` returns the keyword arguments of ``Job``)
and marks the tests that use one with ``@pytest.mark.background(name)``. The conftest starts the
jobs of the marked tests it collected, in order on WORKERS threads, and moves those tests to the
end of the run. (On one thread the jobs' chain, 450 s, was the whole suite's length in CI; the
session's own tests finish sooner and leave a core to a second worker.) A test then calls ``result(name)``,
which waits for its job, or runs it in line if nothing started it. NUMCONV_TEST_BACKGROUND=0 runs
every job in line, where its test asks for it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time

_jobs = {}  # name -> Job
_lock = threading.Lock()


class Job:
    """One subprocess: ``args`` run in ``cwd`` with ``env``, killed after ``timeout`` seconds."""

    def __init__(self, name, args, env, cwd, timeout):
        self.name, self.args, self.env, self.cwd, self.timeout = name, args, env, cwd, timeout
        self.done = threading.Event()
        self.started = False
        self.proc = None
        self.returncode, self.stdout, self.stderr = None, "", ""
        self.timed_out = False
        self.seconds = None  # wall time of the subprocess, once it ran

    def run(self):
        t0 = time.perf_counter()
        try:
            self.proc = subprocess.Popen(self.args, env=self.env, cwd=self.cwd, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
            try:
                self.stdout, self.stderr = self.proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.stdout, self.stderr = self.proc.communicate()
                self.timed_out = True
            self.returncode = self.proc.returncode
        except Exception as exc:  # noqa: BLE001 - a job that cannot start is a failed job, not a hung test
            self.returncode, self.stderr = -1, f"{type(exc).__name__}: {exc}"
        finally:
            self.seconds = time.perf_counter() - t0
            self.done.set()


_scratch = []


def scratch_dir(prefix):
    """A fresh directory for a job's files, removed by ``finish``."""
    path = tempfile.mkdtemp(prefix=prefix)
    _scratch.append(path)
    return path


WORKERS = int(os.environ.get("NUMCONV_TEST_BACKGROUND_WORKERS", "2"))  # threads that run the jobs


def start(makers):
    """Make the jobs ``makers`` ({name: make}) names and run them, in order, on WORKERS threads
    (each takes the next job not yet taken)."""
    jobs = []
    with _lock:
        for name, make in makers.items():
            if name not in _jobs:
                _jobs[name] = Job(name, **make())
                jobs.append(_jobs[name])
            _jobs[name].started = True

    queue = list(reversed(jobs))

    def run_all():
        while True:
            with _lock:
                if not queue:
                    return
                job = queue.pop()
            job.run()

    for k in range(min(max(1, WORKERS), len(jobs))):
        threading.Thread(target=run_all, name=f"background tests {k}", daemon=True).start()


def result(name, make=None):
    """The finished ``Job`` called ``name``: waits for it; runs it here if it never started
    (``make`` then makes it)."""
    with _lock:
        job = _jobs.get(name)
        if job is None:
            job = _jobs[name] = Job(name, **make())
        inline = not job.started
        job.started = True
    if inline:
        job.run()
    job.done.wait()
    return job


def timings():
    """[(name, seconds or None)] of the jobs this session made, in the order they were made."""
    with _lock:
        return [(job.name, job.seconds) for job in _jobs.values()]


def finish():
    """End of the session: kill any job still running, remove the scratch directories."""
    for job in list(_jobs.values()):
        if job.proc is not None and job.proc.poll() is None:
            job.proc.kill()
    for path in _scratch:
        shutil.rmtree(path, ignore_errors=True)
