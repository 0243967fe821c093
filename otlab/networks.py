r"""Torch building blocks shared by the critics, the estimators, the GAN trainer and the demos.

One place for what every neural part of otlab builds the same way:

* :func:`mlp` — a multilayer perceptron ``in_dim -> hidden... -> out_dim``;
  :class:`WithRadius` feeds a network its input and the input's norm;
* :func:`spectral_normalise` — spectral normalisation of the linear and
  convolutional layers, by one power iteration per call (Miyato et al. 2018)
  or by the exact largest singular value (:class:`ExactSpectralNorm`);
  :func:`freeze_spectral_norm` replaces either by a plain weight of spectral
  norm at most one, computed in float64, and :func:`spectral_norms` reads the
  norms back;
* :func:`clip_weights_` — weight clipping :math:`\theta \leftarrow
  \min(\max(\theta, -c), c)` (Arjovsky et al. 2017);
* :func:`seeded` — reproducible initialisation that leaves the caller's random
  state alone.

Constructing a network here draws its parameters from torch's global CPU
generator, exactly as ``torch.nn`` does (use :func:`seeded` to pick the seed);
only :func:`spectral_normalise` with ``method="power"`` draws more (the power
iteration's starting vectors).

References
----------
M. Arjovsky, S. Chintala, L. Bottou (2017). Wasserstein GAN. ICML.
T. Miyato, T. Kataoka, M. Koyama, Y. Yoshida (2018). Spectral normalization for
generative adversarial networks. ICLR.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = ["ACTIVATIONS", "GroupSort", "mlp", "WithRadius", "linear_layers", "spectral_normalise", "ExactSpectralNorm",
           "freeze_spectral_norm", "spectral_norms", "clip_weights_", "seeded"]

#: Hidden-layer activations accepted by :func:`mlp` (all 1-Lipschitz); ``"groupsort"`` is
#: :class:`GroupSort` with groups of two (MaxMin).
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "elu", "groupsort")

_NORMALISED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)

# Below this 2**-20 relative margin a frozen weight's norm could round above 1 in float32.
_FREEZE_MARGIN = 1.0 + 2.0**-20


class GroupSort(nn.Module):
    r"""Sort each consecutive group of ``group_size`` units, largest first (Anil et al. 2019).

    With groups of two (the default) this is *MaxMin*:
    :math:`(a, b) \mapsto (\max(a, b), \min(a, b))`.  The output is a
    permutation of the input that depends on the input, so the Jacobian is a
    permutation matrix wherever no two units of a group are equal: the
    activation is 1-Lipschitz and *preserves the gradient norm* (a ReLU zeroes
    the units it cuts), and a network of GroupSort units with weights of norm 1
    can represent maxima and minima of affine functions, cones
    :math:`\lVert z - a\rVert` and their minima (Anil, Lucas & Grosse 2019).
    The widths of the layers before it must be multiples of ``group_size``.

    Parameters
    ----------
    group_size : int, default 2

    References
    ----------
    C. Anil, J. Lucas, R. Grosse (2019). Sorting out Lipschitz function
    approximation. ICML.

    Examples
    --------
    >>> GroupSort()(torch.tensor([[1.0, 3.0, -2.0, -5.0]]))
    tensor([[ 3.,  1., -2., -5.]])
    >>> GroupSort(4)(torch.tensor([[1.0, 3.0, -2.0, 0.0]]))
    tensor([[ 3.,  1.,  0., -2.]])
    """

    def __init__(self, group_size: int = 2):
        super().__init__()
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"group_size must be a positive integer; got {group_size!r}")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sort(x)[0]

    def sort(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The output and the sorting indices within each group, shape ``(..., n / g, g)``."""
        n = x.shape[-1]
        if n % self.group_size:
            raise ValueError(f"GroupSort({self.group_size}) needs a multiple of "
                             f"{self.group_size} units; got {n}")
        values, order = x.unflatten(-1, (n // self.group_size, self.group_size)).sort(
            dim=-1, descending=True, stable=True)
        return values.flatten(-2), order

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


def _activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh,
            "elu": nn.ELU, "groupsort": GroupSort}[name]()


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int], *, activation: str = "relu",
        spectral_norm: str | None = None, out_activation: nn.Module | None = None
        ) -> nn.Sequential:
    r"""A multilayer perceptron from ``in_dim`` inputs to ``out_dim`` outputs, hidden widths ``hidden``.

    .. math:: x \mapsto W_L\, a(\cdots a(W_1 x + b_1) \cdots) + b_L

    with :math:`a` the ``activation`` (``"leaky_relu"`` has slope 0.2) after
    every hidden layer, and ``out_activation`` after the last one when given.
    The layers are created in order with PyTorch's default initialisation, so
    a network of the same shape built from the same torch random state has the
    same parameters wherever it is built.

    Parameters
    ----------
    in_dim, out_dim : int
        Input and output widths.
    hidden : sequence of int
        Hidden widths (empty: one affine layer).
    activation : {"relu", "leaky_relu", "tanh", "elu", "groupsort"}, default "relu"
        ``"groupsort"``: :class:`GroupSort` with groups of two (MaxMin); every
        hidden width must then be even.
    spectral_norm : {None, "power", "exact"}, default None
        Spectrally normalise every linear layer (:func:`spectral_normalise`).
    out_activation : torch.nn.Module, optional
        Appended after the last layer (e.g. ``torch.nn.Tanh()`` for pixels).

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> net = mlp(2, 1, (8, 8))
    >>> net
    Sequential(
      (0): Linear(in_features=2, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=8, bias=True)
      (3): ReLU()
      (4): Linear(in_features=8, out_features=1, bias=True)
    )
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}; "
                         f"got {activation!r}")
    widths = [int(in_dim), *(int(h) for h in hidden), int(out_dim)]
    if activation == "groupsort" and any(h % 2 for h in widths[1:-1]):
        raise ValueError(f"activation='groupsort' sorts pairs of units: every hidden width must "
                         f"be even; got hidden={tuple(widths[1:-1])}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(widths) - 2:
            layers.append(_activation(activation))
    if spectral_norm is not None:
        layers = spectral_normalise(layers, method=spectral_norm)
    if out_activation is not None:
        layers.append(out_activation)
    return nn.Sequential(*layers)


class WithRadius(nn.Module):
    r"""``net`` applied to the input and its Euclidean norm: :math:`u \mapsto g(u, \lVert u\rVert)`.

    A ReLU MLP of width H draws :math:`\lVert u\rVert` in D dimensions from
    H ridge functions :math:`\mathrm{relu}(w \cdot u + b)`; in high
    dimension that needs far more units than D, and a critic without them
    misses every radial part of the potential (in D = 128 the radial part is
    about 40 % of the squared gradient of the known-answer pairs of
    :func:`otlab.datasets.w1_benchmark`).  Given the norm as an extra input it
    is one weight.  The map :math:`u \mapsto (u, \lVert u\rVert)` is
    smooth but at 0, where the norm's gradient is taken as 0 (torch's
    convention); its Lipschitz constant is :math:`\sqrt 2`, so a bound on
    ``net`` (spectral norms) is not a bound on the whole: gradient penalties,
    which see the gradient through the norm, are the methods to use it with.

    Parameters
    ----------
    net : torch.nn.Module
        Takes ``d + 1`` inputs.

    Examples
    --------
    >>> g = WithRadius(nn.Linear(3, 1, bias=False))
    >>> _ = g.net.weight.data.copy_(torch.tensor([[0.0, 0.0, 1.0]]))
    >>> g(torch.tensor([[3.0, 4.0]])).item()
    5.0
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        radius = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
        return self.net(torch.cat([u, radius], dim=-1))


def linear_layers(net: nn.Module) -> list[nn.Linear]:
    """The ``torch.nn.Linear`` layers of ``net``, in order.

    >>> [m.in_features for m in linear_layers(mlp(3, 1, (4,)))]
    [3, 4]
    """
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


class ExactSpectralNorm(nn.Module):
    r"""Parametrisation :math:`W \mapsto W / \sigma_{\max}(W)` with the exact largest singular value.

    The top singular pair :math:`(u, v)` of :math:`W` (a convolution kernel is
    reshaped to ``(out_channels, -1)``) comes from an SVD without gradient,
    and :math:`\sigma = u^\top W v` is differentiated: since
    :math:`\partial\sigma / \partial W = u v^\top` this is the exact gradient
    of :math:`W / \sigma_{\max}(W)` wherever the top singular value is simple.
    Unlike one power iteration per step it never underestimates
    :math:`\sigma_{\max}` by more than round-off, so the layer is 1-Lipschitz
    at every step; an SVD per call makes it suited to layers of up to a few
    hundred units.

    Examples
    --------
    >>> layer = nn.Linear(3, 2)
    >>> _ = parametrize.register_parametrization(layer, "weight", ExactSpectralNorm())
    >>> round(float(torch.linalg.matrix_norm(layer.weight.detach(), ord=2)), 5)
    1.0
    """

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        mat = weight.flatten(1)
        with torch.no_grad():
            u, _, vh = torch.linalg.svd(mat, full_matrices=False)
        sigma = u[:, 0] @ mat @ vh[0]
        return weight / sigma


def spectral_normalise(layers: Iterable[nn.Module], *, method: str = "power",
                       n_power_iterations: int = 1) -> list[nn.Module]:
    r"""Spectrally normalise every linear and convolutional layer of ``layers``.

    Each weight :math:`W` is replaced by :math:`W / \sigma_{\max}(W)` (for a
    convolution, the norm of the kernel reshaped to ``(out_channels, -1)``, as
    in Miyato et al.'s code).  With 1-Lipschitz activations the network is then
    at most :math:`\prod_l \sigma_{\max}(W_l / \hat\sigma_l)`-Lipschitz.

    Parameters
    ----------
    layers : iterable of torch.nn.Module
        Other modules (activations, reshapes) are passed through unchanged.
    method : {"power", "exact"}, default "power"
        ``"power"``: ``torch.nn.utils.parametrizations.spectral_norm``, which
        estimates :math:`\hat\sigma` by ``n_power_iterations`` power
        iterations per training-mode call from a persistent random vector
        (drawn now from torch's global generator).  The estimate approaches
        :math:`\sigma_{\max}` from below, so the layer's norm can exceed 1
        while the iteration lags the weights.  ``"exact"``:
        :class:`ExactSpectralNorm` (no random draw; one SVD per call).
    n_power_iterations : int, default 1
        Only for ``method="power"``.

    Returns
    -------
    list of torch.nn.Module

    Examples
    --------
    >>> layer = nn.Linear(2, 2)
    >>> _ = layer.weight.data.copy_(torch.tensor([[3.0, 0.0], [0.0, -2.0]]))
    >>> (normalised,) = spectral_normalise([layer], method="exact")
    >>> normalised.weight
    tensor([[ 1.0000,  0.0000],
            [ 0.0000, -0.6667]], grad_fn=<DivBackward0>)
    """
    if method not in ("power", "exact"):
        raise ValueError(f"method must be 'power' or 'exact'; got {method!r}")
    out = []
    for m in layers:
        if isinstance(m, _NORMALISED):
            if method == "power":
                m = nn.utils.parametrizations.spectral_norm(
                    m, n_power_iterations=n_power_iterations)
            else:
                parametrize.register_parametrization(m, "weight", ExactSpectralNorm())
        out.append(m)
    return out


def freeze_spectral_norm(net: nn.Module) -> nn.Module:
    r"""Replace every spectrally normalised weight of ``net`` by a plain weight of norm <= 1.

    For each parametrised ``weight`` (either method of
    :func:`spectral_normalise`) the raw weight :math:`W` is divided by its
    exact largest singular value, computed in float64, and by a margin of
    :math:`1 + 2^{-20}` so that rounding back to the layer's dtype cannot lift
    the norm above one.  The parametrisation is removed, so the power
    iteration stops and :func:`spectral_norms` reads the weights actually used.
    In place; returns ``net``.

    Examples
    --------
    >>> net = mlp(3, 1, (16,), spectral_norm="power")
    >>> max(spectral_norms(freeze_spectral_norm(net))) <= 1
    True
    """
    for m in net.modules():
        if not parametrize.is_parametrized(m, "weight"):
            continue
        parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
        with torch.no_grad():
            w64 = m.weight.double()
            sigma = torch.linalg.matrix_norm(w64.flatten(1), ord=2)
            if sigma > 0:
                m.weight.copy_(w64 / (sigma * _FREEZE_MARGIN))
    return net


def spectral_norms(net: nn.Module) -> list[float]:
    r"""Exact largest singular value of each linear layer's weight, in float64.

    :math:`\sigma_{\max}(W) = \max_{\lVert v \rVert = 1} \lVert W v \rVert`
    for each ``nn.Linear`` of ``net`` in order.  With 1-Lipschitz activations
    the network is :math:`\prod_l \sigma_{\max}(W_l)`-Lipschitz.  For a
    spectrally normalised layer the weight read is the normalised one (in
    training mode reading it runs one more power iteration).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    >>> _ = net[0].weight.data.copy_(torch.tensor([[3.0, 0.0], [0.0, -2.0]]))
    >>> _ = net[2].weight.data.copy_(torch.tensor([[0.6, 0.8]]))
    >>> [round(s, 6) for s in spectral_norms(net)]  # max(|3|, |-2|) and |(0.6, 0.8)|
    [3.0, 1.0]
    """
    with torch.no_grad():
        return [float(torch.linalg.matrix_norm(m.weight.double(), ord=2))
                for m in linear_layers(net)]


def clip_weights_(params: Iterable[torch.Tensor], clip_value: float) -> None:
    r"""Weight clipping, in place: :math:`\theta \leftarrow \min(\max(\theta, -c), c)`.

    Every tensor of ``params`` is clamped to :math:`[-c, c]` with
    :math:`c` = ``clip_value`` (no gradient is recorded).

    Examples
    --------
    >>> layer = nn.Linear(2, 1)
    >>> _ = layer.weight.data.copy_(torch.tensor([[0.5, -0.003]]))
    >>> _ = layer.bias.data.fill_(-2.0)
    >>> clip_weights_(layer.parameters(), 0.01)
    >>> layer.weight.data, layer.bias.data
    (tensor([[ 0.0100, -0.0030]]), tensor([-0.0100]))
    """
    with torch.no_grad():
        for p in params:
            p.clamp_(-clip_value, clip_value)


@contextlib.contextmanager
def seeded(seed: int):
    """Seed torch's global CPU generator for the ``with`` block, then restore it.

    Networks built inside the block get parameters that depend on ``seed``
    alone, and the caller's random state is the same after the block as
    before it.  Only the CPU generator is touched (modules are initialised on
    the CPU and moved afterwards), so CUDA random states are left alone.

    Examples
    --------
    >>> with seeded(0):
    ...     a = mlp(2, 1, (4,))
    >>> with seeded(0):
    ...     b = mlp(2, 1, (4,))
    >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    True
    """
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(int(seed))
        yield
