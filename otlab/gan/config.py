"""Settings as pure data: the loop's settings, and the GAN's on top of them.

:class:`LoopConfig` holds what :func:`otlab.gan.train` itself reads (the
budget, the optimisers, the seed, the device, evaluation, logging and
checkpoint intervals, the run folder); every family's configuration extends it
with its own fields.  :class:`TrainConfig` is the configuration of the
unconditional GAN (loss, data set, networks) and the base of the conditional
GAN's and InfoGAN's; pix2pix's extends :class:`LoopConfig` directly.

A configuration names its family in the class attribute ``family`` (a module
of :mod:`otlab.gan.families`); the loop's registry
(:func:`otlab.gan.family.family_for`) builds it.  Nothing here imports a
family.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .._validation import check_choice, check_positive, check_positive_int
from ..critics.lipschitz import gan_paper_defaults
from .data import DATASETS, data_spec

__all__ = ["LoopConfig", "TrainConfig", "LOSSES", "DATASETS", "ARCHS", "LR_DECAYS",
           "PAPER_DEFAULTS", "check_ema_decay"]

#: Training objectives: minimax GAN, non-saturating GAN, WGAN with weight
#: clipping, gradient penalty, one-sided (Lipschitz) penalty, spectral norm.
LOSSES = ("gan", "gan-ns", "wgan", "wgan-gp", "wgan-lp", "wgan-sn")

#: Learning-rate schedules: constant, or linear decay to 0 over the run.
LR_DECAYS = ("none", "linear")

#: Network architectures: ReLU MLPs for every data set, or the DCGAN-style
#: convolutional pair for the 8x8 digits (see :mod:`otlab.gan.models`).
ARCHS = ("mlp", "conv")

#: Per-loss defaults from the papers.  The Wasserstein losses come from their
#: Lipschitz method's entry in :data:`otlab.critics.lipschitz.PAPER_SETTINGS`
#: (WGAN: RMSProp 5e-5, c = 0.01; WGAN-GP and WGAN-LP: Adam 1e-4, betas (0, 0.9),
#: lambda = 10; WGAN-SN: Adam 1e-4 with WGAN-GP's betas; n_critic = 5), and the
#: GAN baselines are those of the WGAN-GP toy code (Adam 1e-4, betas (0.5, 0.9),
#: one D step).
PAPER_DEFAULTS = {
    "gan": {"optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9), "n_critic": 1},
    "gan-ns": {"optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9),
               "n_critic": 1},
    **{loss: gan_paper_defaults(loss) for loss in ("wgan", "wgan-gp", "wgan-lp", "wgan-sn")},
}


def check_ema_decay(value) -> None:
    """``None`` or a number in (0, 1); otherwise a ``ValueError`` naming ``ema_decay``.

    >>> check_ema_decay(0.999)
    >>> check_ema_decay(1.0)
    Traceback (most recent call last):
    ...
    ValueError: ema_decay must be None (off) or a number in (0, 1); got 1.0
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"ema_decay must be None (off) or a number in (0, 1); got {value!r}")


def _check_flag(config, name: str) -> None:
    if not isinstance(getattr(config, name), bool):
        raise TypeError(f"{name} must be True or False; got {getattr(config, name)!r}")


@dataclass(frozen=True)
class LoopConfig:
    r"""What the training loop reads, frozen; every family's configuration extends it.

    Parameters
    ----------
    iters : int
        Generator iterations; each runs ``n_critic`` critic steps first.
    batch_size : int
        Real and fake samples per step (256 in the WGAN-GP toy code).
    n_critic : int
        Critic (discriminator) steps per generator step.
    optimizer : {"adam", "rmsprop"}
    lr_g, lr_d : float
        Learning rates of the generator and the critic.
    betas : tuple of float
        Adam's :math:`(\beta_1, \beta_2)`.
    seed : int
        Seeds the torch (CPU and CUDA) and numpy generators.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    eval_every : int
        Iterations between exact-W evaluations (0 disables them).
    log_every : int
        Iterations between loss logs and the NaN/inf check.
    checkpoint_every : int
        Iterations between checkpoints (0: only at the end); needs ``out``.
    out : str or Path or None
        The run folder (:class:`otlab.gan.run_folder.RunFolder`): ``history.jsonl``,
        ``history.csv``, ``checkpoint.pt`` and the evaluation snapshots.
    resume : bool
        Continue the run recorded in ``out`` (from ``out/checkpoint.pt``) when
        there is one.
    overwrite : bool
        Start afresh in an ``out`` that holds another run, removing the files
        that run wrote there (and nothing else).  Without ``resume`` or
        ``overwrite`` a run into a folder that holds another run is refused.
    cuda_graph : bool or None
        Capture one generator iteration in a CUDA graph; ``None`` means "on
        when the device is CUDA".  Ignored on the CPU.
    compile : bool
        Compile the critic and generator objectives (forward and backward)
        with ``torch.compile``: fewer, fused kernels per step, at the price of
        a compilation of tens of seconds at the start (off by default).
    lr_decay : {"none", "linear"}
        ``"linear"`` scales both learning rates by :math:`1 - (t - 1)/T` at
        iteration :math:`t` of :math:`T` = ``iters`` (the WGAN-GP paper's code
        for CIFAR-10 decays them so); a function of the iteration alone, so
        resume needs no extra state (but a new ``iters`` changes the schedule).
        Not with the CUDA graph, which fixes the learning rates when captured.
    ema_decay : float or None
        Evaluate an exponential moving average of the generator's weights
        with this decay :math:`\beta` in (0, 1), bias-corrected
        (:class:`otlab.gan.ema.WeightAverage`: the weighted mean
        :math:`\sum_s \beta^{t-s} w_s / \sum_s \beta^{t-s}` of the weights after
        each generator step); ``None`` (the default) evaluates the generator's
        own weights.  Training is unchanged either way: the average is only
        evaluated (and checkpointed, so resume stays bitwise).
    emd_max_iter : int
        Iteration cap of POT's network simplex in the evaluation.
    progress : bool
        Show a tqdm progress bar.
    """

    #: The module of :mod:`otlab.gan.families` that trains this configuration.
    family: ClassVar[str] = ""

    iters: int = 20_000
    batch_size: int = 256
    n_critic: int = 5
    optimizer: str = "adam"
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    betas: tuple = (0.0, 0.9)
    seed: int = 0
    device: str = "cpu"
    eval_every: int = 500
    log_every: int = 100
    checkpoint_every: int = 1000
    out: str | Path | None = None
    resume: bool = False
    overwrite: bool = False
    cuda_graph: bool | None = None
    compile: bool = False
    lr_decay: str = "none"
    ema_decay: float | None = None
    emd_max_iter: int = 100_000_000
    progress: bool = True

    def __post_init__(self):
        check_choice(self.optimizer, "optimizer", ("adam", "rmsprop"))
        check_choice(self.lr_decay, "lr_decay", LR_DECAYS)
        check_ema_decay(self.ema_decay)
        if self.lr_decay != "none" and self.use_cuda_graph:
            raise ValueError(
                f"lr_decay={self.lr_decay!r} needs cuda_graph=False on CUDA (a captured graph "
                f"keeps the learning rates it was captured with)")
        for name in ("iters", "batch_size", "n_critic", "log_every", "emd_max_iter"):
            check_positive_int(getattr(self, name), name)
        for name in ("eval_every", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
        for name in ("lr_g", "lr_d"):
            check_positive(getattr(self, name), name)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1); got {self.betas!r}")
        if not str(self.device).startswith(("cpu", "cuda")):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N'; got {self.device!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an integer; got {self.seed!r}")
        for name in ("resume", "overwrite", "compile", "progress"):
            _check_flag(self, name)
        if self.resume and self.overwrite:
            raise ValueError("resume=True and overwrite=True contradict each other: resume "
                             "continues the run in out, overwrite removes it")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    @classmethod
    def from_fields(cls, **fields):
        """``cls(**fields)``, refusing names that are not fields with a ``TypeError`` naming them.

        >>> TrainConfig.from_fields(iters=3, learning_rate=1e-3)
        Traceback (most recent call last):
        ...
        TypeError: unknown TrainConfig fields: learning_rate
        """
        unknown = set(fields) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown {cls.__name__} fields: {', '.join(sorted(unknown))}")
        return cls(**fields)

    def lr_scale(self, iteration: int) -> float:
        """Factor of both learning rates at ``iteration`` (1, 2, ..., ``iters``).

        >>> cfg = TrainConfig(iters=4, lr_decay="linear")
        >>> [cfg.lr_scale(t) for t in (1, 2, 3, 4)]
        [1.0, 0.75, 0.5, 0.25]
        """
        if self.lr_decay == "linear":
            return 1.0 - (iteration - 1) / self.iters
        return 1.0

    def replace(self, **changes):
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    @property
    def use_cuda_graph(self) -> bool:
        """Whether the CUDA-graph fast path runs (only ever on a CUDA device)."""
        on_cuda = str(self.device).startswith("cuda")
        return on_cuda and (self.cuda_graph is None or bool(self.cuda_graph))

    @property
    def label(self) -> str:
        """A short name of the run for progress bars and messages (the loss, if any)."""
        return str(getattr(self, "loss", type(self).__name__))

    def to_dict(self) -> dict:
        """Plain-dict form (for checkpoints and logs)."""
        d = dataclasses.asdict(self)
        d["out"] = None if self.out is None else str(self.out)
        return d


@dataclass(frozen=True)
class TrainConfig(LoopConfig):
    r"""The unconditional GAN's settings: the loop's (:class:`LoopConfig`) and the model's.

    Build it with :meth:`for_loss` to get a loss's paper defaults, then
    override any field; :meth:`replace` returns a modified copy.

    Parameters
    ----------
    loss : str
        One of :data:`LOSSES`.
    data : str
        One of :data:`DATASETS` (the data-spec registry, :mod:`otlab.gan.data`).
    clip : float
        Weight clipping bound :math:`c` (``loss="wgan"``).
    penalty : float
        Penalty weight :math:`\lambda` (``"wgan-gp"``, ``"wgan-lp"``).
    hidden, depth : int
        Width and number of hidden ReLU layers of both MLPs (3 x 512 in the
        WGAN-GP toy code).  With ``arch="conv"`` the base channel count is
        ``max(hidden // 8, 1)`` (64, 128 and 256 channels for ``hidden=512``)
        and ``depth`` is unused: the 8x8 resolution fixes the layers.
    arch : {"mlp", "conv"}
        Network architecture (one of :data:`ARCHS`): ReLU MLPs, or the
        DCGAN-style convolutional generator and critic of
        :func:`otlab.gan.models.conv_generator` and
        :func:`otlab.gan.models.conv_critic`.  ``"conv"`` treats each row as
        an image and needs a data set of 8x8 images (``data="digits"``); with
        the gradient penalties (``"wgan-gp"``, ``"wgan-lp"``) it cannot be
        compiled, since the conv critic's penalty needs double
        backpropagation, which ``torch.compile`` does not support.
    z_dim : int or None
        Latent dimension; ``None`` gives the data set's default (2 for toy
        data, 16 for digits).
    eval_samples : int
        Real and generated samples in each evaluation (2048).
    **loop
        Every field of :class:`LoopConfig`.

    Examples
    --------
    >>> cfg = TrainConfig.for_loss("wgan", data="8gaussians", iters=100)
    >>> cfg.optimizer, cfg.lr_d, cfg.clip, cfg.n_critic
    ('rmsprop', 5e-05, 0.01, 5)
    """

    family: ClassVar[str] = "unconditional"

    loss: str = "wgan-gp"
    data: str = "8gaussians"
    clip: float = 0.01
    penalty: float = 10.0
    hidden: int = 512
    depth: int = 3
    arch: str = "mlp"
    z_dim: int | None = None
    eval_samples: int = 2048

    def __post_init__(self):
        super().__post_init__()
        check_choice(self.loss, "loss", LOSSES)
        check_choice(self.data, "data", DATASETS)
        check_choice(self.arch, "arch", ARCHS)
        if self.arch == "conv" and data_spec(self.data).image_shape != (1, 8, 8):
            raise ValueError(
                f"arch='conv' needs data='digits' (the convolutional models read each row "
                f"as an 8x8 image); got data={self.data!r}, whose rows are "
                f"{data_spec(self.data).dim}-D points")
        for name in ("hidden", "depth", "eval_samples"):
            check_positive_int(getattr(self, name), name)
        if self.z_dim is not None:
            check_positive_int(self.z_dim, "z_dim")
        check_positive(self.clip, "clip")
        check_positive(self.penalty, "penalty", allow_zero=True)
        if self.arch == "conv" and self.compile and self.loss in ("wgan-gp", "wgan-lp"):
            raise ValueError(
                f"arch='conv' with loss={self.loss!r} cannot use compile=True: the conv "
                f"critic's gradient penalty needs double backpropagation, which torch.compile "
                f"does not support (use compile=False, or loss='wgan-sn')")

    @classmethod
    def for_loss(cls, loss: str, *, data: str = "8gaussians", **overrides):
        """Config with the paper defaults of ``loss`` (see :data:`PAPER_DEFAULTS`)."""
        check_choice(loss, "loss", LOSSES)
        return cls.from_fields(**{**PAPER_DEFAULTS[loss], "loss": loss, "data": data, **overrides})

    @property
    def latent_dim(self) -> int:
        """The latent dimension in use (``z_dim`` or the data set's default)."""
        return self.z_dim if self.z_dim is not None else data_spec(self.data).latent_dim
