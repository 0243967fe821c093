r"""The five ways of keeping a neural critic (close to) 1-Lipschitz.

Each method is a loss on a minibatch ``(x_b, y_b)`` plus, for weight
clipping, a projection after every optimiser step.  The Kantorovich–Rubinstein
objective maximised by every method except ``"ctransform"`` is

.. math:: \mathbb E_{x_b} f - \mathbb E_{y_b} f .

``"clip"``
    Weight clipping (Arjovsky et al., 2017): every parameter is clamped to
    :math:`[-c, c]` after each step, c = 0.01, RMSProp(5e-5).  The network is
    then K-Lipschitz for some *unknown* K, so the estimate is
    :math:`\approx K \cdot W_1`: only its correlation with :math:`W_1` means
    something.
``"gp"``
    Two-sided gradient penalty (Gulrajani et al., 2017):
    :math:`\lambda\, \mathbb E_{\hat x} (\lVert\nabla f(\hat x)\rVert - 1)^2` at
    random interpolates :math:`\hat x = t x + (1 - t) y`, λ = 10,
    Adam(1e-4, β = (0, 0.9)).
``"lp"``
    One-sided penalty (Petzka et al., 2018):
    :math:`\lambda\, \mathbb E_{\hat x} \max(0, \lVert\nabla f(\hat x)\rVert - 1)^2`.
``"sn"``
    Spectral normalisation (Miyato et al., 2018) of every linear layer; with
    1-Lipschitz activations the network is 1-Lipschitz (the product of the
    layers' norms, usually a loose bound).
``"ctransform"``
    The batch c-transform critic (Mallasto et al., 2019): maximise
    :math:`\mathbb E_{x_b} f + \mathbb E_{y_b} f^c` with
    :math:`f^c(y) = \min_{i \in b} (\lVert x_i - y\rVert - f(x_i))`.  The
    critic returned after training is
    :math:`\varphi(z) = -f^c(z) = \max_i (f(x_i) - \lVert z - x_i\rVert)` over
    all training points, exactly 1-Lipschitz.

Only ``"sn"`` (up to the power-iteration error) and ``"ctransform"``
(exactly) give an estimate that can never exceed :math:`W_1`; the penalties
are soft constraints.  For *any* critic, though,
:math:`\mathbb E_x f - \mathbb E_y f = \sum_{ij} P_{ij} (f(x_i) - f(y_j)) \le
L_{xy} W_1` where :math:`L_{xy}` is the largest slope between an x and a y
point (:class:`otlab.critics.LipschitzAudit`).

References
----------
M. Arjovsky, S. Chintala, L. Bottou (2017). Wasserstein GAN. ICML.
I. Gulrajani, F. Ahmed, M. Arjovsky, V. Dumoulin, A. Courville (2017).
Improved training of Wasserstein GANs. NeurIPS.
H. Petzka, A. Fischer, D. Lukovnicov (2018). On the regularization of
Wasserstein GANs. ICLR.
T. Miyato, T. Kataoka, M. Koyama, Y. Yoshida (2018). Spectral normalization for
generative adversarial networks. ICLR.
A. Mallasto, G. Montúfar, A. Gerolin (2019). How well do WGANs estimate the
Wasserstein metric? arXiv:1910.03875.
"""

from __future__ import annotations

__all__ = ["LIPSCHITZ_METHODS", "PAPER_SETTINGS", "DEFAULT_SETTINGS", "critic_loss",
           "project", "gradient_norms", "batch_c_transform"]

#: Names accepted by ``estimate_w1(lipschitz=...)``.
LIPSCHITZ_METHODS = ("clip", "gp", "lp", "sn", "ctransform")

#: Optimiser settings of the original papers, per method.
PAPER_SETTINGS = {
    "clip": {"optimizer": "rmsprop", "lr": 5e-5, "betas": None, "penalty": 0.0,
             "clip_value": 0.01},
    "gp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "penalty": 10.0,
           "clip_value": None},
    "lp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "penalty": 10.0,
           "clip_value": None},
    "sn": {"optimizer": "adam", "lr": 1e-4, "betas": (0.5, 0.999), "penalty": 0.0,
           "clip_value": None},
    "ctransform": {"optimizer": "adam", "lr": 1e-4, "betas": (0.5, 0.999), "penalty": 0.0,
                   "clip_value": None},
}

#: The estimator's defaults: the papers' settings with larger learning rates, so
#: that the default 1000 steps converge on the CPU (measured in
#: ``benchmarks/reports/critic_accuracy.md``).  ``lr=PAPER_SETTINGS[m]["lr"]``
#: (and ``betas``) restores the papers' optimisers.
DEFAULT_SETTINGS = {
    name: {**cfg, "lr": {"clip": 5e-4, "gp": 1e-3, "lp": 1e-3, "sn": 1e-3,
                         "ctransform": 1e-3}[name]}
    for name, cfg in PAPER_SETTINGS.items()
}


def gradient_norms(net, z, *, create_graph: bool = False):
    """Euclidean norms of :math:`\\nabla f(z_i)` for each row of ``z``.

    :math:`\\lVert \\nabla f(z_i) \\rVert_2` is the critic's local slope at
    :math:`z_i`; the penalties of ``"gp"`` and ``"lp"`` push it towards 1.
    With ``create_graph=True`` the norms can be differentiated with respect
    to the parameters of ``net`` (double backpropagation).

    Examples
    --------
    A linear critic :math:`f(z) = w^\\top z + b` has gradient :math:`w`
    everywhere, so every norm is :math:`\\lVert w \\rVert = \\lVert (3, 4, 0) \\rVert = 5`:

    >>> import torch
    >>> net = torch.nn.Linear(3, 1)
    >>> _ = net.weight.data.copy_(torch.tensor([[3.0, 4.0, 0.0]]))
    >>> gradient_norms(net, torch.randn(4, 3))
    tensor([5., 5., 5., 5.])
    """
    import torch

    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        out = net(z).sum()
        (grad,) = torch.autograd.grad(out, z, create_graph=create_graph)
    return grad.norm(dim=1)


def _interpolates(xb, yb, generator):
    import torch

    t = torch.rand((xb.shape[0], 1), generator=generator).to(device=xb.device, dtype=xb.dtype)
    return t * xb + (1 - t) * yb


def batch_c_transform(fx, xb, yb):
    r""":math:`f^c(y_j) = \min_i (\lVert x_i - y_j\rVert - f(x_i))` over the batch.

    ``fx`` holds the values :math:`f(x_i)` on the rows of ``xb``; the result
    has one entry per row of ``yb``.  By construction
    :math:`f(x_i) + f^c(y_j) \le \lVert x_i - y_j \rVert` for all pairs, so
    :math:`\mathbb E_{x_b} f + \mathbb E_{y_b} f^c` never exceeds the
    batch's :math:`W_1`.

    Examples
    --------
    With :math:`x = ((0, 0), (3, 0))`, :math:`f(x) = (0, 1)` and
    :math:`y = ((1, 0), (3, 4))`:
    :math:`f^c(y_1) = \min(1 - 0, 2 - 1) = 1` and
    :math:`f^c(y_2) = \min(5 - 0, 4 - 1) = 3`.

    >>> import torch
    >>> xb = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    >>> yb = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    >>> batch_c_transform(torch.tensor([0.0, 1.0]), xb, yb)
    tensor([1., 3.])
    """
    import torch

    dist = torch.cdist(yb, xb, compute_mode="donot_use_mm_for_euclid_dist")
    return (dist - fx[None, :]).amin(dim=1)


def critic_loss(method: str, net, xb, yb, generator, *, penalty: float):
    r"""Loss to *minimise* on one minibatch, and the batch estimate (a tensor).

    ``xb`` and ``yb`` have the same number of rows (the pairing used for the
    interpolates is the sampling order, which is random).  The estimate is
    :math:`v = \mathbb E_{x_b} f - \mathbb E_{y_b} f` and the loss
    :math:`-v + \lambda\, \mathbb E_{\hat x} (\lVert\nabla f(\hat x)\rVert - 1)^2`
    (``"gp"``; ``"lp"`` keeps only the positive part of
    :math:`\lVert\nabla f\rVert - 1`; the other methods have no penalty term).
    For ``"ctransform"`` the estimate is
    :math:`v = \mathbb E_{x_b} f + \mathbb E_{y_b} f^c` (:func:`batch_c_transform`)
    and the loss :math:`-v`.  ``generator`` (a ``torch.Generator``) draws the
    interpolation weights :math:`t` of :math:`\hat x = t x + (1 - t) y`.

    Examples
    --------
    The 2-Lipschitz critic :math:`f(z) = 2 z_1` between
    :math:`x = ((1, 0), (3, 0))` and two points at the origin
    (:math:`W_1 = 2`): the plain estimate is :math:`(2 + 6) / 2 - 0 = 4`,
    penalised by :math:`10\,(2 - 1)^2`; the c-transform estimate is
    :math:`4 + \min(1 - 2, 3 - 6) = 1 \le W_1`.

    >>> import torch
    >>> net = torch.nn.Linear(2, 1, bias=False)
    >>> _ = net.weight.data.copy_(torch.tensor([[2.0, 0.0]]))
    >>> xb, yb = torch.tensor([[1.0, 0.0], [3.0, 0.0]]), torch.zeros(2, 2)
    >>> g = torch.Generator().manual_seed(0)
    >>> loss, value = critic_loss("gp", net, xb, yb, g, penalty=10.0)
    >>> value.item(), loss.item()
    (4.0, 6.0)
    >>> loss, value = critic_loss("ctransform", net, xb, yb, g, penalty=0.0)
    >>> value.item(), loss.item()
    (1.0, -1.0)
    """
    fx = net(xb).squeeze(-1)
    if method == "ctransform":
        value = fx.mean() + batch_c_transform(fx, xb, yb).mean()
        return -value, value
    value = fx.mean() - net(yb).squeeze(-1).mean()
    loss = -value
    if method in ("gp", "lp") and penalty > 0:
        norms = gradient_norms(net, _interpolates(xb, yb, generator), create_graph=True)
        excess = norms - 1 if method == "gp" else (norms - 1).clamp_min(0)
        loss = loss + penalty * excess.square().mean()
    return loss, value


def project(method: str, net, *, clip_value: float | None) -> None:
    """Weight clipping: clamp every parameter to ``[-clip_value, clip_value]``.

    In place, :math:`\\theta \\leftarrow \\min(\\max(\\theta, -c), c)` with
    :math:`c` = ``clip_value``, only when ``method == "clip"``; every other
    method leaves ``net`` unchanged.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(2, 1)
    >>> _ = net.weight.data.copy_(torch.tensor([[0.5, -0.003]]))
    >>> _ = net.bias.data.fill_(-2.0)
    >>> project("gp", net, clip_value=0.01)  # not weight clipping: untouched
    >>> net.weight.data
    tensor([[ 0.5000, -0.0030]])
    >>> project("clip", net, clip_value=0.01)
    >>> net.weight.data, net.bias.data
    (tensor([[ 0.0100, -0.0030]]), tensor([-0.0100]))
    """
    if method != "clip":
        return
    import torch

    with torch.no_grad():
        for p in net.parameters():
            p.clamp_(-clip_value, clip_value)
