r"""Sample-based estimators of the KL, JS and TV divergences, each with its error.

Three estimators, each with a different bias, for two samples
:math:`x_1, \dots, x_n \sim P` and :math:`y_1, \dots, y_m \sim Q` in
:math:`\mathbb R^d`:

* :func:`histogram_divergences` — bin both samples on a shared grid and apply
  the exact :func:`otlab.divergences.kl`, :func:`~otlab.divergences.js` and
  :func:`~otlab.divergences.tv` to the counts (plug-in estimates);
* :func:`knn_kl` — the k-nearest-neighbour KL estimator of Wang, Kulkarni &
  Verdú (2009), consistent for densities;
* :func:`classifier_js` — train a binary classifier (a GAN discriminator) and
  read JS off its held-out log-loss, using :math:`V(D^*) = 2\,\mathrm{JS} - \log 4`.

Each reports how far off it may be: a standard error (the spread of the
estimate over half-samples, or over the held-out points) and, where the
estimator is biased, what the bias is and which way it goes.  KL, JS and TV
are invariant under a common affine map of both samples, and so are the
estimators: the data are standardised internally, so offsets and scales from
:math:`10^{-300}` to :math:`10^{300}` give the same answer.

Conventions are those of :mod:`otlab.divergences`: natural log, JS with the
factor one half (so :math:`0 \le \mathrm{JS} \le \log 2`).
"""

from .classifier import ClassifierJSResult, classifier_js
from .histogram import MAX_CELLS, histogram_divergences
from .knn import KNNKLResult, knn_kl

__all__ = ["histogram_divergences", "knn_kl", "KNNKLResult", "classifier_js",
           "ClassifierJSResult", "MAX_CELLS"]
