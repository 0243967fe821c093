r"""Neural critics trained on fresh samples: :func:`estimate_w1` with samplers.

A *sampler* is a callable that draws ``n`` points of a distribution:

.. code-block:: python

    def sampler(n, rng):        # rng: a numpy.random.Generator
        return points           # (n, d) array: numpy or torch

or ``sampler(n)`` (one positional parameter) whose randomness is its own.
A sampler may be a generator network: its points are detached, so training
the critic leaves the generator's gradients alone.
Given two samplers, :func:`estimate_w1` draws a fresh minibatch of each at
every optimiser step, so the critic maximises

.. math:: \mathbb E_{x \sim \mu} f(x) - \mathbb E_{y \sim \nu} f(y)

over the distributions, not over two fixed samples: it cannot overfit a
sample, which is what limits critics trained on arrays in high dimension.
The estimate is :math:`\mathbb E_x f - \mathbb E_y f` on fresh held-out
samples drawn after training (``holdout_estimate``; 65536 points per side
by default, :func:`~otlab.critics.default_holdout_points`), with its standard
error.
A fixed data set becomes a sampler by resampling it::

    data = ...                                   # (N, d) array
    real = lambda n, rng: data[rng.integers(len(data), size=n)]
"""

from __future__ import annotations

import inspect
import time

import numpy as np

from .._backend import is_torch, to_numpy
from ._function import _forward
from ._loop import train_critic
from ._result import build_net, finish, input_gain, with_dimension

__all__ = ["is_sampler", "draw_points", "estimate_from_samplers"]


def is_sampler(obj) -> bool:
    """Whether ``obj`` is used as a sampler (a callable that is not an array or a Sample)."""
    from ..sample import Sample

    return callable(obj) and not isinstance(obj, (np.ndarray, Sample)) and not is_torch(obj)


def _takes_rng(fn) -> bool:
    """Whether ``fn`` accepts two positional arguments ``(n, rng)``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def draw_points(sampler, n: int, rng, *, name: str, dim: int | None = None):
    """``sampler``'s ``n`` points as a 2-D float array (numpy or torch), checked.

    Raises a TypeError when the sampler returns something that is not a real
    array, and a ValueError when its shape is not ``(n, dim)`` (``(n,)`` is
    read as ``(n, 1)``) or, for numpy output, when a value is not finite.
    Torch output is checked for finiteness by the caller (no device sync here).
    """
    out = sampler(n, rng) if _takes_rng(sampler) else sampler(n)
    if not is_torch(out):
        try:
            out = np.asarray(out)
        except Exception as err:  # ragged lists and the like
            raise TypeError(f"the {name} sampler must return an (n, d) array; got "
                            f"{type(out).__name__}") from err
        if out.dtype.kind not in "biuf":
            raise TypeError(f"the {name} sampler must return real numbers; got dtype "
                            f"{out.dtype}")
        out = out.astype(np.float64, copy=False)
    elif out.is_complex() or str(out.dtype) == "torch.bool":
        raise TypeError(f"the {name} sampler must return real numbers; got dtype {out.dtype}")
    if out.ndim == 1:
        out = out.reshape(-1, 1)
    if out.ndim != 2 or out.shape[0] != n or (dim is not None and out.shape[1] != dim):
        want = f"({n}, {dim})" if dim is not None else f"({n}, d)"
        raise ValueError(f"the {name} sampler must return an array of shape {want} for "
                         f"n={n}; got shape {tuple(out.shape)}")
    if out.shape[1] == 0:
        raise ValueError(f"the {name} sampler must return points with at least one coordinate; "
                         f"got shape {tuple(out.shape)}")
    if not is_torch(out) and not np.isfinite(out).all():
        raise ValueError(f"the {name} sampler returned non-finite values (NaN or inf)")
    return out


def _check_pair(x, y, a, b):
    if not (is_sampler(x) and is_sampler(y)):
        kinds = [("a sampler" if is_sampler(v) else type(v).__name__) for v in (x, y)]
        raise TypeError("x and y must both be samplers (callables n -> points) or both be "
                        f"samples; got {kinds[0]} and {kinds[1]}. A fixed sample becomes a "
                        "sampler by resampling: lambda n, rng: data[rng.integers(len(data), "
                        "size=n)]")
    if a is not None or b is not None:
        raise ValueError("a and b weight samples; with samplers they must be None; got "
                         f"a={type(a).__name__}, b={type(b).__name__}")


def _finite(points, name: str) -> np.ndarray:
    """A sampler's draw as float64 numpy, refused by the sampler's name if not finite.

    (:func:`draw_points` checks numpy output; torch output is checked here.)
    """
    points = to_numpy(points).astype(np.float64)
    if not np.isfinite(points).all():
        raise ValueError(f"the {name} sampler returned non-finite values (NaN or inf)")
    return points


#: Copies of each held-out point held at once in float64: the sampler's output, its float64
#: copy and the network's float64 standardised input.
HOLDOUT_COPIES = 3


def _check_holdout_memory(n_holdout: int, dim: int) -> None:
    """Refuse, before training, a held-out sample that cannot fit in memory.

    It is drawn after training: ``n_holdout=10**30`` raised numpy's 'Maximum allowed
    dimension exceeded' and ``10**10`` a MemoryError only then, training time lost (measured).
    """
    from .._memory import available_memory_bytes

    need = 2 * HOLDOUT_COPIES * 8 * n_holdout * dim
    available = available_memory_bytes()
    if available is not None and need > available:
        raise ValueError(
            f"n_holdout={n_holdout} held-out points per side in dimension {dim} need about "
            f"{need / 2**30:.3g} GiB; {available / 2**30:.3g} GiB is available. Use a smaller "
            "n_holdout.")


def estimate_from_samplers(x, y, a, b, cfg, *, audit: bool):
    """:func:`estimate_w1` on two samplers (module docstring); ``cfg`` resolved."""
    import torch

    _check_pair(x, y, a, b)
    rx, ry = np.random.default_rng(cfg.seed).spawn(2)
    ref_x = draw_points(x, cfg.n_eval, rx, name="x")
    dim = ref_x.shape[1]
    ref_y = draw_points(y, cfg.n_eval, ry, name="y", dim=dim)
    ref_x, ref_y = _finite(ref_x, "x"), _finite(ref_y, "y")
    from ..frames import anchored_standardise

    (u_x, u_y), center, shift, scale = anchored_standardise(ref_x, ref_y, radius=True)
    cfg = with_dimension(cfg, dim, samplers=True)
    _check_holdout_memory(cfg.n_holdout, dim)
    gain = input_gain(cfg.input_scale, dim)
    u_x, u_y, scale = u_x * gain, u_y * gain, scale / gain
    dev = torch.device(cfg.device)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = build_net(cfg, dim, gen).to(dev)
    X = torch.as_tensor(u_x, dtype=torch.float32, device=dev)
    Y = torch.as_tensor(u_y, dtype=torch.float32, device=dev)
    center_t = torch.as_tensor(center, dtype=torch.float64, device=dev)
    shift_t = torch.as_tensor(shift, dtype=torch.float64, device=dev)
    anchors = X if cfg.lipschitz == "ctransform" else None
    w = np.full(cfg.n_eval, 1.0 / cfg.n_eval)
    bad = {"x": torch.zeros((), dtype=torch.bool, device=dev),
           "y": torch.zeros((), dtype=torch.bool, device=dev)}

    def fresh(sampler, rng, name):
        # detached: the critic's steps must not reach a generator behind the sampler
        z = torch.as_tensor(draw_points(sampler, cfg.batch_size, rng, name=name, dim=dim))
        z = z.detach().to(device=dev, dtype=torch.float64)
        bad[name] |= ~torch.isfinite(z).all()
        return (((z - center_t) - shift_t) / scale).to(torch.float32)

    def draw(step):
        return fresh(x, rx, "x"), fresh(y, ry, "y")

    def gap():
        fx, fy = _forward(net, anchors, X), _forward(net, anchors, Y)
        return float(w @ to_numpy(fx) - w @ to_numpy(fy))

    def check():
        for name, flag in bad.items():
            if bool(flag):
                raise ValueError(f"the {name} sampler returned non-finite values (NaN or inf)")

    start = time.perf_counter()
    history, flips = train_critic(cfg, net, draw, gap, gen, check=check)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start
    ho_x = _finite(draw_points(x, cfg.n_holdout, rx, name="x", dim=dim), "x")
    ho_y = _finite(draw_points(y, cfg.n_holdout, ry, name="y", dim=dim), "y")
    w_ho = np.full(cfg.n_holdout, 1.0 / cfg.n_holdout)
    return finish(cfg, net, X, Y, train=(ref_x, w, ref_y, w), holdout=(ho_x, w_ho, ho_y, w_ho),
                  center=(center, shift), scale=scale, history=history, flips=flips, seconds=seconds,
                  audit=audit, stacklevel=3)
