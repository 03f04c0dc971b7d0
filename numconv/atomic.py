"""Atomic file writes: nothing the user saved is lost if a write fails half-way (a full disk, Ctrl-C).

    with atomic_open("runs/x/curves.png", "wb", suffix=".png") as f:
        fig.savefig(f, format="png")

The data goes to a temporary file beside ``path``, is flushed and fsynced, and only then renamed over
``path`` (``os.replace``, atomic on POSIX and Windows). On any error the temporary file is removed
and ``path`` keeps its old contents.
"""
from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["atomic_open"]


def _umask():
    """The process's umask: read from /proc where Linux shows it (no change, so no race with other
    threads creating files), else set and restored at once."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path, mode="wb", suffix=""):
    """A file object (``mode`` 'wb' or 'w') whose contents replace ``path`` when the block ends without
    an error; the folder is made if missing, and the file gets the mode ``open`` would give it (an
    existing file's own, or 0666 less the umask). A symbolic link is followed, not replaced."""
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = os.path.realpath(path)  # through a symbolic link: the file it names is replaced, the link stays
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            try:  # open() keeps an existing file's mode (a private 0600 one stays private)...
                perms = os.stat(path).st_mode & 0o7777
            except FileNotFoundError:  # ... and gives a new one 0666 less the umask
                perms = 0o666 & ~_umask()
            os.chmod(tmp, perms)  # mkstemp made it 0600
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
