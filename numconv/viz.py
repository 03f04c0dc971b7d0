"""Looking inside a trained network: filters, feature maps, saliency, occlusion and class visualization.

    import numconv.viz as viz
    w = viz.first_layer_filters(model)               # (C_out, C_in, kH, kW)
    maps = viz.feature_maps(model, x, "features.0")  # (C, H', W') for one input x (C, H, W)
    s = viz.saliency(model, x)                       # (H, W): |d score / d x|, max over channels
    occ = viz.occlusion(model, x, patch=6, stride=1) # score drop per grey-patch position
    img, scores = viz.class_visualization(model, 3, shape=(1, 28, 28))
    viz.save_saliency("saliency.png", x, s)          # every result has a save_* writer (PNG, .jpg, .pdf, .svg)

Every function returns NumPy arrays (so programs and tests can check them) and computes with
numconv itself: forward passes through the model, gradients with numconv's autograd, blurring
with ``numconv.filters`` (conv2d). The ``save_*`` writers draw with matplotlib's Agg canvas
(the ``examples`` extra), imported inside the functions and never touching pyplot's global
backend; the file's extension picks the format (``.png``, the default when there is none;
``.jpg``/``.jpeg``, ``.tif``/``.tiff``, ``.pdf``, ``.svg``), any other is a ValueError. ``numconv viz --checkpoint runs/X/last.npz --out DIR`` writes all of them for a test
image with the model a ``numconv train`` checkpoint holds (``run``).

The model is put in eval mode while it is examined and its mode is restored afterwards;
parameter gradients are never touched (parameters stop requiring gradients for the duration).
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from . import shapes
from .atomic import atomic_open

__all__ = [
    "add_cli", "class_visualization", "feature_maps", "filter_grid", "first_conv", "first_layer_filters",
    "occlusion", "run", "saliency", "save_class_visualization", "save_feature_maps", "save_filters",
    "save_occlusion", "save_saliency",
]


# ============================================================================= helpers


def _check_model(model):
    from .nn import Module

    if not isinstance(model, Module):
        raise TypeError(f"model must be a numconv.nn.Module, got {type(model).__name__}")


def _finite(value, name, lo=None):
    """``value``: a finite real number (at least ``lo``), or an array of them; as float / float64 array."""
    if isinstance(value, (np.ndarray, list, tuple)):
        try:
            a = np.asarray(value, np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number or an array of them, got {value!r}") from None
        if not np.isfinite(a).all() or (lo is not None and (a < lo).any()):
            raise ValueError(f"{name} must be finite{'' if lo is None else f' and at least {lo}'}, got {value!r}")
        return a
    return shapes.real(value, name, lo)


def _model_dtype(model):
    for p in model.parameters():
        return np.dtype(p.dtype)
    return np.dtype(np.float32)


def _batch(model, x):
    """One input (C, H, W) or (1, C, H, W), array or Tensor, as a (1, C, H, W) array of the model's dtype."""
    from .tensor import Tensor

    a = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"x must be one input (C, H, W) or (1, C, H, W), got a batch of shape {a.shape}")
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"x must be one input (C, H, W) or (1, C, H, W), got shape {a.shape}")
    return np.ascontiguousarray(a[None], dtype=_model_dtype(model))


@contextlib.contextmanager
def _examining(model, grads=False):
    """Eval mode, parameters not requiring gradients, and autograd on only if ``grads``; all restored after."""
    from .autograd import enable_grad, no_grad

    was_training = model.training
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    model.eval()
    for p in params:
        p.requires_grad = False
    try:
        with (enable_grad() if grads else no_grad()):
            yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad = f
        model.train(was_training)


def _target(model, xb, target):
    """The class to explain: ``target``, or the model's prediction for ``xb``."""
    from .tensor import Tensor

    with _examining(model):
        logits = model(Tensor(xb)).numpy()
    if logits.ndim != 2:
        raise ValueError(f"the model must return class scores (N, classes), got shape {logits.shape}")
    if target is None:
        return int(logits[0].argmax())
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < logits.shape[1]:
        raise ValueError(f"target must be a class index in [0, {logits.shape[1] - 1}], got {target!r}")
    return int(target)


def _class_score(model, x, target):
    """The (pre-softmax) score of class ``target`` for the one input in Tensor ``x``."""
    out = model(x)
    if len(out.shape) != 2:
        raise ValueError(f"the model must return class scores (N, classes), got shape {out.shape}")
    return out[0, target]


def _module(model, layer):
    from .nn import Module

    if isinstance(layer, Module):
        for name, m in model.named_modules():
            if m is layer:
                return name, m
        raise ValueError("layer is a Module that is not part of the model")
    mods = dict(model.named_modules())
    if layer not in mods:
        names = [n for n in mods if n]
        raise ValueError(f"layer {layer!r} is not a submodule of the model; valid names: {', '.join(names)}")
    return layer, mods[layer]


def _conv_modules(model):
    from .nn import Conv2d

    return [(n, m) for n, m in model.named_modules() if isinstance(m, Conv2d)]


# ============================================================================= what the network computes


def first_conv(model):
    """(dotted name, module) of the model's first ``Conv2d`` in definition order."""
    _check_model(model)
    convs = _conv_modules(model)
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer")
    return convs[0]


def first_layer_filters(model):
    """The first convolution's weights as a float array (C_out, C_in/groups, kH, kW)."""
    return np.array(first_conv(model)[1].weight.numpy(), copy=True)


def _weights(weights):
    w = np.asarray(weights, np.float64)
    if w.ndim != 4 or not w.size:
        raise ValueError(f"weights must be (C_out, C_in, kH, kW) with at least one filter, got shape {w.shape}")
    return w


def filter_grid(weights, ncols=None, pad=1):
    """Lay out filters (C_out, C_in, kH, kW) as one picture, each filter scaled to [0, 1] on its own.

    C_in = 3: one RGB tile per filter, result (rows, cols, 3). Otherwise a grey tile per
    (output, input) channel pair, one row of C_in tiles per filter when C_in > 1, result
    (rows, cols). Tiles are separated by ``pad`` pixels of NaN (grey) or 1.0 (RGB).
    """
    w = _weights(weights)
    pad = shapes.integer(pad, "pad", lo=0)
    if ncols is not None:
        ncols = shapes.integer(ncols, "ncols", lo=1)
    c_out, c_in, kh, kw = w.shape
    lo = w.min(axis=(1, 2, 3) if c_in == 3 else (2, 3), keepdims=True)
    hi = w.max(axis=(1, 2, 3) if c_in == 3 else (2, 3), keepdims=True)
    t = (w - lo) / np.where(hi > lo, hi - lo, 1.0)
    if c_in == 3:
        tiles = t.transpose(0, 2, 3, 1)  # (C_out, kH, kW, 3)
        n = c_out
    else:
        tiles = t.reshape(c_out * c_in, kh, kw)
        n = c_out * c_in
    if ncols is None:
        ncols = c_in if c_in not in (1, 3) else int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    fill = 1.0 if c_in == 3 else np.nan
    shape = (nrows * (kh + pad) - pad, ncols * (kw + pad) - pad) + ((3,) if c_in == 3 else ())
    grid = np.full(shape, fill)
    for i in range(n):
        r, c = divmod(i, ncols)
        grid[r * (kh + pad): r * (kh + pad) + kh, c * (kw + pad): c * (kw + pad) + kw] = tiles[i]
    return grid


def feature_maps(model, x, layer=None):
    """The output of submodule ``layer`` (a dotted name such as ``'features.0'``, or the module) for one input ``x``.

    ``x``: (C, H, W) or (1, C, H, W). Default layer: the first ``Conv2d``. Returns (C', H', W').
    The model runs as usual; a forward hook on the layer keeps its output.
    """
    from .tensor import Tensor

    _check_model(model)
    xb = _batch(model, x)
    name, mod = first_conv(model) if layer is None else _module(model, layer)
    captured = []

    def keep(module, args, out):
        captured.append(np.array(out.numpy() if isinstance(out, Tensor) else out, copy=True))

    with mod.register_forward_hook(keep), _examining(model):
        model(Tensor(xb))
    if not captured:
        raise ValueError(f"layer {name!r} did not run in the model's forward pass")
    out = captured[0]
    if out.ndim != 4:
        raise ValueError(f"layer {name!r} gives outputs of shape {out.shape}, not feature maps (N, C, H, W)")
    return out[0]


def saliency(model, x, target=None):
    """Saliency map (Simonyan et al. 2014): ``|d score_target / d x|``, the maximum over channels, shape (H, W).

    ``score_target`` is the class score (the logit, before softmax) for ``x`` (C, H, W); ``target``
    defaults to the predicted class. The gradient comes from numconv's autograd.
    """
    from .tensor import Tensor

    _check_model(model)
    xb = _batch(model, x)
    target = _target(model, xb, target)
    xt = Tensor(xb.copy(), requires_grad=True)
    with _examining(model, grads=True):
        _class_score(model, xt, target).backward()
    return np.abs(xt.grad.numpy()[0]).max(axis=0)


def occlusion(model, x, target=None, patch=7, stride=2, value=0.5, batch_size=128):
    """Occlusion sensitivity (Zeiler & Fergus 2014): how much the class score drops when a patch is greyed out.

    A ``patch`` x ``patch`` square of constant ``value`` (all channels) slides over ``x`` (C, H, W)
    with ``stride``; entry ``[i, j]`` of the result is ``score(x) - score(x occluded at rows
    i*stride : i*stride+patch, columns j*stride : j*stride+patch)``, so it is large where the
    evidence for the class lies. Shape ``((H - patch) // stride + 1, (W - patch) // stride + 1)``.
    The occluded images run through the model ``batch_size`` at a time, without a graph. ``value``
    must be a finite number.
    """
    from .tensor import Tensor

    _check_model(model)
    for name, v in (("patch", patch), ("stride", stride), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    value = shapes.real(value, "value")  # NaN would make every entry NaN
    xb = _batch(model, x)
    target = _target(model, xb, target)
    _, c, h, w = xb.shape
    if patch > min(h, w):
        raise ValueError(f"patch {patch} is larger than the image ({h}x{w})")
    rows, cols = (h - patch) // stride + 1, (w - patch) // stride + 1
    positions = [(i, j) for i in range(rows) for j in range(cols)]
    drops = np.empty(len(positions))
    with _examining(model):
        base = float(model(Tensor(xb)).numpy()[0, target])
        for start in range(0, len(positions), batch_size):
            chunk = positions[start:start + batch_size]
            batch = np.repeat(xb, len(chunk), axis=0)
            for k, (i, j) in enumerate(chunk):
                batch[k, :, i * stride:i * stride + patch, j * stride:j * stride + patch] = value
            scores = model(Tensor(batch)).numpy()[:, target]
            drops[start:start + len(chunk)] = base - scores
    return drops.reshape(rows, cols)


def class_visualization(model, target, shape=(1, 28, 28), steps=200, lr=0.05, l2=0.05, blur_every=5,
                        blur_sigma=0.7, clip=None, seed=0, init_scale=0.1, start=None):
    """Gradient-ascent class visualization (Simonyan et al. 2014; Yosinski et al. 2015): an input the model scores as ``target``.

    Starts from Gaussian noise (``init_scale`` * N(0, 1), around ``start`` if given, else the middle of ``clip`` when
    given) of ``shape`` (C, H, W) and repeats ``steps`` times: ``x += lr * g / rms(g)`` with ``g``
    the gradient of ``score_target(x) - l2 * ||x||^2`` (numconv autograd; the step is normalized
    by the gradient's root-mean-square so ``lr`` is in pixel units), clip to ``clip`` = (lo, hi)
    if given, and every ``blur_every`` steps blur with a Gaussian of ``blur_sigma``
    (``numconv.filters`` through conv2d; 0 or None disables). ``score`` is the class logit.

    ``target`` an int: returns (image (C, H, W), scores (steps + 1,)) where ``scores[t]`` is the
    class score after ``t`` steps (``scores[0]``: the starting noise). ``target`` a list of K
    classes: the K images are optimized together as one batch (each its own class, from its own
    noise; they do not interact in eval mode) and the result is (images (K, C, H, W), scores
    (steps + 1, K)). ``lr``, ``l2``, ``init_scale`` and ``blur_sigma`` are finite and >= 0, ``start``
    finite; NaN would silently make every pixel NaN.
    """
    from . import filters
    from .tensor import Tensor

    _check_model(model)
    steps = shapes.integer(steps, "steps", lo=0)
    if blur_every is not None:
        blur_every = shapes.integer(blur_every, "blur_every", lo=0)
    if blur_sigma is not None:
        blur_sigma = shapes.real(blur_sigma, "blur_sigma", 0.0)
    lr = shapes.real(lr, "lr", 0.0)  # NaN or inf would make the image NaN
    l2 = 0.0 if l2 is None else shapes.real(l2, "l2", 0.0)
    init_scale = shapes.real(init_scale, "init_scale", 0.0)
    if start is not None:
        start = _finite(start, "start")
    if clip is not None:
        if not (isinstance(clip, (tuple, list)) and len(clip) == 2):
            raise TypeError(f"clip must be a pair (lo, hi) or None, got {clip!r}")
        clip = (shapes.real(clip[0], "clip[0]"), shapes.real(clip[1], "clip[1]"))
        if clip[0] >= clip[1]:
            raise ValueError(f"clip must be (lo, hi) with lo < hi, got {clip!r}")
    shape = shapes.sample_shape(shape, "shape")
    if len(shape) != 3:
        raise ValueError(f"shape must be (C, H, W), got {shape!r}")
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer, list, tuple, np.ndarray)):
        raise TypeError(f"target must be a class index or a list of them, got {target!r}")
    single = isinstance(target, (int, np.integer))
    targets = [target] if single else list(target)
    if not targets:
        raise ValueError("target is an empty list")
    dtype = _model_dtype(model)
    rng = np.random.default_rng(seed)
    x = init_scale * rng.standard_normal((len(targets),) + tuple(shape))
    if start is not None:  # e.g. 0.0, the data mean for standardized inputs
        x = x + start
    elif clip is not None:
        x = x + 0.5 * (clip[0] + clip[1])
    if clip is not None:
        x = np.clip(x, clip[0], clip[1])
    x = np.ascontiguousarray(x, dtype=dtype)
    targets = [_target(model, x[k:k + 1], t) for k, t in enumerate(targets)]
    rows = np.arange(len(targets))
    kernel = None
    if blur_every and blur_sigma:
        size = 2 * int(np.ceil(3 * blur_sigma)) + 1
        size = min(size, 2 * ((min(shape[1:]) - 1) // 2) + 1)
        kernel = filters.gaussian(size, blur_sigma)
    scores = []
    with _examining(model, grads=True):
        for t in range(steps + 1):
            xt = Tensor(x, requires_grad=True)
            out = model(xt)
            if len(out.shape) != 2:
                raise ValueError(f"the model must return class scores (N, classes), got shape {out.shape}")
            score = out[rows, targets]
            scores.append(score.numpy().astype(np.float64))
            if t == steps:
                break
            objective = score.sum() - l2 * (xt * xt).sum() if l2 else score.sum()
            objective.backward()
            g = xt.grad.numpy().astype(np.float64)
            rms = np.sqrt(np.mean(np.square(g), axis=(1, 2, 3), keepdims=True))
            x = x + lr * g / (rms + 1e-12)
            if clip is not None:
                x = np.clip(x, clip[0], clip[1])
            if kernel is not None and (t + 1) % blur_every == 0:
                x = filters.correlate_nchw(np.ascontiguousarray(x, dtype=dtype), kernel, "same", "reflect")
            x = np.ascontiguousarray(x, dtype=dtype)
    scores = np.array(scores)
    return (x[0], scores[:, 0]) if single else (x, scores)


# ============================================================================= pictures


def _figure(ncols, nrows=1, size=2.2, title=None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size * ncols, size * nrows + (0.4 if title else 0.0)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig, axes


_FORMATS = ("png", "jpg", "jpeg", "tif", "tiff", "pdf", "svg")


def _image_format(path):
    """The file format ``path``'s extension names (PNG without one); any other extension is refused,
    before anything is drawn."""
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext and ext not in _FORMATS:
        raise ValueError(f"path {os.fspath(path)!r}: the picture's format comes from its extension, one of "
                         f"{', '.join('.' + f for f in _FORMATS)} (none: PNG), got .{ext}")
    return ext or "png"


def _save(fig, path):
    fmt = _image_format(path)
    with atomic_open(path, "wb", suffix="." + fmt) as f:  # a failed write leaves an earlier picture whole
        fig.savefig(f, dpi=100, format=fmt)
    return os.fspath(path)


def _display(img):
    """(C, H, W) or (H, W) -> something imshow draws: grey (H, W) or RGB (H, W, 3) scaled to [0, 1]."""
    a = np.asarray(img, np.float64)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3:
        if a.shape[0] != 3:
            a = a.mean(axis=0)
        else:
            a = a.transpose(1, 2, 0)
            lo, hi = a.min(), a.max()
            a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return a


def _imshow(ax, img, **kw):
    a = _display(img)
    if a.ndim == 2:
        kw.setdefault("cmap", "gray")
    return ax.imshow(a, interpolation="nearest", **kw)


def save_filters(path, weights, title="first-layer filters"):
    """PNG of filters (C_out, C_in, kH, kW) (e.g. ``first_layer_filters(model)``): one panel per filter, each scaled on its own."""
    _image_format(path)
    w = _weights(weights)
    n = w.shape[0]
    ncols = min(n, 8)
    nrows = int(np.ceil(n / ncols))
    fig, axes = _figure(ncols, nrows, size=1.4, title=title)
    for i, ax in enumerate(axes.ravel()):
        if i < n:
            _imshow(ax, w[i])
            ax.set_title(str(i), fontsize=8)
        else:
            ax.axis("off")
    return _save(fig, path)


def save_feature_maps(path, maps, image=None, title="feature maps"):
    """PNG of feature maps (C, H, W) (``feature_maps``), one panel each, optionally after the ``image`` they came from."""
    _image_format(path)
    m = np.asarray(maps)
    if m.ndim != 3 or not m.size:
        raise ValueError(f"maps must be (C, H, W) with at least one map, got shape {m.shape}")
    panels = ([("input", image)] if image is not None else []) + [(str(i), m[i]) for i in range(m.shape[0])]
    ncols = min(len(panels), 8)
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = _figure(ncols, nrows, size=1.5, title=title)
    for k, ax in enumerate(axes.ravel()):
        if k < len(panels):
            label, a = panels[k]
            _imshow(ax, a, cmap="gray" if label == "input" else "viridis")
            ax.set_title(label, fontsize=8)
        else:
            ax.axis("off")
    return _save(fig, path)


def save_saliency(path, image, saliency_map, title="saliency |d score / d pixel|"):
    """PNG: the input, its saliency map, and the map over the input."""
    _image_format(path)
    fig, axes = _figure(3, size=2.6, title=title)
    a, b, c = axes[0]
    _imshow(a, image)
    a.set_title("input", fontsize=9)
    b.imshow(saliency_map, cmap="hot", interpolation="nearest")
    b.set_title("saliency", fontsize=9)
    _imshow(c, image)
    c.imshow(saliency_map, cmap="hot", alpha=0.6, interpolation="nearest")
    c.set_title("overlay", fontsize=9)
    return _save(fig, path)


def _occlusion_extent(patch, stride, rows, cols):
    """imshow's (left, right, bottom, top) for an occlusion map over its image: cell [i, j] is drawn
    ``stride`` pixels wide, centred on its patch's centre (i*stride + (patch-1)/2, ...), in pixel
    coordinates (pixel k is centred at k)."""
    centre, half = (patch - 1) / 2, stride / 2
    return centre - half, centre + (cols - 1) * stride + half, centre + (rows - 1) * stride + half, centre - half


def save_occlusion(path, image, occlusion_map, patch, stride, title="occlusion: class score drop"):
    """PNG: the input and the occlusion map, each map cell drawn over the centre of its patch (red: evidence for the class)."""
    _image_format(path)
    occ = np.asarray(occlusion_map, np.float64)
    if occ.ndim != 2 or not occ.size:
        raise ValueError(f"occlusion_map must be 2-d (rows, cols), as occlusion returns, got shape {occ.shape}")
    patch = shapes.integer(patch, "patch", lo=1)
    stride = shapes.integer(stride, "stride", lo=1)
    a_img = _display(image)
    h, w = a_img.shape[:2]
    rows, cols = occ.shape
    extent = _occlusion_extent(patch, stride, rows, cols)
    lim = float(np.abs(occ).max()) or 1.0
    fig, axes = _figure(3, size=2.6, title=title)
    a, b, c = axes[0]
    _imshow(a, image)
    a.set_title("input", fontsize=9)
    im = b.imshow(occ, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    b.set_title(f"drop ({patch}x{patch} patch, stride {stride})", fontsize=8)
    fig.colorbar(im, ax=b, fraction=0.046, pad=0.04)
    _imshow(c, image)
    c.imshow(occ, cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.6, extent=extent, interpolation="nearest")
    c.set_xlim(-0.5, w - 0.5), c.set_ylim(h - 0.5, -0.5)
    c.set_title("overlay", fontsize=9)
    return _save(fig, path)


def save_class_visualization(path, images, labels=None, title="gradient-ascent class visualization"):
    """PNG of class visualizations: ``images`` (K, C, H, W) or a list of (C, H, W), titled by ``labels``."""
    _image_format(path)
    imgs = [np.asarray(a) for a in images]
    n = len(imgs)
    if n == 0:
        raise ValueError("images is empty")
    labels = [str(i) for i in range(n)] if labels is None else [str(s) for s in labels]
    if len(labels) != n:
        raise ValueError(f"labels must give one title per image: {n} images, got {len(labels)} labels")
    ncols = min(n, 5)
    nrows = int(np.ceil(n / ncols))
    fig, axes = _figure(ncols, nrows, size=2.0, title=title)
    for k, ax in enumerate(axes.ravel()):
        if k < n:
            _imshow(ax, imgs[k])
            ax.set_title(labels[k], fontsize=9)
        else:
            ax.axis("off")
    return _save(fig, path)


# ============================================================================= numconv viz


def _load(checkpoint_path, data_dir=None):
    from . import checkpoint
    from .train import Config, _build

    state = checkpoint.load(checkpoint_path)
    if "config" not in state or "model" not in state:
        raise ValueError(f"{checkpoint_path} is not a numconv training checkpoint (no config/model entries)")
    cfg = Config(**{k: v for k, v in state["config"].items() if k in Config.__dataclass_fields__})
    if data_dir is not None:
        cfg.data_dir = data_dir
    cfg.progress = False
    cfg.device = "cpu"
    model, _, _, _, test_set = _build(cfg)
    model.load_state_dict(state["model"])
    model.eval()
    return model, test_set, cfg


def run(checkpoint_path, out, image_index=0, data_dir=None, occlusion_patch=6, occlusion_stride=1,
        occlusion_value=0.0, steps=200, log=print):
    """Everything above for test image ``image_index`` of the dataset a checkpoint was trained on; PNGs in ``out``.

    Writes filters.png, feature_maps_<layer>.png (the first two convolutions), saliency.png,
    occlusion.png and class_visualization.png (one image per class). Returns {name: path}.
    """
    from .tensor import Tensor

    steps = shapes.integer(steps, "--steps", lo=0)  # checked before any picture is written
    model, test_set, cfg = _load(checkpoint_path, data_dir)
    if isinstance(image_index, bool) or not isinstance(image_index, (int, np.integer)) or not 0 <= image_index < len(test_set):
        raise ValueError(f"--image-index must be in [0, {len(test_set) - 1}], got {image_index!r}")
    x, label = test_set[image_index]
    x = np.asarray(x.numpy() if hasattr(x, "numpy") else x, np.float32)
    label = int(np.asarray(label))
    os.makedirs(out, exist_ok=True)
    pred = _target(model, _batch(model, x), None)
    log(f"{cfg.model} from {checkpoint_path}: test image {image_index} of {cfg.data} (label {label}, predicted {pred})")
    paths = {}
    paths["filters"] = save_filters(os.path.join(out, "filters.png"), first_layer_filters(model),
                                    title=f"{cfg.model}: first-layer filters ({first_conv(model)[0]})")
    for name, _ in _conv_modules(model)[:2]:
        maps = feature_maps(model, x, name)
        paths[f"feature_maps_{name}"] = save_feature_maps(
            os.path.join(out, f"feature_maps_{name}.png"), maps, image=x,
            title=f"{cfg.model} {name} feature maps, test image {image_index} (label {label})")
    sal = saliency(model, x, pred)
    paths["saliency"] = save_saliency(os.path.join(out, "saliency.png"), x, sal,
                                      title=f"saliency of class {pred} (label {label})")
    occ = occlusion(model, x, pred, patch=occlusion_patch, stride=occlusion_stride, value=occlusion_value)
    paths["occlusion"] = save_occlusion(os.path.join(out, "occlusion.png"), x, occ, occlusion_patch, occlusion_stride,
                                        title=f"occlusion (patch value {occlusion_value}; 0 = the training mean): drop of class {pred} score")
    with _examining(model):
        n_classes = int(model(Tensor(_batch(model, x))).shape[1])
    clip = (float(np.min(x)), float(np.max(x)))
    # numconv train standardizes inputs, so 0 is the average image: start there, not mid-range
    images, scores = class_visualization(model, list(range(n_classes)), shape=x.shape, steps=steps, clip=clip, start=0.0)
    labels = [f"{k}: {scores[0, k]:.1f} -> {scores[-1, k]:.1f}" for k in range(n_classes)]
    paths["class_visualization"] = save_class_visualization(
        os.path.join(out, "class_visualization.png"), images, labels,
        title="class visualization (score: noise -> after ascent)")
    for p in paths.values():
        log(f"  wrote {p}")
    return paths


def _cli(args):
    run(args.checkpoint, args.out, image_index=args.image_index, data_dir=args.data_dir, steps=args.steps)
    return 0


def add_cli(subparsers):
    """Register ``numconv viz`` on the ``numconv`` command's subparsers."""
    p = subparsers.add_parser("viz", help="pictures of what a trained model sees: filters, feature maps, saliency, "
                                          "occlusion, class visualization (PNGs)")
    p.add_argument("--checkpoint", required=True, help="a last.npz written by numconv train")
    p.add_argument("--out", required=True, help="folder for the PNGs")
    p.add_argument("--image-index", type=int, default=0, help="which test image to explain (default 0)")
    p.add_argument("--data-dir", default=None, help="folder with the dataset files, as for numconv train")
    p.add_argument("--steps", type=int, default=200, help="gradient-ascent steps of the class visualization (default 200)")
    p.set_defaults(func=_cli)
    return p
