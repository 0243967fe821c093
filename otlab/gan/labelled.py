r"""Labelled data for the conditional models: mixtures labelled by mode, digits by class.

The conditional GAN, InfoGAN and pix2pix need to know *which class* a
point belongs to, both to condition on it and to measure per class:

- ``8gaussians`` and ``25gaussians``: the label of a point is the index of
  the mode it was drawn around (the order of
  :func:`otlab.datasets.mixtures.gaussian_mixture_modes`); a generated point
  gets the label of its nearest mode;
- ``digits``: scikit-learn's 8x8 digits with their labels 0..9, pixels
  scaled from [0, 16] to [-1, 1] as in :class:`otlab.gan.data.Sampler`; a
  generated image gets the label a 3-nearest-neighbour classifier fitted on
  all 1797 real digits gives it (96.7 % five-fold cross-validated accuracy on
  the real digits).

:class:`LabelledSampler` draws the very points :class:`otlab.gan.data.Sampler`
draws from the same random stream, together with their labels, so a
conditional run and an unconditional run see the same data law.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .._validation import check_choice, check_positive_int
from .data import mixture_modes

__all__ = ["LABELLED_DATASETS", "LabelledSampler", "n_classes", "assign_classes",
           "digits_dataset"]

#: Data sets with class labels (mixture modes or digit classes).
LABELLED_DATASETS = ("8gaussians", "25gaussians", "digits")

_KNN_NEIGHBOURS = 3


@functools.lru_cache(maxsize=1)
def digits_dataset() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digits as ``(pixels, labels)``: float32 rows in [-1, 1], int64.

    >>> pixels, labels = digits_dataset()
    >>> pixels.shape, float(pixels.min()), float(pixels.max()), len(labels)
    ((1797, 64), -1.0, 1.0, 1797)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = digits.data.astype(np.float32) / 8.0 - 1.0
    pixels.setflags(write=False)
    labels = digits.target.astype(np.int64)
    labels.setflags(write=False)
    return pixels, labels


def n_classes(name: str) -> int:
    """Number of classes of a labelled data set (modes, or the ten digits).

    >>> n_classes("8gaussians"), n_classes("25gaussians"), n_classes("digits")
    (8, 25, 10)
    """
    check_choice(name, "data", LABELLED_DATASETS)
    return 10 if name == "digits" else len(mixture_modes(name)[0])


@functools.lru_cache(maxsize=1)
def _digit_classifier():
    from sklearn.neighbors import KNeighborsClassifier

    pixels, labels = digits_dataset()
    return KNeighborsClassifier(n_neighbors=_KNN_NEIGHBOURS).fit(pixels, labels)


def assign_classes(name: str, x) -> np.ndarray:
    """The class of each row of ``x``: its nearest mode, or the digit a 3-NN classifier reads.

    Parameters
    ----------
    name : str
        One of :data:`LABELLED_DATASETS`.
    x : array_like, shape (n, 2) or (n, 64)
        Points (generated or real).

    Returns
    -------
    numpy.ndarray of int64, shape (n,)

    Examples
    --------
    >>> modes, _ = mixture_modes("8gaussians")
    >>> assign_classes("8gaussians", modes[[3, 0, 7]] * 1.1).tolist()
    [3, 0, 7]
    >>> pixels, labels = digits_dataset()
    >>> bool((assign_classes("digits", pixels[:50]) == labels[:50]).mean() > 0.9)
    True
    """
    check_choice(name, "data", LABELLED_DATASETS)
    x = np.asarray(x, dtype=np.float64)
    if name == "digits":
        return _digit_classifier().predict(x.astype(np.float32)).astype(np.int64)
    modes = mixture_modes(name)[0]
    d = ((x[:, None, :] - modes[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1).astype(np.int64)


class LabelledSampler:
    """Draw ``(x, y)``: points of a labelled data set and their class labels, on ``device``.

    For the mixtures ``y`` is the mode each point was drawn around; for the
    digits, the digit shown.  The points are those
    :class:`otlab.gan.data.Sampler` draws from the same generator state (the
    same random numbers in the same order).

    Parameters
    ----------
    name : str
        One of :data:`LABELLED_DATASETS`.
    device : str or torch.device

    Examples
    --------
    >>> sampler = LabelledSampler("25gaussians")
    >>> x, y = sampler(6, generator=torch.Generator().manual_seed(0))
    >>> tuple(x.shape), y.dtype, sampler.n_classes
    ((6, 2), torch.int64, 25)
    >>> modes = torch.as_tensor(mixture_modes("25gaussians")[0], dtype=torch.float32)
    >>> bool(((x - modes[y]).norm(dim=1) < 0.5).all())  # each point is near its labelled mode
    True
    """

    def __init__(self, name: str, *, device="cpu"):
        self.name = check_choice(name, "data", LABELLED_DATASETS)
        self.device = torch.device(device)
        self.n_classes = n_classes(name)
        if name == "digits":
            pixels, labels = digits_dataset()
            self._points = torch.tensor(pixels, device=self.device)  # a copy: the cache is read-only
            self._labels = torch.tensor(labels, device=self.device)
            self._std = None
        else:
            modes, std = mixture_modes(name)
            self._points = torch.as_tensor(modes, dtype=torch.float32, device=self.device)
            self._labels = torch.arange(len(modes), device=self.device)
            self._std = std
        self.dim = self._points.shape[1]

    def __call__(self, n: int, *, generator: torch.Generator | None = None):
        """``n`` points (float32, shape ``(n, dim)``) and their labels (int64, shape ``(n,)``)."""
        n = check_positive_int(n, "n")
        k = torch.randint(0, self._points.shape[0], (n,), device=self.device, generator=generator)
        x = self._points[k]
        if self._std is not None:
            x = x + self._std * torch.randn(n, self.dim, device=self.device, generator=generator)
        return x, self._labels[k]

    def labels(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` labels drawn from the data's class frequencies (uniform for the mixtures)."""
        n = check_positive_int(n, "n")
        k = torch.randint(0, self._points.shape[0], (n,), device=self.device, generator=generator)
        return self._labels[k]
