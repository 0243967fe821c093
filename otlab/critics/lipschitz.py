r"""The ways of keeping a Kantorovich critic (close to) 1-Lipschitz: one home for critics and GANs.

Each method is a loss on a minibatch ``(x_b, y_b)`` plus, for weight
clipping, a projection after every optimiser step.  The Kantorovich–Rubinstein
objective maximised by every method except ``"ctransform"`` is

.. math:: \mathbb E_{x_b} f - \mathbb E_{y_b} f .

The neural critics (:func:`otlab.critics.estimate_w1`) and the WGAN trainer
(:mod:`otlab.gan`) share the methods, their papers' settings
(:data:`PAPER_SETTINGS`) and one implementation of the losses
(:func:`kantorovich_loss`).  The trainer names them after the GAN they define:

=================  ==============  =============================================
critic method      GAN loss        constraint
=================  ==============  =============================================
``"clip"``         ``"wgan"``      weight clipping
``"gp"``           ``"wgan-gp"``   two-sided gradient penalty
``"lp"``           ``"wgan-lp"``   one-sided gradient penalty
``"sn"``           ``"wgan-sn"``   spectral normalisation
``"ctransform"``   —               c-transform over the sample
=================  ==============  =============================================

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
    layers' norms, usually a loose bound).  The critics divide each weight by
    its exact largest singular value
    (:class:`otlab.networks.ExactSpectralNorm`); the GAN trainer uses the
    paper's one power iteration per step.
``"ctransform"``
    The batch c-transform critic (Mallasto et al., 2019): maximise
    :math:`\mathbb E_{x_b} f + \mathbb E_{y_b} f^c` with
    :math:`f^c(y) = \min_{i \in b} (\lVert x_i - y\rVert - f(x_i))`.  The
    critic returned after training is
    :math:`\varphi(z) = -f^c(z) = \max_i (f(x_i) - \lVert z - x_i\rVert)` over
    all training points, exactly 1-Lipschitz.

Only ``"sn"`` and ``"ctransform"`` give an estimate that can never exceed
:math:`W_1` (up to float round-off); the penalties are soft constraints.  For
*any* critic, though,
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

__all__ = ["LIPSCHITZ_METHODS", "GAN_LOSSES", "PAPER_SETTINGS", "DEFAULT_SETTINGS",
           "GAN_DEVIATIONS", "method_of", "gan_paper_defaults", "kantorovich_loss",
           "critic_loss", "project", "gradient_norms", "input_gradients",
           "relu_mlp_input_gradient", "sorting_mlp_input_gradient", "batch_c_transform"]

#: Names accepted by ``estimate_w1(lipschitz=...)``.
LIPSCHITZ_METHODS = ("clip", "gp", "lp", "sn", "ctransform")

#: The Wasserstein GAN loss of :mod:`otlab.gan` that each method defines.
GAN_LOSSES = {"clip": "wgan", "gp": "wgan-gp", "lp": "wgan-lp", "sn": "wgan-sn"}

_ADAM_GP = {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "penalty": 10.0,
            "clip_value": None, "n_critic": 5}

#: The original papers' settings, per method: the critic's optimiser (``lr``,
#: Adam's ``betas``), the penalty weight λ, the clipping bound c and
#: ``n_critic``, the critic steps per generator step of their GAN training
#: (Arjovsky et al. 2017, Alg. 1; Gulrajani et al. 2017, Alg. 1; Petzka et al.
#: 2018, as WGAN-GP; Miyato et al. 2018).
PAPER_SETTINGS = {
    "clip": {"optimizer": "rmsprop", "lr": 5e-5, "betas": None, "penalty": 0.0,
             "clip_value": 0.01, "n_critic": 5},
    "gp": dict(_ADAM_GP),
    "lp": dict(_ADAM_GP),
    "sn": {"optimizer": "adam", "lr": 1e-4, "betas": (0.5, 0.999), "penalty": 0.0,
           "clip_value": None, "n_critic": 5},
    "ctransform": {"optimizer": "adam", "lr": 1e-4, "betas": (0.5, 0.999), "penalty": 0.0,
                   "clip_value": None, "n_critic": None},
}

#: The estimator's defaults: the papers' settings with larger learning rates, so
#: that a few thousand steps converge on the CPU (measured in
#: ``benchmarks/reports/critic_accuracy.md``).  ``lr=PAPER_SETTINGS[m]["lr"]``
#: (and ``betas``) restores the papers' optimisers.  The default method
#: ``"lp"`` also uses ReLU units (the papers' and the benchmark's; their input
#: gradient has a first-order form, :func:`input_gradients`) and a cosine
#: decay of the learning rate, measured on the known-answer pairs
#: (``benchmarks/reports/critics_w1_benchmark.md``); the other methods keep
#: leaky ReLU and a constant rate.  ``"radial"``: whether the network also
#: sees the norm of its (standardised) input
#: (:class:`otlab.networks.WithRadius`) in dimension D > 32
#: (:func:`otlab.critics.default_radial`); for ``"lp"`` only (a spectral-norm
#: bound would not cover the norm feature).  ``"input_scale"``: how the input
#: is scaled for the network (:func:`otlab.critics.input_gain`) on samplers at
#: every dimension and on fixed samples from D = 33 on
#: (:func:`otlab.critics.default_input_scale`): each coordinate to RMS 1
#: (``"coordinate"``) for ``"lp"``, the whole point to RMS norm 1 (``"radius"``)
#: for the others.  ``"penalty_up_to_d32"``: the penalty weight on samplers
#: up to D = 32 (:func:`otlab.critics.default_penalty`; ``"penalty"`` above):
#: 30 for ``"lp"``, whose soft one-sided penalty let the critic's slope exceed
#: 1 there with the weight 10.  ``"steps_unit"``: the steps up to D = 32
#: and per further 32 dimensions on samplers (:func:`otlab.critics.default_steps`),
#: 1000; ``"samplers_steps"``: for ``"lp"`` the steps on samplers from D = 3
#: on instead, 16000 (it was still learning after 1000 and 4000 per unit
#: on the known-answer pairs with 16 funnels), None for the others (not
#: measured with more); ``"samplers_steps_up_to_d32"``: for ``"lp"`` the steps on
#: samplers up to D = 32 (where the minibatches hold 256 points), 64000 (at D = 2
#: with 16 funnels the gradient's cosine was 0.88 and 0.86 after 16000, 0.91 and
#: 0.89 after 32000 and 0.92 and 0.905 after 64000 steps, two seeds: the source's
#: mass sits at the funnels' tips, which each doubling draws sharper; at D = 32
#: the estimate was 6.8 % and 4.9 % low after 16000 and 4.7 % and 3.1 % after
#: 64000; about 200 CPU seconds at D = 2 and 450 at D = 32);
#: ``"samplers_steps_from_d97"``: for ``"lp"`` the steps on samplers from D = 97
#: on, 32000 (at D = 128 with 16 funnels 16000 steps left the estimate 3.6 % to
#: 7.2 % low on six seeds, two of them beyond 5 %; 32000 took the slope along
#: the optimal moves from 0.935-0.973 to about 0.99, in about 470 CPU seconds).
#: ``"batch_size"``: points per side of each minibatch,
#: 256 (:func:`otlab.critics.default_batch_size`);
#: ``"samplers_batch_size_above_d32"``: for ``"lp"`` on samplers from D = 33
#: on, 512; ``"samplers_penalty_batch"``: for ``"lp"`` on samplers, the
#: interpolates per step at which the penalty is evaluated, 256 (those of the
#: first 256 pairs; :func:`otlab.critics.default_penalty_batch`): the objective
#: sees twice the points while the penalty's input gradients, the costly part
#: of a step, stay at 256 rows.  On the known-answer pairs at D = 128 with 16
#: funnels this took the slope along the optimal moves from 0.91 to 0.95-0.96
#: and the gradient cosine from 0.89 to 0.93-0.94 (two seeds) for about 1.5
#: times the CPU time; at D = 16 it gained nothing and at D = 32 0.4-1.6
#: points, so it starts at D = 33.  None for the other methods (not measured).
#: ``"samplers_width_from_d16"``: for ``"lp"`` on samplers, at least 256
#: hidden units per layer from D = 16 on (:func:`otlab.critics.default_hidden`;
#: 128 otherwise up to D = 16): at D = 16 with 16 funnels the critic was short of
#: capacity, not of data (slope 0.94 to 0.97, cosine 0.91 to 0.94, two seeds).
DEFAULT_SETTINGS = {
    name: {**cfg, "lr": {"clip": 5e-4, "gp": 1e-3, "lp": 1e-3, "sn": 1e-3,
                         "ctransform": 1e-3}[name],
           "activation": "relu" if name == "lp" else "leaky_relu",
           "lr_schedule": "cosine" if name == "lp" else "constant",
           "radial": name == "lp",
           "input_scale": "coordinate" if name == "lp" else "radius",
           "steps_unit": 1000,
           "samplers_steps": 16000 if name == "lp" else None,
           "samplers_steps_up_to_d32": 64000 if name == "lp" else None,
           "samplers_steps_from_d97": 32000 if name == "lp" else None,
           "batch_size": 256,
           "samplers_batch_size_above_d32": 512 if name == "lp" else None,
           "samplers_penalty_batch": 256 if name == "lp" else None,
           "samplers_width_from_d16": 256 if name == "lp" else None,
           "penalty_up_to_d32": 30.0 if name == "lp" else cfg["penalty"]}
    for name, cfg in PAPER_SETTINGS.items()
}

#: Where the GAN trainer departs from :data:`PAPER_SETTINGS`: WGAN-SN keeps
#: WGAN-GP's Adam betas (0, 0.9).
GAN_DEVIATIONS = {"sn": {"betas": (0.0, 0.9)}}


def method_of(name: str) -> str:
    """The method called ``name`` in either vocabulary: ``"gp"`` or ``"wgan-gp"`` give ``"gp"``.

    Examples
    --------
    >>> method_of("wgan-gp"), method_of("sn"), method_of("wgan")
    ('gp', 'sn', 'clip')
    """
    if name in LIPSCHITZ_METHODS:
        return name
    for method, loss in GAN_LOSSES.items():
        if name == loss:
            return method
    names = ", ".join(repr(n) for n in (*LIPSCHITZ_METHODS, *GAN_LOSSES.values()))
    raise ValueError(f"unknown Lipschitz method {name!r}; expected one of {names}")


def gan_paper_defaults(loss: str) -> dict:
    """The :class:`otlab.gan.TrainConfig` fields of a Wasserstein GAN loss, from :data:`PAPER_SETTINGS`.

    The critic's learning rate is used for both networks (as in the papers'
    algorithms), :data:`GAN_DEVIATIONS` applied; keys the method does not use
    (``betas`` of RMSProp, ``penalty`` and ``clip`` when zero or unset) are left out.

    Examples
    --------
    >>> gan_paper_defaults("wgan")
    {'optimizer': 'rmsprop', 'lr_g': 5e-05, 'lr_d': 5e-05, 'n_critic': 5, 'clip': 0.01}
    >>> gan_paper_defaults("wgan-gp")["betas"], gan_paper_defaults("wgan-gp")["penalty"]
    ((0.0, 0.9), 10.0)
    """
    method = method_of(loss)
    if method not in GAN_LOSSES:
        raise ValueError(f"{loss!r} has no GAN loss; expected one of "
                         f"{', '.join(repr(v) for v in GAN_LOSSES.values())}")
    paper = {**PAPER_SETTINGS[method], **GAN_DEVIATIONS.get(method, {})}
    out = {"optimizer": paper["optimizer"], "lr_g": paper["lr"], "lr_d": paper["lr"]}
    if paper["betas"] is not None:
        out["betas"] = paper["betas"]
    out["n_critic"] = paper["n_critic"]
    if paper["penalty"]:
        out["penalty"] = paper["penalty"]
    if paper["clip_value"] is not None:
        out["clip"] = paper["clip_value"]
    return out


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


def _plain_mlp(critic, kinds):
    """``(linears, activations)`` of a ``Linear, act, ..., Linear(., 1)`` Sequential whose
    activations are all of the types ``kinds``, else ``None``.

    Parametrised layers (spectral norm) and subclasses are left to autograd.
    """
    from torch import nn

    if type(critic) is not nn.Sequential or len(critic) % 2 == 0:
        return None
    modules = list(critic)
    linears, acts = modules[0::2], modules[1::2]
    plain = (all(type(m) is nn.Linear and not nn.utils.parametrize.is_parametrized(m)
                 for m in linears)
             and all(type(m) in kinds for m in acts) and linears[-1].out_features == 1)
    return (linears, acts) if plain else None


def _plain_relu_mlp(critic):
    """The ``Linear`` layers of a ``Linear, ReLU, ..., Linear(., 1)`` Sequential, else ``None``."""
    from torch import nn

    found = _plain_mlp(critic, (nn.ReLU,))
    return None if found is None else found[0]


def _plain_sorting_mlp(critic):
    """``(linears, activations)`` of a Sequential of ``Linear`` layers with ReLU and
    :class:`otlab.networks.GroupSort` activations, at least one GroupSort, else ``None``."""
    from torch import nn

    from ..networks import GroupSort

    found = _plain_mlp(critic, (nn.ReLU, GroupSort))
    if found is None or not any(type(m) is GroupSort for m in found[1]):
        return None
    return found


def sorting_mlp_input_gradient(layers, activations, x, *, start: int = 0):
    r"""Outputs and input gradients of an MLP with ReLU and GroupSort units (first order).

    As :func:`relu_mlp_input_gradient`, for activations that are each a
    ``torch.nn.ReLU`` or an :class:`otlab.networks.GroupSort`.  A GroupSort
    unit permutes its group, :math:`h_j = p_{\pi(j)}`, so its backward step
    sends the gradient of output j to input :math:`\pi(j)` (a scatter by the
    sorting indices, which are piecewise constant in the weights): the result
    is the gradient autograd computes, differentiable in the weights without
    double backpropagation.

    Parameters
    ----------
    layers : sequence of torch.nn.Linear
        The affine layers; the last has one output.
    activations : sequence of torch.nn.Module
        One after each layer but the last.
    x : Tensor, shape (n, d)
    start : int
        First row whose input gradient is wanted.

    Returns
    -------
    out : Tensor, shape (n,)
    grad : Tensor, shape (n - start, d)

    Examples
    --------
    >>> import torch
    >>> from otlab.networks import mlp
    >>> _ = torch.manual_seed(0)
    >>> net = mlp(3, 1, (4, 4), activation="groupsort")
    >>> x = torch.randn(5, 3, requires_grad=True)
    >>> out, grad = sorting_mlp_input_gradient(list(net[0::2]), list(net[1::2]), x)
    >>> (expected,) = torch.autograd.grad(net(x).sum(), x)
    >>> torch.allclose(grad, expected), torch.allclose(out, net(x).squeeze(-1))
    (True, True)
    """
    import torch
    import torch.nn.functional as F

    h, backs = x, []
    for layer, act in zip(layers[:-1], activations):
        pre = F.linear(h, layer.weight, layer.bias)
        if isinstance(act, torch.nn.ReLU):
            backs.append(("mask", (pre[start:] > 0).to(pre.dtype)))
            h = torch.relu(pre)
        else:
            h, order = act.sort(pre)
            backs.append(("scatter", order[start:]))
    out = F.linear(h, layers[-1].weight, layers[-1].bias).squeeze(-1)
    grad = layers[-1].weight.expand(x.shape[0] - start, -1)
    for layer, (kind, back) in zip(reversed(layers[:-1]), reversed(backs)):
        if kind == "mask":
            grad = grad * back
        else:  # output j of a group came from input order[j]
            grouped = grad.unflatten(-1, back.shape[-2:])
            grad = torch.zeros_like(grouped).scatter(-1, back, grouped).flatten(-2)
        grad = grad @ layer.weight
    return out, grad


def relu_mlp_input_gradient(layers, x, *, start: int = 0):
    r"""Outputs of a ReLU MLP on all rows of ``x`` and input gradients of rows ``start:``.

    With :math:`h_0 = x`, :math:`h_l = \mathrm{relu}(W_l h_{l-1} + b_l)` and
    :math:`D(x) = W_L h_{L-1} + b_L` (one output),
    :math:`\nabla_x D = W_1^\top (m_1 \odot \cdots W_{L-1}^\top(m_{L-1} \odot W_L^\top))`
    with the masks :math:`m_l = \mathbb{1}[W_l h_{l-1} + b_l > 0]` (the convention of
    autograd's ReLU backward).  The result is differentiable in the weights with
    first-order autograd: no ``create_graph`` double backward.

    Parameters
    ----------
    layers : sequence of torch.nn.Linear
        The affine layers; a ReLU follows every one but the last, which has one output.
    x : Tensor, shape (n, d)
    start : int
        First row whose input gradient is wanted.

    Returns
    -------
    out : Tensor, shape (n,)
    grad : Tensor, shape (n - start, d)

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> x = torch.randn(5, 2, requires_grad=True)
    >>> out, grad = relu_mlp_input_gradient([net[0], net[2]], x)
    >>> (expected,) = torch.autograd.grad(net(x).sum(), x)
    >>> torch.allclose(grad, expected), torch.allclose(out, net(x).squeeze(-1))
    (True, True)
    """
    import torch
    import torch.nn.functional as F

    h, masks = x, []
    for layer in layers[:-1]:
        pre = F.linear(h, layer.weight, layer.bias)
        masks.append((pre[start:] > 0).to(pre.dtype))
        h = torch.relu(pre)
    out = F.linear(h, layers[-1].weight, layers[-1].bias).squeeze(-1)
    grad = layers[-1].weight  # (1, H): broadcasts over the rows in the first product
    for layer, mask in zip(reversed(layers[:-1]), reversed(masks)):
        grad = (grad * mask) @ layer.weight
    return out, grad


def input_gradients(critic, z, *, start: int = 0):
    r"""Outputs :math:`f(z_i)` of all rows and input gradients :math:`\nabla f(z_i)` of rows ``start:``.

    For a plain ReLU MLP (an ``nn.Sequential`` of ``Linear`` and ``ReLU``
    layers ending in a ``Linear`` with one output) the gradient is written out
    (:func:`relu_mlp_input_gradient`): a first-order expression whose
    derivative with respect to the weights is what double backpropagation
    computes (the masks are piecewise constant, :math:`\mathrm{relu}'' = 0`),
    in fewer, larger kernels and with a graph that ``torch.compile`` handles;
    so is an MLP whose units are ReLU or :class:`otlab.networks.GroupSort`
    (:func:`sorting_mlp_input_gradient`), and either on the input and its norm
    (:class:`otlab.networks.WithRadius`), through the chain rule.
    Any other critic (convolutional, spectrally normalised, leaky ReLU,
    custom) takes the double-backpropagation path (``create_graph=True``).
    Either way the gradients are differentiable in the critic's parameters.

    An MLP treats rows independently, so one pass over stacked real, fake and
    interpolated rows gives each row's own gradient.

    Examples
    --------
    >>> import torch
    >>> lin = torch.nn.Linear(2, 1, bias=False)
    >>> _ = lin.weight.data.copy_(torch.tensor([[3.0, 4.0]]))
    >>> out, grad = input_gradients(lin, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), start=1)
    >>> out.tolist(), grad.tolist()
    ([3.0, 4.0], [[3.0, 4.0]])
    """
    import torch

    from ..networks import WithRadius

    def first_order(net):
        """The first-order gradient function of ``net``, or None (autograd's path)."""
        if (layers := _plain_relu_mlp(net)) is not None:
            return lambda v: relu_mlp_input_gradient(layers, v, start=start)
        if (found := _plain_sorting_mlp(net)) is not None:
            return lambda v: sorting_mlp_input_gradient(*found, v, start=start)
        return None

    if (fn := first_order(critic)) is not None:
        return fn(z)
    if type(critic) is WithRadius and (fn := first_order(critic.net)) is not None:
        # chain rule through v = (z, |z|): grad_z = grad_v[:d] + grad_v[d] z / |z| (0 at 0)
        radius = torch.linalg.vector_norm(z, dim=-1, keepdim=True)
        out, grad = fn(torch.cat([z, radius], dim=-1))
        r = radius[start:]
        direction = torch.where(r > 0, z[start:] / torch.where(r > 0, r, 1.0), 0.0)
        return out, grad[:, :-1] + grad[:, -1:] * direction
    z.requires_grad_(True)
    out = critic(z).squeeze(-1)
    grad = torch.autograd.grad(out[start:].sum(), z, create_graph=True)[0][start:]
    return out, grad


def kantorovich_loss(method: str, critic, real, fake, *, penalty: float = 0.0, alpha=None):
    r"""``(loss, estimate)``: the critic's loss to minimise and its detached :math:`W_1` estimate.

    With :math:`f` = ``critic`` on the rows of ``real`` (:math:`x`) and ``fake``
    (:math:`y`), the estimate is :math:`v = \mathbb E_x f - \mathbb E_y f` and
    the loss

    .. math::

        -v + \lambda\, \mathbb E_{\hat x} (\lVert\nabla f(\hat x)\rVert - 1)^2,
        \qquad \hat x = \alpha x + (1 - \alpha) y

    for ``"gp"`` (``"wgan-gp"``); ``"lp"`` keeps only the positive part of
    :math:`\lVert\nabla f\rVert - 1`; ``"clip"`` and ``"sn"`` have no penalty
    (their constraint is in the network or the projection).  Method names of
    either vocabulary are accepted (:func:`method_of`).  ``alpha`` (shape
    ``(n, 1)``) defaults to draws from :math:`U[0, 1]` by torch's global
    generator.  Real, fake and interpolated rows go through the critic in one
    pass (:func:`input_gradients`); ``fake`` is detached.  An ``alpha`` with
    m < n rows puts the penalty at the interpolates of the first m pairs only
    (the objective keeps all n rows).

    Examples
    --------
    The 2-Lipschitz critic :math:`f(z) = 2 z_1` between
    :math:`x = ((1, 0), (3, 0))` and two points at the origin: the estimate is
    :math:`(2 + 6) / 2 - 0 = 4`, penalised by :math:`10\,(2 - 1)^2`:

    >>> import torch
    >>> net = torch.nn.Linear(2, 1, bias=False)
    >>> _ = net.weight.data.copy_(torch.tensor([[2.0, 0.0]]))
    >>> real, fake = torch.tensor([[1.0, 0.0], [3.0, 0.0]]), torch.zeros(2, 2)
    >>> [t.item() for t in kantorovich_loss("gp", net, real, fake, penalty=10.0)]
    [6.0, 4.0]
    >>> [t.item() for t in kantorovich_loss("wgan-sn", net, real, fake)]
    [-4.0, 4.0]
    """
    import torch

    method = method_of(method)
    if method == "ctransform":
        raise ValueError("kantorovich_loss has no 'ctransform' form; use critic_loss")
    n = real.shape[0]
    fake = fake.detach()
    if method in ("gp", "lp"):
        if alpha is None:
            alpha = torch.rand(n, 1, device=real.device, dtype=real.dtype)
        m = alpha.shape[0]
        if m > n:
            raise ValueError(f"alpha has {m} rows for a batch of {n}; at most {n}")
        interp = alpha * real[:m] + (1.0 - alpha) * fake[:m]
        out, grad = input_gradients(critic, torch.cat([real, fake, interp]), start=2 * n)
        excess = grad.norm(dim=1) - 1.0
        if method == "lp":
            excess = excess.clamp(min=0.0)
        d_real, d_fake = out[:n], out[n:2 * n]
        loss = d_fake.mean() - d_real.mean() + penalty * excess.pow(2).mean()
    else:
        out = critic(torch.cat([real, fake])).squeeze(-1)
        d_real, d_fake = out[:n], out[n:]
        loss = d_fake.mean() - d_real.mean()
    return loss, (d_real.mean() - d_fake.mean()).detach()


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


def critic_loss(method: str, net, xb, yb, generator, *, penalty: float,
                penalty_batch: int | None = None):
    r"""Loss to *minimise* on one minibatch of :func:`otlab.critics.estimate_w1`, and the estimate.

    ``xb`` and ``yb`` have the same number of rows (the pairing used for the
    interpolates is the sampling order, which is random).  Every method but
    ``"ctransform"`` is :func:`kantorovich_loss`, with the interpolation
    weights :math:`t` of :math:`\hat x = t x + (1 - t) y` drawn from
    ``generator`` (a ``torch.Generator``); with ``penalty_batch`` = m smaller
    than the batch, the penalty is evaluated at the interpolates of the first m
    pairs only (the objective keeps every row).  For ``"ctransform"`` the estimate
    is :math:`v = \mathbb E_{x_b} f + \mathbb E_{y_b} f^c`
    (:func:`batch_c_transform`) and the loss :math:`-v`.

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
    import torch

    if method == "ctransform":
        fx = net(xb).squeeze(-1)
        value = fx.mean() + batch_c_transform(fx, xb, yb).mean()
        return -value, value.detach()
    alpha = None
    if method in ("gp", "lp"):
        rows = xb.shape[0] if penalty_batch is None else min(int(penalty_batch), xb.shape[0])
        alpha = torch.rand((rows, 1), generator=generator).to(device=xb.device, dtype=xb.dtype)
    return kantorovich_loss(method, net, xb, yb, penalty=penalty, alpha=alpha)


def project(method: str, net, *, clip_value: float | None) -> None:
    """Weight clipping: clamp every parameter to ``[-clip_value, clip_value]``.

    In place, :math:`\\theta \\leftarrow \\min(\\max(\\theta, -c), c)` with
    :math:`c` = ``clip_value`` (:func:`otlab.networks.clip_weights_`), only
    when ``method`` is ``"clip"`` (or ``"wgan"``); every other method leaves
    ``net`` unchanged.

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
    if method_of(method) != "clip":
        return
    from ..networks import clip_weights_

    clip_weights_(net.parameters(), clip_value)
