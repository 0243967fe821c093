r"""Neural Kantorovich critics: estimate :math:`W_1` by training an MLP.

:func:`estimate_w1` maximises the Kantorovich–Rubinstein objective

.. math:: \max_{f \in \mathcal F} \; \mathbb E_x f - \mathbb E_y f

over MLPs kept (close to) 1-Lipschitz by one of the methods of
:mod:`otlab.critics.lipschitz`, and reports the estimate on the training
samples and on a held-out split, with a Lipschitz audit of the result.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._backend import is_torch, to_numpy
from .._validation import check_choice, check_positive, check_positive_int, split_sample
from ._mlp import ACTIVATIONS, build_mlp, linear_layers
from .audit import LipschitzAudit, lipschitz_audit
from .lipschitz import DEFAULT_SETTINGS, LIPSCHITZ_METHODS, critic_loss, project

__all__ = ["CriticConfig", "CriticResult", "NeuralCritic", "CriticFailedWarning", "estimate_w1",
           "spectral_norms"]


class CriticFailedWarning(UserWarning):
    """A trained critic's estimate is negative: the constant 0 would do better."""


@dataclass(frozen=True)
class CriticConfig:
    """The resolved settings of one :func:`estimate_w1` run (see its parameters)."""

    lipschitz: str
    hidden: tuple[int, ...]
    activation: str
    steps: int
    batch_size: int
    lr: float
    optimizer: str
    betas: tuple[float, float] | None
    penalty: float
    clip_value: float | None
    device: str
    seed: int
    holdout: float
    log_every: int


def _forward(net, anchors, z):
    """The network, or its c-transform over ``anchors`` when given."""
    import torch

    out = net(z).squeeze(-1)
    if anchors is None:
        return out
    f_anchor = net(anchors).squeeze(-1)
    dist = torch.cdist(z, anchors, compute_mode="donot_use_mm_for_euclid_dist")
    return (f_anchor[None, :] - dist).amax(dim=1)


class NeuralCritic:
    r"""A trained critic as a function: numpy in, numpy out; torch in, torch out.

    For ``"ctransform"`` the function is the c-transform of the network over
    the training points, :math:`\varphi(z) = \max_i (f(x_i) - \lVert z -
    x_i\rVert)`; otherwise it is the network itself.

    Attributes
    ----------
    net : torch.nn.Module
        The MLP (in eval mode, parameters frozen).
    anchors : Tensor or None
        The training x points of the c-transform (``"ctransform"`` only).
    """

    def __init__(self, net, anchors=None):
        self.net = net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.anchors = anchors
        first = next(net.parameters())
        self.dtype, self.device = first.dtype, first.device

    def _torch_eval(self, z):
        return _forward(self.net, self.anchors, z)

    def __call__(self, z):
        """Evaluate the critic at points ``z`` of shape (k, d) (or (k,) when d = 1)."""
        import torch

        if is_torch(z):
            zz = z.reshape(-1, 1) if z.ndim == 1 else z
            out = self._torch_eval(zz.to(device=self.device, dtype=self.dtype))
            return out.to(device=z.device, dtype=z.dtype if z.is_floating_point() else out.dtype)
        z = np.asarray(z, dtype=np.float64)
        z = z.reshape(-1, 1) if z.ndim == 1 else z
        with torch.no_grad():
            out = self._torch_eval(torch.as_tensor(z, dtype=self.dtype, device=self.device))
        return to_numpy(out)

    def __repr__(self) -> str:
        kind = "c-transform of " if self.anchors is not None else ""
        return f"NeuralCritic({kind}{self.net!r})"


@dataclass(frozen=True)
class CriticResult:
    """Result of :func:`estimate_w1`.

    Attributes
    ----------
    estimate : float
        :math:`\\mathbb E_x f - \\mathbb E_y f` on the training samples.
    holdout_estimate : float
        The same on the held-out samples (NaN when ``holdout=0``).
    critic : NeuralCritic
        The trained critic.
    history : dict of ndarray
        ``step``, ``loss`` (the minibatch loss) and ``estimate`` (on the
        training samples) at every logging step.
    audit : LipschitzAudit or None
        Gradient norms and slopes of the trained critic (None with ``audit=False``).
    config : CriticConfig
        The settings used, defaults resolved.
    train, holdout_samples : tuple
        ``(x, wx, y, wy)`` numpy arrays of the training and held-out splits.
    seconds : float
        Wall time of the training loop.
    """

    estimate: float
    holdout_estimate: float
    critic: NeuralCritic
    history: dict = field(repr=False)
    audit: LipschitzAudit | None
    config: CriticConfig
    train: tuple = field(repr=False)
    holdout_samples: tuple = field(repr=False)
    seconds: float = 0.0


def _split(x, w, holdout, rng):
    n = x.shape[0]
    n_hold = int(round(holdout * n))
    n_hold = min(n_hold, n - 1)
    perm = rng.permutation(n)
    tr, ho = np.sort(perm[n_hold:]), np.sort(perm[:n_hold])
    wt = w[tr] / w[tr].sum()
    wh = w[ho] / w[ho].sum() if n_hold and w[ho].sum() > 0 else w[ho]
    return (x[tr], wt), (x[ho], wh)


def _resolve(lipschitz, hidden, activation, steps, batch_size, lr, optimizer, betas, penalty,
             clip_value, device, seed, holdout, log_every) -> CriticConfig:
    check_choice(lipschitz, "lipschitz", LIPSCHITZ_METHODS)
    check_choice(activation, "activation", ACTIVATIONS)
    hidden = tuple(hidden) if isinstance(hidden, (tuple, list)) else (hidden,)
    hidden = tuple(check_positive_int(h, "hidden") for h in hidden)
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    base = DEFAULT_SETTINGS[lipschitz]
    lr = check_positive(base["lr"] if lr is None else lr, "lr")
    optimizer = check_choice(optimizer or base["optimizer"], "optimizer", ("adam", "rmsprop"))
    betas = base["betas"] if betas is None else tuple(float(b) for b in betas)
    penalty = check_positive(base["penalty"] if penalty is None else penalty, "penalty",
                             allow_zero=True)
    clip_value = base["clip_value"] if clip_value is None else clip_value
    if lipschitz == "clip":
        clip_value = check_positive(clip_value, "clip_value")
    holdout = check_positive(holdout, "holdout", allow_zero=True)
    if holdout >= 1:
        raise ValueError(f"holdout must be in [0, 1); got {holdout!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer; got {seed!r}")
    log_every = max(1, steps // 20) if log_every is None else check_positive_int(log_every,
                                                                                 "log_every")
    return CriticConfig(lipschitz, hidden, activation, steps, batch_size, lr, optimizer, betas,
                        penalty, clip_value, str(device), int(seed), holdout, log_every)


def _make_optimizer(cfg: CriticConfig, params):
    import torch

    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr)
    return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas or (0.9, 0.999))


def _gap(critic_fn, x, wx, y, wy) -> float:
    import torch

    if x.shape[0] == 0 or y.shape[0] == 0:
        return float("nan")
    with torch.no_grad():
        return float(wx @ to_numpy(critic_fn(x)) - wy @ to_numpy(critic_fn(y)))


def estimate_w1(x, y, *, lipschitz: str = "gp", hidden=(64, 64), activation: str = "leaky_relu",
                steps: int = 1000, batch_size: int = 256, lr: float | None = None,
                optimizer: str | None = None, betas=None, penalty: float | None = None,
                clip_value: float | None = None, device="cpu", seed: int = 0,
                holdout: float = 0.2, log_every: int | None = None,
                audit: bool = True) -> CriticResult:
    r"""Estimate :math:`W_1(x, y)` with a trained neural Kantorovich critic.

    .. math::

        \widehat W_1 = \mathbb E_x f_\theta - \mathbb E_y f_\theta, \qquad
        \theta \in \arg\max \; \mathbb E_{x_b} f_\theta - \mathbb E_{y_b} f_\theta
        - \text{(Lipschitz penalty)}

    Parameters
    ----------
    x, y : array-like, Tensor or Sample
        Samples as for :func:`otlab.wasserstein`: (n, d) arrays (numpy or
        torch) or :class:`otlab.Sample` objects with weights; minibatches are
        drawn with replacement according to the weights.
    lipschitz : {"gp", "lp", "sn", "clip", "ctransform"}, default "gp"
        How the critic is kept 1-Lipschitz (:mod:`otlab.critics.lipschitz`).
        ``"clip"`` estimates :math:`K \cdot W_1` for an unknown K.
    hidden : tuple of int, default (64, 64)
        Hidden layer widths of the MLP.
    activation : {"leaky_relu", "relu", "tanh", "elu"}, default "leaky_relu"
    steps : int, default 1000
        Optimiser steps (one minibatch of x and of y each).
    batch_size : int, default 256
    lr : float, optional
        Learning rate; default ``DEFAULT_SETTINGS[lipschitz]["lr"]`` (1e-3;
        5e-4 for ``"clip"``).  The papers' values are in ``PAPER_SETTINGS``
        (1e-4; 5e-5 for ``"clip"``): pass ``lr=1e-4`` to reproduce them.
    optimizer : {"adam", "rmsprop"}, optional
        Default RMSProp for ``"clip"``, Adam otherwise.
    betas : tuple of float, optional
        Adam's betas; default (0, 0.9) for ``"gp"``/``"lp"``, (0.5, 0.999)
        otherwise.
    penalty : float, optional
        λ of ``"gp"``/``"lp"``; default 10.
    clip_value : float, optional
        c of ``"clip"``; default 0.01.
    device : str or torch.device, default "cpu"
        Where to train (``"cuda"`` for the GPU).
    seed : int, default 0
        Seeds the split, the initialisation and the minibatches (a private
        ``torch.Generator``; the global RNG is not touched).
    holdout : float, default 0.2
        Fraction of each sample held out of training.
    log_every : int, optional
        Steps between history entries; default ``steps // 20``.
    audit : bool, default True
        Run :func:`lipschitz_audit` on the trained critic.

    Returns
    -------
    CriticResult
        ``estimate``, ``holdout_estimate``, ``critic``, ``history``, ``audit``.

    Raises
    ------
    ValueError
        Invalid samples (as :func:`otlab.wasserstein`), an unknown
        ``lipschitz`` (the message lists the valid names), non-positive
        ``steps``, ``batch_size`` or ``lr``.

    Warns
    -----
    CriticFailedWarning
        When the final estimate is negative: the critic failed (f = 0 scores 0).

    Notes
    -----
    The network trains in float32 on ``device``; estimates are accumulated
    in float64.  The defaults (:data:`DEFAULT_SETTINGS`) use learning rates 10x
    the papers' (:data:`PAPER_SETTINGS`) so that 1000 CPU steps converge; on
    the parallel lines at θ = 0.5 (n = 400 per side) every method but
    ``"clip"`` lands within about 6 % of W_1 in a few seconds (measured in
    ``benchmarks/reports/critic_accuracy.md``).  ``"clip"`` estimates
    :math:`K \cdot W_1` with K of order 1e-3 and is not an estimate of W_1.

    References
    ----------
    See :mod:`otlab.critics.lipschitz`; Mallasto et al. (2019) and Stanczuk
    et al. (2021), "Wasserstein GANs work because they fail (to approximate the
    Wasserstein distance)", for how far such estimates can be from W_1.

    Examples
    --------
    Two clusters 10 apart along a line: W_1 = 10.  The c-transform critic is
    1-Lipschitz by construction, so its estimate never exceeds W_1:

    >>> import numpy as np
    >>> x = np.linspace(-0.5, 0.5, 40)[:, None]
    >>> res = estimate_w1(x, x + 10, lipschitz="ctransform", steps=50, hidden=(16,),
    ...                   holdout=0, audit=False)
    >>> 9.5 < res.estimate <= 10 + 1e-5
    True
    """
    import torch

    cfg = _resolve(lipschitz, hidden, activation, steps, batch_size, lr, optimizer, betas,
                   penalty, clip_value, device, seed, holdout, log_every)
    xs, wx = split_sample(x, "x")
    ys, wy = split_sample(y, "y")
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(
            f"x and y must have the same dimension; got d={xs.shape[1]} and d={ys.shape[1]}"
        )
    rng = np.random.default_rng(cfg.seed)
    (x_tr, wx_tr), (x_ho, wx_ho) = _split(to_numpy(xs), to_numpy(wx), cfg.holdout, rng)
    (y_tr, wy_tr), (y_ho, wy_ho) = _split(to_numpy(ys), to_numpy(wy), cfg.holdout, rng)

    dev = torch.device(cfg.device)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = build_mlp(xs.shape[1], cfg.hidden, activation=cfg.activation,
                    spectral=cfg.lipschitz == "sn", generator=gen).to(dev)
    opt = _make_optimizer(cfg, net.parameters())
    X = torch.as_tensor(x_tr, dtype=torch.float32, device=dev)
    Y = torch.as_tensor(y_tr, dtype=torch.float32, device=dev)
    px = torch.as_tensor(wx_tr, dtype=torch.float32)
    py = torch.as_tensor(wy_tr, dtype=torch.float32)
    project(cfg.lipschitz, net, clip_value=cfg.clip_value)

    def current_estimate():
        anchors = X if cfg.lipschitz == "ctransform" else None
        return _gap(lambda z: _forward(net, anchors, z), X, wx_tr, Y, wy_tr)

    history = {"step": [], "loss": [], "estimate": []}
    start = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        ix = torch.multinomial(px, cfg.batch_size, replacement=True, generator=gen).to(dev)
        iy = torch.multinomial(py, cfg.batch_size, replacement=True, generator=gen).to(dev)
        loss, _ = critic_loss(cfg.lipschitz, net, X[ix], Y[iy], gen, penalty=cfg.penalty)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        project(cfg.lipschitz, net, clip_value=cfg.clip_value)
        if step % cfg.log_every == 0 or step == cfg.steps:
            history["step"].append(step)
            history["loss"].append(loss.item())
            with torch.no_grad():
                history["estimate"].append(current_estimate() if step < cfg.steps else np.nan)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start

    critic = NeuralCritic(net, X if cfg.lipschitz == "ctransform" else None)
    est = _gap(critic._torch_eval, X, wx_tr, Y, wy_tr)
    history["estimate"][-1] = est
    ho_est = float("nan")
    if x_ho.shape[0] and y_ho.shape[0]:
        ho_est = _gap(critic._torch_eval, torch.as_tensor(x_ho, dtype=torch.float32, device=dev),
                      wx_ho, torch.as_tensor(y_ho, dtype=torch.float32, device=dev), wy_ho)
    if est < 0:
        warnings.warn(
            f"the trained {cfg.lipschitz!r} critic's estimate is negative ({est:.4g}): the "
            "critic failed (the constant 0 would score 0). Try more steps or another lr.",
            CriticFailedWarning, stacklevel=2,
        )
    report = None
    if audit:
        report = lipschitz_audit(critic, x_tr, y_tr, seed=cfg.seed, device=dev,
                                 dtype=torch.float32)
    return CriticResult(
        estimate=est, holdout_estimate=ho_est, critic=critic,
        history={k: np.asarray(v, dtype=float) for k, v in history.items()}, audit=report,
        config=cfg, train=(x_tr, wx_tr, y_tr, wy_tr), holdout_samples=(x_ho, wx_ho, y_ho, wy_ho),
        seconds=seconds,
    )


def spectral_norms(net) -> list[float]:
    r"""Exact largest singular value of each linear layer's (normalised) weight.

    :math:`\sigma_{\max}(W) = \max_{\lVert v \rVert = 1} \lVert W v \rVert`, in
    double precision, for each ``nn.Linear`` of ``net`` in order.  With
    1-Lipschitz activations the network is
    :math:`\prod_l \sigma_{\max}(W_l)`-Lipschitz.  For a spectrally
    normalised layer the weight read is :math:`W / \hat\sigma` (in training
    mode reading it runs one more power iteration), so the value shows how
    close the power-iteration estimate :math:`\hat\sigma` is to the truth.

    Returns
    -------
    list of float
        One value per linear layer.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    >>> _ = net[0].weight.data.copy_(torch.tensor([[3.0, 0.0], [0.0, -2.0]]))
    >>> _ = net[2].weight.data.copy_(torch.tensor([[0.6, 0.8]]))
    >>> [round(s, 6) for s in spectral_norms(net)]  # max(|3|, |-2|) and |(0.6, 0.8)|
    [3.0, 1.0]
    >>> sn = build_mlp(2, (16, 16), spectral=True, generator=torch.Generator().manual_seed(0))
    >>> [round(s, 3) for s in spectral_norms(sn)]
    [1.0, 1.0, 1.0]
    """
    import torch

    with torch.no_grad():
        return [float(torch.linalg.matrix_norm(m.weight.double(), ord=2))
                for m in linear_layers(net)]
