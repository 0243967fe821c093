r"""The generator's weights averaged over the run: an exponential moving average.

GAN generators trained by alternating gradient steps oscillate around a good
solution rather than settling on it; evaluating an exponential moving average
of the generator's weights (the practice of progressive GANs, BigGAN and
StyleGAN) removes much of that oscillation at the cost of one copy of the
generator and two in-place operations per parameter per iteration.

:class:`WeightAverage` keeps the *bias-corrected* average: after updates with
the weights :math:`w_1, \dots, w_t` (one per generator step) and decay
:math:`\beta`, the averaged weights are

.. math::

    \bar w_t = \frac{1 - \beta}{1 - \beta^t} \sum_{s=1}^{t} \beta^{t-s} w_s ,

a weighted mean of the iterates (the weights sum to 1), so the initial,
untrained weights carry no weight once the first step is taken (a plain
moving average started at them keeps a share :math:`\beta^t`, 22 % after 1500
steps at :math:`\beta = 0.999`).  The running form is
:math:`\bar w_t = \bar w_{t-1} + \frac{1 - \beta}{1 - \beta^t}(w_t - \bar w_{t-1})`,
:math:`\bar w_1 = w_1` (exactly: the initial weights are multiplied by 0),
with the weight :math:`1 / \sum_{s \le t} \beta^{t-s}` kept on the device, so
an iteration that updates the average can be captured in a CUDA graph.
Buffers (none in otlab's MLPs) are copied, not averaged.
"""

from __future__ import annotations

import copy

import torch

from .config import check_ema_decay

__all__ = ["WeightAverage"]


class WeightAverage:
    r"""Bias-corrected exponential moving average of the parameters of ``module``.

    Parameters
    ----------
    module : torch.nn.Module
        The module whose weights are averaged (the generator); it is copied
        once, and :attr:`module` (the copy, without gradients) holds the
        averaged weights.
    decay : float
        :math:`\beta` in (0, 1); the average spans about :math:`1/(1-\beta)`
        of the latest updates.

    Examples
    --------
    >>> lin = torch.nn.Linear(1, 1, bias=False)
    >>> avg = WeightAverage(lin, 0.5)
    >>> for w in (1.0, 2.0, 4.0):
    ...     with torch.no_grad():
    ...         _ = lin.weight.fill_(w)
    ...     avg.update(lin)
    >>> round(avg.module.weight.item(), 6)  # (1 + 2 * 2 + 4 * 4) / (1 + 2 + 4)
    3.0
    """

    def __init__(self, module: torch.nn.Module, decay: float):
        check_ema_decay(decay)
        self.decay = float(decay)
        self.module = copy.deepcopy(module).requires_grad_(False)
        device = next(iter(module.parameters())).device
        self.steps = torch.zeros((), dtype=torch.float64, device=device)
        self.total = torch.zeros((), dtype=torch.float64, device=device)

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        """Fold the current weights of ``module`` into the average (device ops only)."""
        self.steps.add_(1)
        self.total.mul_(self.decay).add_(1)  # sum_s decay^(t-s) = (1 - decay^t) / (1 - decay)
        weight = 1 / self.total  # 1 exactly at the first step
        for avg, p in zip(self.module.parameters(), module.parameters()):
            w = weight.to(avg.dtype)  # (1 - w) avg + w p: exactly p at the first step (w = 1)
            avg.mul_(1 - w).addcmul_(p, w)
        for avg, b in zip(self.module.buffers(), module.buffers()):
            avg.copy_(b)

    def state_dict(self) -> dict:
        r"""The averaged weights, the step count and the sum of the weights of the iterates
        (:math:`\sum_s \beta^{t-s}`), for a checkpoint."""
        return {"module": self.module.state_dict(), "steps": self.steps.clone(),
                "total": self.total.clone()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (in place: the tensors keep their storage)."""
        self.module.load_state_dict(state["module"])
        with torch.no_grad():
            self.steps.copy_(state["steps"])
            self.total.copy_(state["total"])
