r"""Why do neural critics miss the true W_1 in high dimension, and which settings fix it?

On pairs of :func:`otlab.datasets.w1_benchmark` (D = 32, 64, 128; W = 4, 16)
the ``"lp"`` critic of :func:`otlab.critics.estimate_w1` is trained with one
factor changed at a time from the former default (MLP 64x64 leaky ReLU, 1000
steps of batch 256, Adam 1e-3 constant, penalty 10, on a fixed sample of 4000
points per side):

* ``fixed`` vs ``fresh``: a fixed training sample against samplers that give
  fresh minibatches at every step (overfitting of the sample);
* width and depth of the MLP (capacity), ReLU (the first-order gradient path);
* the learning-rate schedule (constant or cosine decay to 0);
* steps, batch size, penalty weight;
* from the default with the norm feature and the step rule ('step rule ...'):
  the learning rate, the width of the first layer, depth 3, the penalty
  weight, and the scale of the network's input (``input_scale``: the points'
  RMS norm 1, or each coordinate's RMS 1).
* from the third round's default (each coordinate at RMS 1, the norm feature
  and the step rule from D = 33 on; 'default ...'): the learning curve (2, 4
  and 8 times its steps), width 512, depth 3, batch 1024, the learning rate,
  Adam's betas, a linear warm-up, the penalty's weight, where the penalty is
  evaluated (the interpolates, the minibatch points or both), a two-sided
  penalty, distances to learned anchor points as extra inputs, and at D <= 32
  each coordinate at RMS 1 with 4 times the steps and the penalty weights 10
  and 30; 'round 4 default' is estimate_w1's default of the fourth round.
* from the fourth round's default ('round 4 default ...'): averaging the
  critic's weights over the last steps (``estimate_w1(average=...)``: the
  uniform mean of the iterates of the last quarter or half of the steps; an
  exponential moving average with a window of a tenth of the steps; a
  constant learning rate with the mean of the last half, the stochastic
  weight averaging recipe), the critic evaluated with the averaged weights;
  and, for the low dimensions, where the 16-funnel cosine stayed below 0.9,
  more steps, width, batch, and at D = 2 the learning rate and Adam's betas
  on top of 16000 steps.  Under
  the default's cosine decay to 0 the average changed nothing beyond the
  noise (the last iterates barely move: slope along the optimal moves within
  0.003 with the last quarter or the moving average at D = 2, 4, 16, 32 with
  16 funnels, two seeds; the last half up to 0.006 lower; the constant rate
  0.6 to 2.3 points lower) and at D = 2 it lowered the gradient cosine by 2
  to 6 points (the source mass sits at the funnels' tips, which the mean of
  the weights blurs), so it stays off.  Steps gained the most per CPU second
  again, and 'round 5 default' (estimate_w1's default at the time of the
  run) gives the ``"lp"`` critic on samplers 16000 steps at every D.
* from the fifth round's default ('round 5 default ...'): the objective on
  a larger minibatch with the penalty at the interpolates of its first 256
  pairs only ('batch B penalty rows M', ``estimate_w1(batch_size=B,
  penalty_batch=M)``: the penalty's input gradients are the costly part of a
  step), and layers of 256 units at D = 16.  'round 6 default' is
  estimate_w1's default when the run was made (since the sixth round, on
  samplers, 512 points per side with the penalty at 256 from D = 33 on and
  layers of 256 units from D = 16 on).
* the seventh round, on the 256-funnel case: 'radial reference' is the
  critic :math:`-\lVert z - c\rVert` (no training, :func:`_score_reference`),
  what a critic scores without drawing one funnel; 'round 6 default regression
  ...' trains the sixth round's default network, optimiser and minibatches to
  fit the *true* potential (values and input gradients, :func:`_regression_loss`):
  if even that stays far from the true gradient, the network cannot draw the
  potential whatever the Kantorovich objective; '... groupsort' uses MaxMin units
  (``activation="groupsort"``, :class:`otlab.networks.GroupSort`); 'round 6
  default scored on 65536' scores the default on 65536 held-out points per side
  instead of ``--n-test`` (a smaller sampling error of the scoring sample itself).
* the eighth round, where 16 funnels still missed the targets (D = 2: the
  gradient's cosine; D = 32: the estimate): 'round 6 default steps N' (64000
  at D = 2, where the source's mass sits at the funnels' tips), '... 256x256'
  and '... batch 512 penalty rows 256' beside more steps; 'round 6 default
  regression steps 2000 anchors 256': the seventh round's regression with the
  distances to 256 learned points as extra inputs (can they draw 256 funnels
  where the MLP alone could not?).  'round 6 default' is written out since
  (``ROUND6``: 16000 steps at every D).
* the ninth round: 'round 6 default steps 64000' at D = 4, 16 and 32 (the
  estimate at D = 32 with 16 funnels), which made 64000 steps the default up
  to D = 32; 'round 8 default' is the eighth round's default written out
  (``ROUND8``: 64000 steps at D = 1 and 2, 16000 above) and 'round 9 default'
  estimate_w1's default when the run was made (64000 up to D = 32 since the
  ninth round).
* the eleventh round: 'round 6 default steps 32000 scored on 65536' (D = 128
  with 16 funnels, where the default missed 5 % on two of six seeds), and a
  critic of another family, 'cones' (:func:`_score_cones`): the maximum of
  1024 learned cones :math:`v_j - \lVert z - p_j\rVert` (1-Lipschitz by
  construction, no penalty), trained both ways round (its negation, a minimum of
  upward cones) for 2000 Adam steps of 512 points a side each, the better kept
  by its gap on 4096 fresh points a side (``CONES``; '... lr 0.03': a
  learning rate of 0.03 instead of 0.01; '... reversed': trained on the pair
  the other way round, target to source, and scored negated).  Not a library
  critic: a lead.
* the twelfth round: the same two factors at D = 64 with 16 funnels, 'round 6
  default scored on 65536' (16000 steps there) and '... steps 32000 ...': both
  within 5 % with cosine >= 0.94, twice the steps nearer (-0.5 % and -0.2 %
  against -2.7 % and -0.9 %, cosine 0.97 against 0.94 and 0.96) for about 2.2
  times the CPU time, so the default keeps 16000 steps there.

The column 'true f' is the held-out relative error of the *true* potential
on the same scoring points (:func:`true_heldout_rel`): the scoring sample's
own error, which a critic close to the true potential shares (at D = 128
with 4 and 16 funnels it is -3.3 % to -3.5 % on both seeds' points, so there
a critic needs a slope along the optimal moves of about 0.985 to score
within 5 %).
``--backfill-true`` adds it to rows recorded before the column existed (it
is computed from the cell, the seed and ``--n-test``, not measured).

Each run is scored on 4096 fresh held-out points per side: relative error of
the held-out estimate against the true W_1, the train / held-out gap (the
generalisation gap) and the mean cosine between the critic's and the true
potential's gradient; and, on pairs of the optimal plan, the critic's slope
along the moves, its mean gradient norm and its cosine with the move direction
at the moves' midpoints (:func:`slope_audit`: is the estimate limited by the
Lipschitz budget the critic uses, or by its shape?), and the CPU seconds of
the run.  Results go to ``benchmarks/reports/critics_w1_diagnosis.jsonl``
(resumable: a run skips the cases already there).

    OMP_NUM_THREADS=1 python -m benchmarks.critics_w1_diagnosis --time-budget 1800
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import warnings
from pathlib import Path

import numpy as np

from ._harness import (REPORTS, fields_key, markdown_table, measure, pyplot, run_grid,
                       save_png, write_report)
from .critics_w1_benchmark import cosine, held_out

from otlab.critics import CriticFailedWarning, default_hidden, estimate_w1
from otlab.datasets import w1_benchmark

NAME = "critics_w1_diagnosis"
CELLS = ((32, 4), (128, 4), (64, 16), (8, 16), (64, 4), (32, 16), (128, 16), (16, 16), (2, 4),
         (2, 16), (8, 4), (16, 4), (128, 256), (4, 4), (4, 16), (128, 64))
_NARROW = {"hidden": (64, 64), "activation": "leaky_relu", "lr_schedule": "constant"}
_WIDE = {"hidden": (256, 256), "activation": "relu", "lr_schedule": "constant"}
_WIDE_COS = {**_WIDE, "lr_schedule": "cosine"}

#: What every factor starts from: 1000 steps, no norm feature (the defaults before the
#: step rule and WithRadius).
BASE = {"radial": False, "steps": 1000, "input_scale": "radius", "penalty": 10.0,
        "batch_size": 256, "penalty_batch": "all", "hidden": "former"}

#: estimate_w1's default before the input scale: the norm feature from D = 33 on,
#: the third round's step rule (round3_steps), input_scale="radius" (the 'step rule' factors).
STEP_RULE = {"radial": "round 3", "steps": "x1", "input_scale": "radius"}

#: estimate_w1's default of the third round (the norm feature, input_scale="coordinate" and
#: its step rule from D = 33 on, penalty 10; the 'default ...' factors), written out so that
#: the rows keep their meaning when the default changes: "round 3" and "xN" (N times its
#: step rule, :func:`round3_steps`) are resolved per dimension in :func:`run_case`.
CURRENT = {"radial": "round 3", "steps": "x1", "input_scale": "round 3"}

#: estimate_w1's default when the run was made (every setting resolved by estimate_w1).
LIBRARY = {"radial": None, "steps": None, "input_scale": None, "penalty": None,
           "batch_size": None, "penalty_batch": None, "hidden": None}

#: estimate_w1's default of the fifth round, written out ('round 5 default ...' factors):
#: the library's settings but 16000 steps and minibatches of 256 points per side, with the
#: penalty at every pair's interpolate ('all': as many interpolates as the batch has pairs),
#: and the widths of default_hidden's rule for every method ('former': 128 up to D = 16).
ROUND5 = {**LIBRARY, "steps": 16000, "batch_size": 256, "penalty_batch": "all",
          "hidden": "former"}

#: estimate_w1's default of the fourth round, written out ('round 4 default ...' factors):
#: the library's norm feature, input scale and penalty, and four times the third round's
#: step rule (4000 up to D = 32, 8000 at 64, 16000 at 128).
#: estimate_w1's default of the sixth round, written out ('round 6 default ...' factors): the
#: library's settings but 16000 steps on samplers at every D (the eighth round gave D <= 2
#: 64000).
ROUND6 = {**LIBRARY, "steps": 16000}

#: estimate_w1's default of the eighth round, written out: the library's settings but
#: 64000 steps on samplers at D = 1 and 2 and 16000 above ("round 8", resolved in
#: :func:`run_case`; the ninth round gave D <= 32 64000).
ROUND8 = {**LIBRARY, "steps": "round 8"}

ROUND4 = {**LIBRARY, "steps": "x4", "batch_size": 256, "penalty_batch": "all",
          "hidden": "former"}


def round3_steps(dim: int) -> int:
    """The third round's step rule: 1000 up to D = 32, 1000 more per 32 dimensions to 4000."""
    return 1000 * min(4, max(1, -(-int(dim) // 32)))

#: factor -> (training data, estimate_w1 options); "fixed" is a fixed sample of --n points.
FACTORS = {
    "fixed 64x64 (former default)": ("fixed", _NARROW),
    "fresh 64x64": ("fresh", _NARROW),
    "fixed 256x256 relu": ("fixed", _WIDE),
    "fresh 256x256 relu": ("fresh", _WIDE),
    "fixed 64x64 cosine": ("fixed", {**_NARROW, "lr_schedule": "cosine"}),
    "fresh 64x64 cosine": ("fresh", {**_NARROW, "lr_schedule": "cosine"}),
    "fixed 256x256 relu cosine": ("fixed", _WIDE_COS),
    "fresh 256x256 relu cosine": ("fresh", _WIDE_COS),
    "fresh 128x128 relu cosine": ("fresh", {**_WIDE_COS, "hidden": (128, 128)}),
    "fresh 128x128 relu cosine 3000 steps": ("fresh", {**_WIDE_COS, "hidden": (128, 128),
                                                       "steps": 3000}),
    "fresh 256x256 relu cosine 3000 steps": ("fresh", {**_WIDE_COS, "steps": 3000}),
    "fresh 256x256 relu cosine batch 1024": ("fresh", {**_WIDE_COS, "batch_size": 1024}),
    "fresh 256x256 relu cosine penalty 1": ("fresh", {**_WIDE_COS, "penalty": 1.0}),
    "fresh 256x256 relu cosine lr 3e-3": ("fresh", {**_WIDE_COS, "lr": 3e-3}),
    "fresh 256x256 relu cosine penalty 100": ("fresh", {**_WIDE_COS, "penalty": 100.0}),
    "fresh 256x256x256 relu cosine": ("fresh", {**_WIDE_COS, "hidden": (256, 256, 256)}),
    "fresh 512x512 relu cosine": ("fresh", {**_WIDE_COS, "hidden": (512, 512)}),
    # estimate_w1's former default (lp, relu, cosine, default_hidden, 1000 steps), one factor
    # changed at a time
    "fresh default": ("fresh", {}),
    "fresh default betas 0.9": ("fresh", {"betas": (0.9, 0.999)}),
    "fresh default batch 1024": ("fresh", {"batch_size": 1024}),
    "fresh default betas 0.9 batch 1024": ("fresh", {"betas": (0.9, 0.999), "batch_size": 1024}),
    "fresh default betas 0.9 steps 3000": ("fresh", {"betas": (0.9, 0.999), "steps": 3000}),
    "fresh default betas 0.9 lr 3e-4": ("fresh", {"betas": (0.9, 0.999), "lr": 3e-4}),
    "fresh default betas 0.9 penalty 1": ("fresh", {"betas": (0.9, 0.999), "penalty": 1.0}),
    "fresh default elu": ("fresh", {"activation": "elu"}),
    "fresh default tanh": ("fresh", {"activation": "tanh"}),
    "fresh default 1024x256": ("fresh", {"hidden": (1024, 256)}),
    # the network also sees |u| (otlab.networks.WithRadius)
    "fresh radial": ("fresh", {"radial": True}),
    "fresh radial steps 2000": ("fresh", {"radial": True, "steps": 2000}),
    "fresh radial steps 4000": ("fresh", {"radial": True, "steps": 4000}),
    "fresh radial batch 1024": ("fresh", {"radial": True, "batch_size": 1024}),
    # the default before the input scale (the norm feature from D = 33, default_steps,
    # input_scale="radius"), one change at a time; then with input_scale="coordinate"
    **{f"step rule{name}": ("fresh", {**STEP_RULE, **opts}) for name, opts in {
        "": {},
        " lr 3e-3": {"lr": 3e-3},
        " penalty 1": {"penalty": 1.0},
        " 1024x256": {"hidden": (1024, 256)},
        " coordinate": {"input_scale": "coordinate"},
        " coordinate lr 3e-4": {"input_scale": "coordinate", "lr": 3e-4},
        " coordinate lr 3e-3": {"input_scale": "coordinate", "lr": 3e-3},
        " coordinate penalty 1": {"input_scale": "coordinate", "penalty": 1.0},
        " coordinate 1024x256": {"input_scale": "coordinate", "hidden": (1024, 256)},
        " coordinate 256x256x256": {"input_scale": "coordinate", "hidden": (256, 256, 256)},
        " coordinate steps x2": {"input_scale": "coordinate", "steps": "x2"},
        " coordinate 256x256x256 steps x2": {"input_scale": "coordinate",
                                             "hidden": (256, 256, 256), "steps": "x2"},
        " coordinate batch 1024": {"input_scale": "coordinate", "batch_size": 1024},
    }.items()},
    # estimate_w1's current default (the norm feature, input_scale="coordinate" and
    # default_steps from D = 33 on), one change at a time; 'steps xN': N * default_steps
    **{f"default{name}": ("fresh", {**CURRENT, **opts}) for name, opts in {
        "": {},
        " steps x2": {"steps": "x2"},
        " steps x4": {"steps": "x4"},
        " steps x8": {"steps": "x8"},
        " steps x4 lr 2e-3": {"steps": "x4", "lr": 2e-3},
        " steps x4 betas 0.9": {"steps": "x4", "betas": (0.9, 0.999)},
        " coordinate": {"input_scale": "coordinate"},
        " coordinate steps x2": {"input_scale": "coordinate", "steps": "x2"},
        " coordinate steps x4": {"input_scale": "coordinate", "steps": "x4"},
        " coordinate steps x4 penalty 30": {"input_scale": "coordinate", "steps": "x4",
                                            "penalty": 30.0},
        " steps x4 penalty 30": {"steps": "x4", "penalty": 30.0},
        " coordinate steps x8 penalty 30": {"input_scale": "coordinate", "steps": "x8",
                                            "penalty": 30.0},
        " coordinate steps x4 penalty 20": {"input_scale": "coordinate", "steps": "x4",
                                            "penalty": 20.0},
        " 512x512": {"hidden": (512, 512)},
        " 512x512 steps x2": {"hidden": (512, 512), "steps": "x2"},
        " batch 1024": {"batch_size": 1024},
        " batch 1024 lr 2e-3": {"batch_size": 1024, "lr": 2e-3},
        " lr 5e-4 steps x2": {"lr": 5e-4, "steps": "x2"},
        " penalty 1": {"penalty": 1.0},
        " penalty 100": {"penalty": 100.0},
        " penalty at samples": {"penalty_points": "samples"},
        " penalty at both": {"penalty_points": "both"},
        " two-sided": {"lipschitz": "gp", "activation": "relu", "lr_schedule": "cosine"},
        " warm-up": {"warmup": 0.05},
        " 256x256x256 steps x2": {"hidden": (256, 256, 256), "steps": "x2"},
        " anchors 32": {"anchors": 32},
        " anchors 64": {"anchors": 64},
    }.items()},
    # estimate_w1's default of the fourth round (ROUND4: LIBRARY when its rows were run)
    "round 4 default": ("fresh", ROUND4),
    # estimate_w1's default of the fifth round (ROUND5: LIBRARY when its rows were run)
    "round 5 default": ("fresh", ROUND5),
    # the fourth round's default (ROUND4) with the critic's weights averaged
    # over the last steps ('average F': the uniform mean of the iterates of the last fraction
    # F of the steps, evaluated with the averaged weights; 'ema F': an exponential moving
    # average with a window of F times the steps; 'constant lr': no cosine decay), or, for
    # the low dimensions, more steps or width
    **{f"round 4 default{name}": ("fresh", {**ROUND4, **opts}) for name, opts in {
        " average 0.25": {"average": 0.25},
        " average 0.5": {"average": 0.5},
        " ema 0.1": {"average": 0.1, "average_kind": "ema"},
        " constant lr average 0.5": {"lr_schedule": "constant", "average": 0.5},
        " steps 16000": {"steps": 16000},
        " 512x512": {"hidden": (512, 512)},
        " batch 1024": {"batch_size": 1024},
        " steps 32000": {"steps": 32000},
        " steps 16000 lr 2e-3": {"steps": 16000, "lr": 2e-3},
        " steps 16000 betas 0.9": {"steps": 16000, "betas": (0.9, 0.999)},
    }.items()},
    # estimate_w1's default at the time of the run (the sixth round's, LIBRARY)
    "round 6 default": ("fresh", ROUND6),
    # estimate_w1's default of the eighth round (ROUND8: LIBRARY when its rows were run)
    "round 8 default": ("fresh", ROUND8),
    # estimate_w1's default at the time of the run (the ninth round's, LIBRARY)
    "round 9 default": ("fresh", LIBRARY),
    # the fifth round's default (ROUND5: 16000 steps on samplers), one change at a time:
    # 'batch B penalty rows M' draws B points per side for the objective but evaluates
    # the one-sided penalty at the interpolates of the first M pairs only
    # (estimate_w1(batch_size=B, penalty_batch=M))
    **{f"round 5 default{name}": ("fresh", {**ROUND5, **opts}) for name, opts in {
        " steps 32000": {"steps": 32000},
        " batch 512 penalty rows 256": {"batch_size": 512, "penalty_batch": 256},
        " batch 1024 penalty rows 256": {"batch_size": 1024, "penalty_batch": 256},
        " 512x512": {"hidden": (512, 512)},
        " 256x256": {"hidden": (256, 256)},
    }.items()},
    # the seventh round: the critic -|z - c| (no training; _score_reference), and the
    # sixth round's default network and training fitted to the *true* potential by
    # supervised regression (values and input gradients; _regression_loss): capacity or
    # objective?  And the sixth round's default scored on 16 times the held-out points.
    "radial reference": ("reference", {}),
    **{f"round 6 default{name}": ("fresh", {**ROUND6, **opts}) for name, opts in {
        " regression steps 2000": {"regress": True, "steps": 2000},
        " regression steps 8000": {"regress": True, "steps": 8000},
        " regression steps 2000 groupsort": {"regress": True, "steps": 2000,
                                             "activation": "groupsort"},
        " regression steps 2000 1024x256": {"regress": True, "steps": 2000,
                                            "hidden": (1024, 256)},
        " regression steps 2000 256x256x256": {"regress": True, "steps": 2000,
                                               "hidden": (256, 256, 256)},
        " regression steps 2000 groupsort 4x256": {"regress": True, "steps": 2000,
                                                   "activation": "groupsort",
                                                   "hidden": (256,) * 4},
        " scored on 65536": {"n_test": 65536},
        " groupsort": {"activation": "groupsort"},
        # the eighth round, where 16 funnels miss the targets (D = 2: the gradient's cosine;
        # D = 32: the estimate): more steps, a wider network, and larger objective batches
        " steps 64000": {"steps": 64000},
        " steps 32000 256x256": {"steps": 32000, "hidden": (256, 256)},
        " steps 32000 batch 512 penalty rows 256": {"steps": 32000, "batch_size": 512,
                                                    "penalty_batch": 256},
        # the eleventh round: D = 128 with 16 funnels missed 5 % on two of six seeds at
        # 16000 steps; twice the steps, scored as the library scores (65536 points a side)
        " steps 32000 scored on 65536": {"steps": 32000, "n_test": 65536},
        # can distances to learned anchors draw 256 funnels where the MLP alone could not?
        " regression steps 2000 anchors 256": {"regress": True, "steps": 2000, "anchors": 256},
    }.items()},
    # the eleventh round: a critic that is a maximum of learned cones (_score_cones)
    **{f"cones{name}": ("cones", opts) for name, opts in {
        "": {},
        " lr 0.03": {"lr": 0.03},
        " reversed": {"reversed": True},
    }.items()},
}

#: Settings of the 'cones' factors (:func:`_score_cones`): cones, optimiser steps, points a side
#: per step, Adam's learning rate (cosine decay to 0), reference points a side.
CONES = {"cones": 1024, "steps": 2000, "batch_size": 512, "lr": 0.01, "n_eval": 4096}

#: Where the ``"lp"`` penalty is evaluated ('penalty at ...' factors): the library's
#: interpolates t x + (1 - t) y, the minibatch points themselves, or both.
PENALTY_POINTS = ("interpolates", "samples", "both")


def _lp_loss(where):
    """A ``critic_loss`` whose one-sided penalty is evaluated at ``where`` (PENALTY_POINTS)."""
    import torch

    from otlab.critics.lipschitz import critic_loss, input_gradients

    def loss(method, net, xb, yb, generator, *, penalty, **kwargs):
        if method != "lp" or where == "interpolates":
            return critic_loss(method, net, xb, yb, generator, penalty=penalty)
        n = xb.shape[0]
        t = torch.rand((n, 1), generator=generator).to(device=xb.device, dtype=xb.dtype)
        extra = [t * xb + (1.0 - t) * yb] if where == "both" else []
        out, grad = input_gradients(net, torch.cat([xb, yb.detach(), *extra]), start=0)
        excess = (grad.norm(dim=1) - 1.0).clamp(min=0.0)
        d_real, d_fake = out[:n], out[n:2 * n]
        value = d_fake.mean() - d_real.mean() + penalty * excess.pow(2).mean()
        return value, (d_real.mean() - d_fake.mean()).detach()

    return loss


def _warmup_cosine(fraction):
    """``lr_factor`` with a linear warm-up over the first ``fraction`` of the steps."""
    from otlab.critics._loop import lr_factor

    def factor(schedule, step, steps):
        ramp = max(1, int(round(fraction * steps)))
        return lr_factor(schedule, step, steps) * min(1.0, step / ramp)

    return factor


def _anchored_net(n_anchors):
    r"""A ``build_net`` whose MLP also sees the distances to ``n_anchors`` learned points.

    :math:`u \mapsto g(u, \lVert u\rVert, \lVert u - c_1\rVert, ..., \lVert u - c_m\rVert)`:
    the Kantorovich potential of :math:`W_1` between discrete measures is a
    minimum of cones :math:`\min_j (\lVert z - y_j\rVert + g_j)`, which a ReLU MLP
    draws from ridge functions only with many units in high dimension.  The
    anchors :math:`c_j` are trained with the network; they start at the first
    rows of the first minibatch (half source, half target points).
    """
    import torch
    from torch import nn

    from otlab.networks import mlp, seeded

    class WithAnchors(nn.Module):
        def __init__(self, net, dim):
            super().__init__()
            self.net = net
            self.anchors = nn.Parameter(torch.zeros(n_anchors, dim))
            self.register_buffer("ready", torch.zeros((), dtype=torch.bool))

        def forward(self, u):
            if not bool(self.ready):
                half = n_anchors // 2
                n = u.shape[0] // 3  # the loss's first pass: [real, fake, interpolates]
                with torch.no_grad():
                    self.anchors.copy_(torch.cat([u[:half], u[n:n + n_anchors - half]]))
                    self.ready.fill_(True)
            diff = u[:, None, :] - self.anchors.to(u.dtype)[None]
            dist = diff.pow(2).sum(-1).clamp_min(1e-12).sqrt()
            radius = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
            return self.net(torch.cat([u, radius, dist], dim=-1))

    def build(cfg, dim, generator):
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        with seeded(seed):
            return WithAnchors(mlp(dim + 1 + n_anchors, 1, cfg.hidden,
                                   activation=cfg.activation), dim)

    return build


def _regression_loss(pair, seed, n_eval=4096):
    r"""A ``critic_loss`` that fits the *true* potential by supervised regression.

    The critic's network, optimiser, schedule, minibatches and steps are those
    of the run; only the loss changes: on the minibatch points and the
    interpolates of the first ``penalty_batch`` pairs (the points the one-sided
    penalty sees), the mean squared error of the values (up to a constant)
    plus that of the input gradients against the true potential
    :math:`f = -u` and its gradient,

    .. math:: \operatorname{Var}_i\big(g(u_i) - f(z_i)/s\big)
        + \tfrac1n \sum_i \lVert \nabla g(u_i) - \nabla f(z_i)\rVert^2

    in the network's standardised units :math:`u = (z - c)/s`.  The centre and
    scale are those :func:`otlab.critics.estimate_w1` computes on samplers
    (its reference draw, repeated here with the same seed).  If even this
    fit, given the answer at every point, stays far from the true gradient,
    the network (or its training) cannot draw the potential, whatever the
    Kantorovich objective: capacity, not the objective.
    """
    import torch

    from otlab.critics import input_gain
    from otlab.critics.lipschitz import input_gradients
    from otlab.frames import standardise

    rx, ry = np.random.default_rng(seed).spawn(2)
    ref_x, ref_y = pair.sample_source(n_eval, rx), pair.sample_target(n_eval, ry)
    _, center, scale = standardise(ref_x, ref_y, radius=True)
    scale = scale / input_gain("coordinate", pair.dim)
    center_t = torch.as_tensor(center)

    def loss(method, net, xb, yb, generator, *, penalty, penalty_batch=None):
        n = xb.shape[0]
        rows = n if penalty_batch is None else min(int(penalty_batch), n)
        t = torch.rand((rows, 1), generator=generator).to(dtype=xb.dtype)
        u = torch.cat([xb, yb.detach(), t * xb[:rows] + (1.0 - t) * yb[:rows]])
        z = u.detach().double() * scale + center_t
        target = pair.potential(z) / scale
        out, grad = input_gradients(net, u, start=0)
        resid = out - target.to(out.dtype)
        value = (resid - resid.mean()).pow(2).mean() + (
            grad - pair.gradient(z).to(grad.dtype)).pow(2).sum(dim=1).mean()
        return value, (out[:n].mean() - out[n:2 * n].mean()).detach()

    return loss


@contextlib.contextmanager
def _patched(*, penalty_points=None, warmup=None, anchors=None, average_kind=None,
             regression=None):
    """The training loop with a diagnosis variant of its loss, schedule, net or weight
    average, restored after."""
    from otlab.critics import _loop, samplers

    saved = _loop.critic_loss, _loop.lr_factor, samplers.build_net
    saved_kind = _loop.WeightAverage.default_kind
    try:
        if average_kind is not None:
            _loop.WeightAverage.default_kind = average_kind
        if penalty_points is not None:
            _loop.critic_loss = _lp_loss(penalty_points)
        if regression is not None:
            _loop.critic_loss = regression
        if warmup is not None:
            _loop.lr_factor = _warmup_cosine(warmup)
        if anchors is not None:
            samplers.build_net = _anchored_net(anchors)
        yield
    finally:
        _loop.critic_loss, _loop.lr_factor, samplers.build_net = saved
        _loop.WeightAverage.default_kind = saved_kind


def run_case(case, args) -> dict:
    pair = w1_benchmark(case["D"], case["W"], seed=args.pair_seed)
    mode, opts = FACTORS[case["factor"]]
    opts = {**BASE, **opts}
    dim = case["D"]
    if opts["steps"] == "round 8":  # the eighth round's default steps on samplers
        opts["steps"] = 64000 if dim <= 2 else 16000
    elif isinstance(opts["steps"], str):  # "xN": N times the third round's step rule
        opts["steps"] = int(opts["steps"][1:]) * round3_steps(dim)
    if opts["radial"] == "round 3":
        opts["radial"] = dim > 32
    if opts["input_scale"] == "round 3":
        opts["input_scale"] = "coordinate" if dim > 32 else "radius"
    if opts["penalty_batch"] == "all":  # the penalty at every pair (before the sixth round)
        opts["penalty_batch"] = opts["batch_size"]
    if opts["hidden"] == "former":  # default_hidden's rule of every method (before the sixth)
        opts["hidden"] = default_hidden(dim)
    lipschitz = opts.pop("lipschitz", "lp")
    patch = {k: opts.pop(k) for k in ("penalty_points", "warmup", "anchors", "average_kind",
                                      "regress") if k in opts}
    seed = case["seed"]
    if "n_test" in opts:  # scored on more held-out points than --n-test
        args = argparse.Namespace(**{**vars(args), "n_test": opts.pop("n_test")})
    xt, yt = pair.sample(args.n_test, seed=np.random.default_rng([seed, 2]))
    if mode == "reference":
        return _score_reference(pair, xt, yt, seed, args)
    if mode == "cones":
        return _score_cones(pair, xt, yt, seed, args, {**CONES, **FACTORS[case["factor"]][1]})
    if mode == "fixed":
        data = pair.sample(args.n, seed=np.random.default_rng([seed, 1]))
    else:
        data = (pair.sample_source, pair.sample_target)
    if patch.pop("regress", False):
        if opts["input_scale"] not in (None, "coordinate"):
            raise ValueError("the regression factors assume input_scale='coordinate'")
        patch["regression"] = _regression_loss(pair, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # recorded in status
        with _patched(**patch):
            m = measure(lambda: estimate_w1(*data, lipschitz=lipschitz, seed=seed,
                                            holdout=0.0, audit=False, **opts),
                        repeat=1, warmup=0)
    res = m.result
    est, se = held_out(res.critic, xt, yt)
    return {"true": pair.w1, "train": res.estimate, "estimate": est, "stderr": se,
            "true_rel": true_heldout_rel(pair, xt, yt),
            "rel": est / pair.w1 - 1, "gap": res.estimate - est,
            "cos": cosine(res.critic, pair, xt), "K": res.lipschitz_bound,
            "status": res.status, "steps": res.config.steps,
            **slope_audit(res.critic, pair, args.n_test, seed),
            "seconds": m.wall_s, "cpu_s": m.cpu_s, "load": m.load_after, "n_test": args.n_test}


class _RadialCritic:
    r"""The critic :math:`f(z) = -\lVert z - c\rVert` (numpy in, numpy out; torch in, torch out)."""

    def __init__(self, center):
        self.center = np.asarray(center, dtype=np.float64)

    def __call__(self, z):
        import torch

        if isinstance(z, torch.Tensor):
            return -(z - torch.as_tensor(self.center, dtype=z.dtype)).norm(dim=1)
        return -np.linalg.norm(np.asarray(z) - self.center, axis=1)


def _score_reference(pair, xt, yt, seed, args) -> dict:
    r"""The 'radial reference' row: no training, the critic :math:`-\lVert z - c\rVert`.

    :math:`c` is the pooled mean of 4096 points per side (drawn as
    :func:`otlab.critics.estimate_w1` draws its reference sample).  It knows
    nothing of the funnels but that both laws sit around the cube's centre and
    the source lies inwards: its gradient cosine is what a critic scores
    without drawing a single funnel.  Its estimate is not a 1-Lipschitz
    critic's best: compare the cosines.
    """
    def score():
        rx, ry = np.random.default_rng(seed).spawn(2)
        ref = np.concatenate([pair.sample_source(4096, rx), pair.sample_target(4096, ry)])
        critic = _RadialCritic(ref.mean(axis=0))
        est, se = held_out(critic, xt, yt)
        return {"true": pair.w1, "train": est, "estimate": est, "stderr": se,
                "true_rel": true_heldout_rel(pair, xt, yt), "rel": est / pair.w1 - 1,
                "gap": 0.0, "cos": cosine(critic, pair, xt), "K": 1.0, "status": "reference",
                "steps": 0, **slope_audit(critic, pair, args.n_test, seed)}

    m = measure(score, repeat=1, warmup=0)
    return {**m.result, "seconds": m.wall_s, "cpu_s": m.cpu_s, "load": m.load_after,
            "n_test": args.n_test}


def _max_of_cones(u, apexes, heights):
    r""":math:`\max_j (v_j - \lVert u - p_j\rVert)` for each row of ``u`` (torch, differentiable)."""
    import torch

    d = torch.cdist(u, apexes, compute_mode="donot_use_mm_for_euclid_dist")
    return (heights - d).amax(1)


class _ConesCritic:
    r"""A maximum of cones, :math:`f(z) = \sigma s \max_j (v_j - \lVert (z - c)/s - p_j\rVert)`.

    Each cone is 1-Lipschitz, and so is their maximum and its negation
    (:math:`\sigma = \pm 1`): the critic needs no penalty and no audit.
    :math:`c, s` standardise the points (pooled mean, RMS coordinate), the apexes
    :math:`p_j` and heights :math:`v_j` are learned.  With :math:`\sigma = -1` it is
    a *minimum* of upward cones, the form of a Kantorovich potential of :math:`W_1`
    towards a discrete law (:math:`\min_j \lVert z - y_j\rVert - g_j`).
    Numpy in, numpy out (float64, in blocks); torch in, torch out (differentiable).
    """

    def __init__(self, apexes, heights, sign, center, scale):
        self.apexes = np.asarray(apexes, dtype=np.float64)
        self.heights = np.asarray(heights, dtype=np.float64)
        self.sign, self.center, self.scale = float(sign), np.asarray(center), float(scale)

    def __call__(self, z):
        import torch

        if isinstance(z, torch.Tensor):
            u = (z - torch.as_tensor(self.center, dtype=z.dtype)) / self.scale
            return self.sign * self.scale * _max_of_cones(
                u, torch.as_tensor(self.apexes, dtype=z.dtype),
                torch.as_tensor(self.heights, dtype=z.dtype))
        z = np.asarray(z, dtype=np.float64)
        rows = max(1, 2**22 // max(1, self.apexes.shape[0]))
        with torch.no_grad():
            return np.concatenate([self(torch.as_tensor(z[i:i + rows])).numpy()
                                   for i in range(0, z.shape[0], rows)])


def _train_cones(sample_x, sample_y, seed, opts):
    r"""Train :class:`_ConesCritic` both ways round; keep the larger gap on a reference sample.

    A maximum of downward cones draws potentials that are high around a few
    points (the source's funnels); their negation, a minimum of upward cones,
    the opposite.  Each is trained for ``opts["steps"]`` Adam steps (cosine
    decay) on fresh minibatches of the Kantorovich objective
    :math:`\mathbb E_x f - \mathbb E_y f` with no penalty, apexes started at
    reference points of the side whose mass the cones gather (source for
    :math:`\sigma = 1`, target for :math:`-1`), heights at 0.  The two are
    compared on a selection sample drawn apart: on the reference points a cone
    left at its starting point peaks, which inflates their gap (to 3.6 for a
    true 1.1 at D = 128, measured).  Returns the critic and its gap on the
    selection sample.
    """
    import torch

    from otlab.critics._loop import lr_factor

    rng = np.random.default_rng([seed, 5])
    ref_x, ref_y = sample_x(opts["n_eval"], rng), sample_y(opts["n_eval"], rng)
    pick = np.random.default_rng([seed, 6])
    sel_x, sel_y = sample_x(opts["n_eval"], pick), sample_y(opts["n_eval"], pick)
    pooled = np.concatenate([ref_x, ref_y])
    center = pooled.mean(axis=0)
    scale = float(np.sqrt(((pooled - center) ** 2).mean()))
    best = None
    for sign in (1.0, -1.0):
        start = (ref_x if sign > 0 else ref_y)[rng.permutation(opts["n_eval"])[:opts["cones"]]]
        apexes = torch.nn.Parameter(torch.as_tensor((start - center) / scale, dtype=torch.float32))
        heights = torch.nn.Parameter(torch.zeros(apexes.shape[0]))
        opt = torch.optim.Adam([apexes, heights], lr=opts["lr"])

        def critic(u, apexes=apexes, heights=heights, sign=sign):
            return sign * _max_of_cones(u, apexes, heights)

        def standard(points):
            return torch.as_tensor((points - center) / scale, dtype=torch.float32)

        for step in range(opts["steps"]):
            for group in opt.param_groups:
                group["lr"] = opts["lr"] * lr_factor("cosine", step + 1, opts["steps"])
            xb = standard(sample_x(opts["batch_size"], rng))
            yb = standard(sample_y(opts["batch_size"], rng))
            loss = critic(yb).mean() - critic(xb).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        out = _ConesCritic(apexes.detach().numpy(), heights.detach().numpy(), sign, center, scale)
        gap = float(out(sel_x).mean() - out(sel_y).mean())
        if best is None or gap > best[1]:
            best = (out, gap)
    return best


def _score_cones(pair, xt, yt, seed, args, opts) -> dict:
    """The 'cones' rows: :func:`_train_cones` on the pair's samplers, scored as the others.

    ``opts["reversed"]``: trained on (target, source), the same :math:`W_1` with the
    potential negated, and scored negated, so that a critic that only drew one
    orientation's potentials would show here.
    """
    sides = (pair.sample_source, pair.sample_target)
    rev = bool(opts.get("reversed"))
    m = measure(lambda: _train_cones(*(sides[::-1] if rev else sides), seed, opts),
                repeat=1, warmup=0)
    critic, train = m.result
    trained_sign = critic.sign
    if rev:
        critic.sign = -critic.sign
    est, se = held_out(critic, xt, yt)
    return {"true": pair.w1, "train": train, "estimate": est, "stderr": se,
            "true_rel": true_heldout_rel(pair, xt, yt), "rel": est / pair.w1 - 1,
            "gap": train - est, "cos": cosine(critic, pair, xt), "K": 1.0,
            "status": f"ok, sign {trained_sign:+.0f}" + (" reversed" if rev else ""),
            "steps": opts["steps"],
            **slope_audit(critic, pair, args.n_test, seed),
            "seconds": m.wall_s, "cpu_s": m.cpu_s, "load": m.load_after, "n_test": args.n_test}


def true_heldout_rel(pair, xt, yt) -> float:
    r"""The held-out relative error of the *true* potential on the scoring points.

    :math:`(\bar f(x_t) - \bar f(y_t)) / W_1 - 1` with the optimal potential
    :math:`f`: the sampling error of the held-out points themselves, which a
    critic close to :math:`f` shares (its held-out error is about this plus its
    slope along the optimal moves minus 1).
    """
    return float((pair.potential(xt).mean() - pair.potential(yt).mean()) / pair.w1 - 1)


def backfill_true_rel(results: Path, pair_seed: int, n_test: int) -> int:
    """Add ``true_rel`` (:func:`true_heldout_rel`) to the rows of ``results`` without it.

    The scoring points are a function of the cell, the seed and ``n_test``
    (:func:`run_case`), so the field is computed, not measured; returns the rows changed.
    """
    import json

    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    pairs, changed = {}, 0
    for row in rows:
        if "true_rel" in row or "error" in row:
            continue
        cell = (row["D"], row["W"])
        if cell not in pairs:
            pairs[cell] = w1_benchmark(*cell, seed=pair_seed)
        xt, yt = pairs[cell].sample(n_test, seed=np.random.default_rng([row["seed"], 2]))
        row["true_rel"] = true_heldout_rel(pairs[cell], xt, yt)
        changed += 1
    if changed:
        results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return changed


def slope_audit(critic, pair, n, seed) -> dict:
    r"""Where the estimate is lost: the critic's slope along the optimal moves.

    On ``n`` pairs :math:`(x_i, y_i)` of the optimal plan the critic's estimate
    is :math:`\sum_i (f(x_i) - f(y_i)) / \sum_i \lVert x_i - y_i\rVert` times
    :math:`W_1` ('slope': 1 for the optimal critic); at the midpoints
    :math:`m_i` of the moves, 'gnorm' is the mean of :math:`\lVert\nabla
    f(m_i)\rVert` (the Lipschitz budget the critic uses where the mass moves)
    and 'cos_mid' the mean cosine between :math:`\nabla f(m_i)` and the move
    direction :math:`(x_i - y_i) / \lVert x_i - y_i\rVert`.  A slope short of
    1 with gnorm near 1 and cos_mid near the slope is a critic limited by its
    shape; a gnorm well below 1 one that leaves its Lipschitz budget unused.
    """
    import torch

    xp, yp = pair.sample_plan(n, seed=np.random.default_rng([seed, 3]))
    move = xp - yp
    length = np.linalg.norm(move, axis=1)
    fx, fy = np.asarray(critic(xp)), np.asarray(critic(yp))
    z = torch.tensor(0.5 * (xp + yp), dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(critic(z).sum(), z)
    g = g.numpy()
    gn = np.linalg.norm(g, axis=1)
    keep = (length > 0) & (gn > 0)
    cos_mid = (g * move).sum(axis=1)[keep] / (gn[keep] * length[keep])
    return {"slope": float((fx - fy).sum() / length.sum()), "gnorm": float(gn.mean()),
            "gnorm_max": float(gn.max()), "cos_mid": float(cos_mid.mean())}


def figure(rows, path):
    plt = pyplot()
    factors = [f for f in FACTORS if any(r["factor"] == f for r in rows)]
    cells = [c for c in CELLS if any((r["D"], r["W"]) == c for r in rows)]
    if not factors or not cells:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(factors) + 2), sharey=True)
    ypos = np.arange(len(factors))
    colours = plt.get_cmap("tab20").colors
    for k, (d, w) in enumerate(cells):
        off = (k - (len(cells) - 1) / 2) * 0.8 / len(cells)
        cell = {}  # factor -> the cell's rows of every seed (the bars show their mean)
        for r in rows:
            if (r["D"], r["W"]) == (d, w):
                cell.setdefault(r["factor"], []).append(r)
        rel = [np.mean([abs(r["rel"]) for r in cell[f]]) if f in cell else np.nan
               for f in factors]
        cos = [np.mean([r["cos"] for r in cell[f]]) if f in cell else np.nan for f in factors]
        style = {"height": 0.8 / len(cells), "label": f"D={d}, W={w}",
                 "color": colours[k % len(colours)]}
        axes[0].barh(ypos + off, rel, **style)
        axes[1].barh(ypos + off, cos, **style)
    axes[0].set_yticks(ypos, factors, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_xscale("log")
    smallest = min((abs(r["rel"]) for r in rows if r["rel"]), default=0.05)
    axes[0].set_xlim(left=min(0.5 * smallest, 1e-2))  # every bar visible, the smallest too
    axes[0].axvline(0.05, color="grey", ls=":", lw=1)
    axes[1].axvline(0.9, color="grey", ls=":", lw=1)
    axes[0].set_xlabel("|held-out estimate / true W1 - 1| (log)")
    axes[1].set_xlabel("cosine(critic gradient, true gradient)")
    axes[1].set_xlim(0, 1)
    # one legend over both panels, in the figure's own top margin (inside the image)
    handles, labels = axes[1].get_legend_handles_labels()
    ncol = min(len(labels), 7)
    height = fig.get_figheight()
    top = 1.0 - (0.25 * -(-len(labels) // ncol) + 0.2) / height
    fig.legend(handles, labels, fontsize=7, loc="upper center", ncol=ncol, frameon=False)
    return save_png(fig, path, rect=(0.0, 0.0, 1.0, top))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", nargs="+", default=list(FACTORS), choices=list(FACTORS))
    parser.add_argument("--cells", nargs="+", default=[f"{d}x{w}" for d, w in CELLS],
                        help="DxW cells, in order")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--pair-seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=4000, help="fixed training points per side")
    parser.add_argument("--n-test", type=int, default=4096)
    parser.add_argument("--time-budget", type=float, default=float("inf"))
    parser.add_argument("--results", default=None,
                        help="JSON-lines results (default reports/critics_w1_diagnosis.jsonl)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--backfill-true", action="store_true",
                        help="add the true potential's held-out error on the scoring points "
                             "(true_heldout_rel) to the recorded rows without it, then go on")
    args = parser.parse_args(argv)
    cells = [tuple(int(v) for v in c.split("x")) for c in args.cells]
    cases = [{"D": d, "W": w, "factor": f, "seed": s}
             for (d, w) in cells for f in args.factors for s in args.seeds]
    results = Path(args.results) if args.results else REPORTS / f"{NAME}.jsonl"
    budget = None if args.time_budget == float("inf") else args.time_budget
    if args.backfill_true and results.exists():
        print(f"{backfill_true_rel(results, args.pair_seed, args.n_test)} rows given true_rel")
    rows = run_grid(cases, functools.partial(run_case, args=args), results,
                    key=fields_key("D", "W", "factor", "seed"), report_only=args.report_only,
                    budget_s=budget)
    if rows.missing:
        print(f"{len(rows.missing)} cases not run (time budget); run again to continue")
    table = [{"D": r["D"], "W": r["W"], "factor": r["factor"], "seed": r["seed"],
              "true W1": f"{r['true']:.3f}", "train": f"{r['train']:.3f}",
              "held-out": f"{r['estimate']:.3f} ± {r['stderr']:.3f}",
              "rel. error": f"{r['rel']:+.1%}",
              "true f": f"{r['true_rel']:+.1%}" if "true_rel" in r else "",
              "gap": f"{r['gap']:+.3f}",
              "cos": f"{r['cos']:.3f}", "K": f"{r['K']:.2f}",
              "slope": f"{r['slope']:.3f}" if "slope" in r else "",
              "mean grad norm": f"{r['gnorm']:.3f}" if "gnorm" in r else "",
              "cos along moves": f"{r['cos_mid']:.3f}" if "cos_mid" in r else "",
              "s": f"{r['seconds']:.0f}", "CPU s": f"{r['cpu_s']:.0f}" if "cpu_s" in r else "",
              "load": f"{r['load']:.1f}"} for r in sorted(rows, key=lambda r: (r["W"], r["D"]))]
    png = figure(rows, REPORTS / f"{NAME}.png")
    loads = [r["load"] for r in rows]
    sections = [
        ("Question", "Why does the neural critic miss the true W_1 in high dimension, and which "
         "settings fix it? One factor changed at a time (module docstring)."),
        ("Settings", f"`lp` critic, batch 256, 1000 steps unless the factor says otherwise "
         "('step rule ...' and 'default ...': the third round's step rule, 1000 up to "
         "D = 32, 2000 at 64, 4000 at 128; 'steps xN': N times that); "
         f"'fixed': {args.n} training points per side; 'fresh': samplers "
         "(`estimate_w1(pair.sample_source, pair.sample_target)`); scored on "
         f"{args.n_test} fresh points per side; one pair per (D, W), seed {args.pair_seed}; "
         "OMP_NUM_THREADS=1 on a 2-core machine shared with other work"
         + (f", load average {min(loads):.1f} to {max(loads):.1f} during the runs" if loads
            else "") + ". 'gap' = train estimate - held-out estimate (fresh: both on points "
         "never trained on). All factors of one cell and seed are scored on the same "
         "held-out points, so their rows share its sampling error (the standard error "
         "after the held-out estimate, 2-3 % of W_1); the slope along the optimal moves "
         "(below) is the less noisy measure of the critic. Factors named 'fresh default ...' "
         "start from estimate_w1's "
         "defaults before the norm feature and the step rule (lp, ReLU, default_hidden, "
         "cosine decay, 1000 steps; `BASE`), one change at a time; 'fresh radial ...' add "
         "the norm feature (radial=True); 'step rule ...' start from the default "
         "before the input scale (the norm feature from D = 33, the step rule, "
         "input_scale='radius'; `STEP_RULE`), and '... coordinate' scale each input "
         "coordinate to RMS 1 (input_scale='coordinate'); 'default ...' start from the "
         "third round's default (`CURRENT`: input_scale='coordinate', the norm feature and "
         "the step rule from D = 33 on, penalty 10), one change at a time; 'round 4 "
         "default' is estimate_w1's default of the fourth round (`ROUND4`: 4 times the "
         "step rule on samplers, and up to D = 32 each coordinate at RMS 1 with penalty "
         "30, i.e. 'default coordinate steps x4 penalty 30' there and 'default steps x4' "
         "above), 'round 4 default ...' that default with one change: 'average F' the "
         "critic's weights averaged uniformly over the last fraction F of the steps "
         "(estimate_w1(average=F)), 'ema F' an exponential moving average of them with a "
         "window of F times the steps, 'constant lr' no cosine decay, 'steps N' N steps; "
         "'round 5 default' is estimate_w1's default when the run was made (`LIBRARY`; "
         "since the fifth round 16000 steps on samplers at every D, i.e. 'round 4 default "
         "steps 16000' up to D = 64 and 'round 4 default' at D = 128). "
         "'penalty at samples / both': the "
         "one-sided penalty at the minibatch points instead of / besides the "
         "interpolates (`_lp_loss`); 'round 5 default ...' that default with one change: "
         "'batch B penalty rows M' B points per side for the objective, the penalty at the "
         "interpolates of the first M pairs only (estimate_w1(batch_size=B, penalty_batch=M)); "
         "'round 6 default' is estimate_w1's default when the run was made (`LIBRARY`; since "
         "the sixth round 'round 5 default 256x256' at D = 16 and 'round 5 default batch 512 "
         "penalty rows 256' from D = 33 on; written out as `ROUND6`, 16000 steps at every "
         "D, since the eighth round); 'round 6 default ...' that default with one "
         "change: 'groupsort' MaxMin units (activation='groupsort'), 'scored on 65536' "
         "the held-out scoring (and the slope audit) on 65536 points per side, "
         "'steps N' N steps, '256x256' layers of 256 units, 'batch 512 penalty rows 256' as "
         "above (the eighth round), 'anchors 256' the distances to 256 learned points as "
         "extra inputs, "
         "'regression steps N' the same network, optimiser and minibatches trained for N "
         "steps to fit the true potential's values and gradients (supervised, "
         "`_regression_loss`: can the network draw the potential at all?); 'radial "
         "reference': no training, the critic -|z - c| with c the pooled mean "
         "(`_score_reference`: what a critic scores without drawing a funnel); 'round 8 "
         "default': the eighth round's default (`ROUND8`: 64000 steps at D = 1 and 2 on "
         "samplers, 16000 above); 'round 9 default': estimate_w1's default when the run was "
         "made (`LIBRARY`; since the ninth round 64000 steps up to D = 32 on samplers); "
         "'cones': not an MLP but the maximum of 1024 learned cones v_j - |z - p_j| "
         "(1-Lipschitz by construction, no penalty; `_score_cones`), trained both ways "
         "round (its negation, a minimum of upward cones) for 2000 Adam steps of 512 points "
         "a side each, lr 0.01 with cosine decay ('lr 0.03': 0.03), the better kept by its "
         "gap on 4096 fresh points a side ('train'; status 'sign +1' or 'sign -1'; 'reversed': "
         "trained from the target to the source and scored negated); "
         "'true f': the held-out "
         "relative error of the true potential on the same scoring points (their sampling "
         "error, which a critic near the true potential shares: `true_heldout_rel`); "
         "'two-sided': lipschitz='gp' with lp's network and "
         "schedule; 'warm-up': a linear warm-up over 5 % of the steps; 'anchors N': the "
         "MLP also sees the distances to N learned points (`_anchored_net`). Slope audit "
         "(`slope_audit`) on 4096 pairs of the optimal plan: 'slope' = sum of f(x) - f(y) "
         "over sum of move lengths (1 for the optimal critic), 'mean grad norm' and 'cos "
         "along moves' at the moves' midpoints. 'CPU s': process CPU time of the run "
         "(training, sampling and scoring)."),
        ("Results", markdown_table(table)),
    ]
    if png:
        sections.append(("Figure", f"![relative error and cosine per factor (mean over the "
                                   f"seeds run)]({png.name})"))
    print(write_report(NAME, "Why critics miss W_1 in high dimension: one factor at a time",
                       device="cpu", sections=sections,
                       script="python -m benchmarks.critics_w1_diagnosis"))


if __name__ == "__main__":
    main()
