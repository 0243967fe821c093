"""What does otlab return on the adversarial inputs that once fooled it?

Question: for each input that once gave a wrong value reported as converged,
a raw traceback, or a misleading message (offsets of 1e7, float32 far from
the origin, half precision, tiny and huge epsilon, coordinates near 1e-300,
weights near the largest float, order 500, an iteration budget of 1, 20000
points, neural critics at absurd learning rates, the k-NN KL estimator at
extreme scales, complex tensors, ambiguous tuples; grids with extreme or
odd spacings, a degenerate line of points, known-answer pairs and critics
at the ends of the float range; a diverged classifier, far points of weight 0
or light beside MMD, the energy distance (weights requiring a gradient) and
the Sinkhorn divergence, Sinkhorn (order 2) beside a weight-0 point 1e7 away
whose weight requires a gradient, unbalanced masses near the float range
(histograms, samples and the unbalanced divergence), a tiny partial mass; critics on data near 1e307, far from their
samples, on duplicated points and generator samplers, with options float32
cannot hold; the sharded Sinkhorn divergence beside far points of weight 0),
what does otlab return
*now*, next to the exact or known answer?

Every case is recomputed when the script runs (``--again``; each case is
appended to ``adversarial_cases.jsonl`` as it ends, so an interrupted run
resumes): the "now" column is measured, the "before" column quotes what was
observed when the case was found.  Each
value is printed with the warnings it raised (category: first words) and the
solver's ``converged`` flag where it has one.

Usage::

    python -m benchmarks.adversarial_cases            # all cases, ~2-4 min on 2 cores
    python -m benchmarks.adversarial_cases --skip-slow  # without the 20000-point and timing cases
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from ._harness import REPORTS, markdown_table, measure, run_grid, write_report

import otlab
from otlab.critics import CriticDivergedError, estimate_w1
from otlab.entropic import default_reg
from otlab.estimators import knn_kl


def _short(exc_or_warning) -> str:
    text = str(exc_or_warning).replace("|", "/").replace("\n", " ")
    return text if len(text) <= 110 else text[:107] + "..."


def observe(fn):
    """``(value, note)``: what ``fn()`` returns or raises, with the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except Exception as exc:  # the case is what it raises
            value = f"raises {type(exc).__name__}: {_short(exc)}"
    notes = sorted({f"{w.category.__name__}: {_short(w.message)}" for w in caught})
    return value, "; ".join(notes)


def fmt(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, torch.Tensor):
        return f"{float(value.detach().double()):.6g} ({str(value.dtype).replace('torch.', '')})"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, int, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


#: The registered cases, in order: name -> (reference, before, fn).
CASES: dict[str, tuple] = {}
#: The columns of the table, in order.
COLUMNS = ("case", "exact / expected", "before", "now", "warnings / notes")


def case(name: str, reference: str, before: str, fn) -> None:
    """Register a case: ``fn()`` is run (and timed) by :func:`run_case`."""
    CASES[name] = (reference, before, fn)


def run_case(spec: dict) -> dict:
    """Run one registered case: what it returns now, its warnings, the time it took."""
    reference, before, fn = CASES[spec["case"]]
    m = measure(lambda: observe(fn), repeat=1, warmup=0)
    value, note = m.result
    print(f"{spec['case']}: {fmt(value)}  [{note or '-'}]", flush=True)
    return {"exact / expected": reference, "before": before, "now": fmt(value),
            "warnings / notes": note or "-", "wall s": m.wall_s, "cpu s": m.cpu_s,
            "load": m.load_after}


def _clouds(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) * 0.1, rng.normal(size=(n, 2)) * 0.1 + 0.05


def offset_cases() -> None:
    x, y = _clouds()
    exact = otlab.wasserstein(x, y)

    def sink(dx, **kw):
        r = otlab.wasserstein(x + dx, y + dx, method="sinkhorn", **kw)
        return r

    ref = f"exact W1 {exact:.6g}"
    for dx in (0.0, 1e7):
        case(f"Sinkhorn W1, reg 0.01, clouds + {dx:g}", ref,
             "0.0962 at offset 0; 0.00125 at 1e7", lambda dx=dx: sink(dx, reg=0.01))
        case(f"S_eps, reg 0.01, clouds + {dx:g}", "same at every offset",
             "0.0804 at offset 0; 0.0054 at 1e7",
             lambda dx=dx: otlab.sinkhorn_divergence(x + dx, y + dx, reg=0.01))
        case(f"Sinkhorn W1, default reg, clouds + {dx:g}", ref,
             "0.0923 at offset 0; 0.453 at 1e7", lambda dx=dx: sink(dx))
    ref32 = float(otlab.wasserstein(torch.tensor(x), torch.tensor(y), method="sinkhorn",
                                    reg=0.01))
    for dx in (100.0, 1000.0):
        case(f"float32 tensors + {dx:g}, Sinkhorn reg 0.01",
             f"{ref32:.6g} (float64 at offset 0)", "-13 % at 100; 2.3e-22 at 1000",
             lambda dx=dx: otlab.wasserstein(torch.tensor(x + dx, dtype=torch.float32),
                                             torch.tensor(y + dx, dtype=torch.float32),
                                             method="sinkhorn", reg=0.01))
    far32 = (torch.tensor(x, dtype=torch.float32),
             torch.tensor(y + [1000.0, 0.0], dtype=torch.float32))
    ref = otlab.wasserstein(*(t.double() for t in far32), method="sinkhorn", reg=0.01)
    case("float32 clouds 1000 apart, Sinkhorn W1 reg 0.01",
         f"{ref:.7g} (the same points in float64)", "997.907, no warning",
         lambda: f"{float(otlab.wasserstein(*far32, method='sinkhorn', reg=0.01)):.7g} (float32)")
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=(300, 1)), rng.normal(size=(300, 1)) + 0.02
    w1 = otlab.wasserstein(u, v)
    s0 = otlab.wasserstein(u, v, method="sinkhorn")
    case("1-D samples + 1e8: default_reg", f"{default_reg(u, v):.4g} at offset 0",
         "1.0", lambda: default_reg(u + 1e8, v + 1e8))
    case("1-D samples + 1e8: Sinkhorn W1, default reg", f"{s0:.6g} at offset 0 (exact W1 {w1:.6g})",
         "0.297 against 0.0237", lambda: otlab.wasserstein(u + 1e8, v + 1e8, method="sinkhorn"))


def epsilon_and_precision_cases() -> None:
    rng = np.random.default_rng(2)
    a = np.full(10, 0.1)
    M = rng.uniform(size=(10, 10))
    exact = otlab.emd(a, a, M).cost

    def sinkhorn(reg):
        r = otlab.sinkhorn(a, a, M, reg)
        return f"cost {r.cost:.6g}, converged={r.converged}"

    case("sinkhorn(a, a, M, reg=1e-20)", f"exact {exact:.6g}", "inf, converged=True",
         lambda: sinkhorn(1e-20))
    case("sinkhorn(a, a, M, reg=1e-16)", f"exact {exact:.6g}", "2.05 against 0.636, converged=True",
         lambda: sinkhorn(1e-16))
    M64 = np.round(M * 64) / 64  # M64 + 1000 is exact in float32
    ref32 = otlab.sinkhorn(a.astype(np.float32), a.astype(np.float32), M64.astype(np.float32),
                           0.01).cost

    def with_constant(dtype, c):
        r = otlab.sinkhorn(a.astype(dtype), a.astype(dtype), (M64 + c).astype(dtype), 0.01)
        return (f"cost - {c:g} = {r.cost - c:.6g}, marginal error {r.marginal_error:.2g}, "
                f"converged={r.converged}")

    case("sinkhorn(a, b, M + 1000, reg=0.01), float32", f"{ref32:.6g} (float32, M alone) + 1000",
         "cost - 1000 = -0.189, marginal error 0.025, converged=True",
         lambda: with_constant(np.float32, 1000.0))
    ref64 = otlab.sinkhorn(a, a, M64, 0.01).cost
    case("sinkhorn(a, b, M + 1e10, reg=0.01), float64", f"{ref64:.6g} (M alone) + 1e10",
         "cost - 1e10 = 3.6e5, marginal error 4.5e-4, converged=True",
         lambda: with_constant(np.float64, 1e10))
    x = rng.normal(size=(100, 2))
    for dtype in (torch.bfloat16, torch.float16):
        xt = torch.tensor(x, dtype=dtype)
        name = str(dtype).replace("torch.", "")
        case(f"{name}: Sinkhorn W1 of x and x + (3, 4)", "5 (a translation)",
             "3.75 (bf16) / 5.76 (f16), converged=True",
             lambda xt=xt: otlab.wasserstein(xt, xt + torch.tensor([3.0, 4.0], dtype=xt.dtype),
                                             method="sinkhorn"))
        case(f"{name}: exact W1 of x and x + (3, 4)", "5 (a translation)",
             "raw torch TypeError (bfloat16)",
             lambda xt=xt: otlab.wasserstein(xt, xt + torch.tensor([3.0, 4.0], dtype=xt.dtype)))


def divergence_cases() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(150, 2))
    case("S_eps(x, x), reg 3e4", "0", "-1.333", lambda: otlab.sinkhorn_divergence(x, x, reg=3e4))
    case("S_eps(x, x + 0.5), reg 1e5", ">= 0 (MMD limit, positive)", "-1.167",
         lambda: otlab.sinkhorn_divergence(x, x + 0.5, reg=1e5))
    case("S_eps(x, x), default reg and tol", "0", "-8.6e-8 to -4.9e-6",
         lambda: otlab.sinkhorn_divergence(x, x))
    y = x + 1e-3 * rng.normal(size=x.shape)
    tight = otlab.sinkhorn_divergence(x, y, tol=1e-9, max_iter=100_000)
    case("S_eps(x, x + 1e-3 noise), default tol", f"{fmt(tight)} (tol 1e-9)", "14x too small",
         lambda: otlab.sinkhorn_divergence(x, y))


def extreme_value_cases() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 2))
    case("points ~1e-300 (2-D), shifted by (3e-300, 0)", "3e-300", "0",
         lambda: otlab.wasserstein(x * 1e-300, x * 1e-300 + np.array([3e-300, 0.0])))
    case("points ~1e-160 (2-D), shifted by (3, 4) x 1e-160", "5e-160", "5.198e-160",
         lambda: otlab.wasserstein(x * 1e-160, x * 1e-160 + np.array([3e-160, 4e-160])))
    case("1-D weights [1e308, 1e308] on [0, 1] vs [0]", "0.5", "1.0",
         lambda: otlab.wasserstein([[0.0], [1.0]], [[0.0]], a=[1e308, 1e308]))
    case("2-D weights [1e308, 1e308] on (0,0), (1,0) vs (0,0)", "0.5",
         "wrong 'positive sum' error",
         lambda: otlab.wasserstein([[0.0, 0.0], [1.0, 0.0]], [[0.0, 0.0]], a=[1e308, 1e308]))
    case("order=500, y = x + (12, 16)", "20", "inf",
         lambda: otlab.wasserstein(x, x + np.array([12.0, 16.0]), order=500))
    far_cases(rng)
    a10 = np.full(10, 0.1)
    C = rng.uniform(size=(10, 10))
    shifted = otlab.emd(a10, a10, C).cost - 5.0

    def negative_costs():
        r = otlab.emd(a10, a10, C - 5.0)
        return f"cost {r.cost:.12g}, converged={r.converged}"

    case("emd(a, a, M), a = [0.6e308, 0.6e308], M = [[0.5, 1], [1, 0.5]]", "6e+307",
         "inf, converged=True",
         lambda: otlab.emd([0.6e308, 0.6e308], [0.6e308, 0.6e308], [[0.5, 1.0], [1.0, 0.5]]).cost)
    case("emd(a, b, M - 5): every cost negative", f"{shifted:.12g} (the optimum of M, minus 5)",
         "RuntimeError: network simplex failed: Problem infeasible", negative_costs)


def far_cases(rng) -> None:
    """Sliced W and MMD beside a far point (a coinciding pair of weight 1e-3, or weight 0)."""
    u, v = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 0.5
    w = 1e-3
    a = b = np.append(np.full(40, (1 - w) / 40), w)  # the same masses, to the last bit
    far = np.array([[1e16, 0.0]])
    ref = otlab.sliced_wasserstein(u, v).value
    case("sliced_wasserstein: a pair of weight 1e-3 at 1e16 beside 40 and 40 points",
         f"{(1 - w) * ref:.9g} ((1 - w) SW_1 without the pair)", "0.4367 (1.1 % low)",
         lambda: otlab.sliced_wasserstein(np.vstack([u, far]), np.vstack([v, far]), a=a,
                                          b=b).value)
    seg = np.array([[0.0, 0.0], [1.0, 0.0]])
    ref = otlab.sliced_wasserstein(seg, seg + [0.0, 1.0]).value
    case("sliced_wasserstein: a point of weight 0 at 1e300", f"{ref:.9g} (without it)", "0.0",
         lambda: otlab.sliced_wasserstein(np.vstack([seg, [[1e300, 0.0]]]), seg + [0.0, 1.0],
                                          a=[0.5, 0.5, 0.0]).value)
    a0 = np.append(np.ones(40), 0.0)
    ref = otlab.mmd(u, v, bandwidth=1.0, estimator="biased").value
    case("mmd (Gaussian): a point of weight 0 at 1e8", f"{ref:.9g} (without it)",
         "0.261427 (0.8 % high)",
         lambda: otlab.mmd(np.vstack([u, [[1e8, 0.0]]]), v, a=a0, bandwidth=1.0,
                           estimator="biased").value)
    from otlab.kernel_distances import median_bandwidth
    from scipy.spatial.distance import pdist

    z = np.vstack([u, v, [[1e20, 0.0]]])
    case("median_bandwidth: one point at 1e20 beside 80", f"{np.median(pdist(z)):.9g}",
         "0.987: the bulk collapsed in the bounding box's frame",
         lambda: median_bandwidth(np.vstack([u, [[1e20, 0.0]]]), v))


def budget_cases() -> None:
    rng = np.random.default_rng(5)
    n = 20
    u = np.full(n, 1 / n)
    C = rng.uniform(size=(n, n))
    exact = otlab.emd(u, u, C).cost

    def one_iteration():
        r = otlab.emd(u, u, C, max_iter=1)
        return (f"mass {r.plan.sum():.3g}, cost {r.cost:.4g}, converged={r.converged}, "
                f"feasible={getattr(r, 'feasible', 'n/a')}")

    case("emd(u, u, C, max_iter=1)", f"exact cost {exact:.4g}",
         "warning: 'feasible, cost may be too high'; mass 0.61, cost 0.093 vs 0.283", one_iteration)
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    case("wasserstein(x, y, max_iter=1)", f"exact {otlab.wasserstein(x, y):.4g}",
         "the infeasible plan's cost returned",
         lambda: otlab.wasserstein(x, y, max_iter=1))


def large_exact_case() -> None:
    code = ("import numpy as np, otlab\n"
            "from benchmarks._harness import measure\n"
            "rng = np.random.default_rng(0)\n"
            "x, y = rng.uniform(size=(20000, 2)), rng.uniform(size=(20000, 2))\n"
            "m = measure(lambda: otlab.wasserstein(x, y), repeat=1, warmup=0)\n"
            "print(f'W1 {m.result:.6g}, {m.cpu_s:.1f} s CPU, '\n"
            "      f'peak RSS {m.peak_rss / 2**30:.2f} GiB')\n")

    def run():  # a fresh process: the peak resident set is the case's own
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=1800, cwd=Path(__file__).resolve().parent.parent)
        return done.stdout.strip() or f"failed: {_short(done.stderr[-300:])}"

    case("wasserstein(x, y), n = m = 20000 uniform 2-D points", "W1 (certified)",
         "bad_alloc in native code after 52 s under 8 GB; 16.4 GB peak without a limit", run)


def sinkhorn_cliff_case() -> None:
    for n in (2800, 3000):
        rng = np.random.default_rng(n)
        x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 0.5
        for backend in ("auto", "dense"):
            def timed(x=x, y=y, backend=backend):
                m = measure(lambda: otlab.sinkhorn_divergence(x, y, reg=0.05, backend=backend),
                            repeat=1, warmup=0)
                return f"{fmt(m.result)} in {m.wall_s:.1f} s wall"

            case(f"sinkhorn_divergence n = {n}, backend={backend}", "auto about as fast as dense",
                 "auto: 9.6 s (n=2800), 65 s (n=3000) vs 4.3 s dense", timed)


def critic_cases() -> None:
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(400, 2)), rng.normal(size=(400, 2)) + 1.0
    for method in ("gp", "lp", "sn", "ctransform"):
        case(f"estimate_w1(lipschitz={method!r}, lr=1e6)", "a warning or an error, never a number",
             "nan (gp/lp/sn), 0.0 (ctransform), no warning",
             lambda m=method: fmt(estimate_w1(x, y, lipschitz=m, lr=1e6, steps=200).estimate))

    u, v = rng.normal(size=(800, 1)), rng.normal(size=(800, 1)) + 2.0
    exact = otlab.wasserstein(u, v)

    def gp_signs():
        values = []
        for seed in range(10):
            try:
                values.append(estimate_w1(u, v, lipschitz="gp", seed=seed, steps=500).estimate)
            except CriticDivergedError:
                values.append(float("nan"))
        values = np.asarray(values)
        return (f"{int((values < 0).sum())} of 10 seeds negative; range "
                f"{np.nanmin(values):.3f} .. {np.nanmax(values):.3f}")

    case("gp critic in 1-D, N(0,1) vs N(2,1), n=800, seeds 0-9", f"exact W1 {exact:.3f}",
         "about -1.88 for 4 of 10 seeds", gp_signs)

    def sn_product():
        r = estimate_w1(x, y, lipschitz="sn", steps=300)
        norms = otlab.critics.spectral_norms(r.critic.net)
        return (f"product of layer spectral norms {float(np.prod(norms)):.4f}; audited max slope "
                f"{r.audit.max_slope:.4f}")

    case("sn critic: Lipschitz bound", "<= 1", "product 1.02-1.34, audited slope 1.23",
         sn_product)


def knn_kl_cases() -> None:
    rng = np.random.default_rng(7)
    d, n = 5, 5000
    x, y = rng.normal(size=(n, d)) * math.sqrt(2), rng.normal(size=(n, d))
    true = 0.5 * (2 * d - d + d * math.log(0.5))

    def estimate(scale):
        r = knn_kl(x * scale, y * scale)
        return f"{r.kl:.4g} +- {r.std_error:.2g} (std error); half-sample {r.half_sample_kl:.4g}"

    case("knn_kl d=5, N(0,2I) vs N(0,I), n=5000", f"{true:.4f}", "-53 %, no error estimate",
         lambda: estimate(1.0))
    case("knn_kl, same data x 1e200", f"{true:.4f}", "nan", lambda: estimate(1e200))
    case("knn_kl, same data x 1e-300", f"{true:.4f}", "'repeated points' for distinct points",
         lambda: estimate(1e-300))


def api_cases() -> None:
    z = torch.zeros(3, 2, dtype=torch.complex64)
    case("complex torch tensors", "an error", "accepted; imaginary part dropped, W = 0",
         lambda: otlab.wasserstein(z, z + 1j))
    case("wasserstein(((0, 0), (1, 1)), ((1, 1), (2, 2)))", "sqrt(2) = 1.41421",
         "1.0 (read as 1-D points with weights)",
         lambda: otlab.wasserstein(((0, 0), (1, 1)), ((1, 1), (2, 2))))
    def gradient_at_itself(fn):
        def run():
            x = torch.tensor(np.random.default_rng(8).normal(size=(8, 2)), requires_grad=True)
            fn(x, x.detach().clone()).backward()
            return f"gradient max |g| = {float(x.grad.abs().max()):.3g}"
        return run

    for name, fn in (
            ("wasserstein (1-D, order 2)", lambda u, v: otlab.wasserstein(u[:, :1], v[:, :1],
                                                                        order=2)),
            ("sliced_wasserstein (order 2)", lambda u, v: otlab.sliced_wasserstein(
                u, v, order=2).value),
            ("max_sliced_wasserstein (order 2)", lambda u, v: otlab.max_sliced_wasserstein(
                u, v, order=2).value),
            ("energy_distance", lambda u, v: otlab.energy_distance(u, v).value)):
        case(f"{name} of a tensor and itself: gradient", "0 (or finite)", "nan",
             gradient_at_itself(fn))
    rng = np.random.default_rng(5)
    u, v = rng.normal(size=(20, 2)), rng.normal(size=(30, 2))
    case("mmd(bandwidth=1e-160), biased, 20 and 30 points",
         f"{1 / 20 + 1 / 30:.6g} (sum a^2 + sum b^2)", "nan, no warning",
         lambda: otlab.mmd(u, v, bandwidth=1e-160, estimator="biased").squared)
    case("sliced_wasserstein(tol=1e-300, max_projections=300)",
         "converged=False and a ConvergenceWarning",
         "OverflowError (34, 'Numerical result out of range')",
         lambda: otlab.sliced_wasserstein(u, v, tol=1e-300, max_projections=300).converged)
    half = torch.tensor([0.5, 0.5], dtype=torch.float64, requires_grad=True)
    case("partial_wasserstein(tensors requiring grad, mass=1)", "0.5 (the EMD)",
         "torch RuntimeError (numpy() on a tensor that requires grad)",
         lambda: otlab.partial_wasserstein(half, half, torch.tensor([[0.0, 5.0], [5.0, 1.0]]),
                                           mass=1.0).cost)
    case("partial_wasserstein(M = [[0, 1e308], [1e308, 2.5e307]], mass=1)", "1.25e+307",
         "ValueError: M must be finite (the dummy pair's price 2 max M overflowed)",
         lambda: otlab.partial_wasserstein([0.5, 0.5], [0.5, 0.5],
                                           [[0.0, 1e308], [1e308, 2.5e307]], mass=1.0).cost)
    case("wasserstein(x, y, reg=0.1)", "a TypeError suggesting method='sinkhorn'",
         "TypeError without the hint",
         lambda: otlab.wasserstein([[0.0]], [[1.0]], reg=0.1))


def entry_point_cases() -> None:
    """emd_grid, emd_points on a degenerate line, w1_benchmark and estimate_w1 at the edges."""
    from otlab.critics import lipschitz_audit
    from otlab.datasets import W1BenchmarkPair, w1_benchmark

    rng = np.random.default_rng(3)
    A, B = rng.random((6, 5)), rng.random((6, 5))
    w2 = otlab.emd_grid(A.sum(axis=0), B.sum(axis=0), order=2).distance

    def grid_w2():
        r = otlab.emd_grid(A, B, order=2, spacing=(1e-200, 1e150))
        return f"W_2 {r.distance:.6g}, converged={r.converged}"

    case("emd_grid(order=2, spacing=(1e-200, 1e150))", f"W_2 {1e150 * w2:.6g} (the marginal's)",
         "ZeroDivisionError from the grid's lower envelope", grid_w2)
    case("emd_grid(complex64 tensor, B)", "a TypeError naming A",
         "solved on the real part (numpy ComplexWarning only)",
         lambda: otlab.emd_grid(torch.ones(2, 2, dtype=torch.complex64), np.ones((2, 2))))
    case("emd_grid(3x3, 2x2, spacing=1e308)", "a ValueError naming spacing",
         "ValueError about an argument 'x' never passed",
         lambda: otlab.emd_grid(np.ones((3, 3)), np.ones((2, 2)), spacing=1e308))
    case("emd_grid(spacing=tensor requiring grad)", "the value with spacing (0.5, 2)",
         "torch RuntimeError (numpy() on a tensor that requires grad)",
         lambda: otlab.emd_grid(A, B, spacing=torch.tensor([0.5, 2.0], requires_grad=True)).cost)
    line = np.random.default_rng(29)
    x, y = line.normal(size=(3000, 1)), line.normal(size=(2, 1)) + 0.3
    a, b = line.random(3000), line.random(2)
    import scipy.stats

    def on_a_line():
        r = otlab.emd_points(x, y, a, b, solver="sparse")
        return f"{r.cost:.12g}, converged={r.converged}"

    case("emd_points: 3000 weighted points on a line vs 2 (W_1)",
         f"{scipy.stats.wasserstein_distance(x[:, 0], y[:, 0], a, b):.12g} (1-D closed form)",
         "right value but converged=False: POT's simplex stalled at its pivot cap", on_a_line)
    case("emd: costs of order 1 beside a light pair far away, as a cost matrix (48 problems)",
         "<P, M> exact to 1e-9 or converged=False",
         "36 wrong with converged=True (16 % off from 1e20 at order 1, 90 % from 1e10 at order 2)",
         _far_light_pair_matrices)
    case("emd: 5 x 5 cost matrices with entries 10**U(lo, hi), -300 <= lo < hi <= 300, a "
         "third with signs (400 problems)",
         "the best assignment (brute force) to 1e-9 or converged=False",
         "178 wrong with converged=True (entries far below the largest unresolved or "
         "underflowed)", _wide_cost_matrices)
    case("emd_points: a pair one apart far away beside 20 points of size 1 (112 problems)",
         "W_k^k exact to 1e-9 or converged=False",
         "31 wrong with converged=True (W_k^k 40-170 % off at 1e200, W_2^2 x 1.4e4 at 1e10)",
         _far_light_pairs)
    for h in (1e-300, 1e300):
        case(f"w1_benchmark(2, 4, half_width={h:g})", "a ValueError naming half_width",
             "w1 = 0 (1e-300) / NaN (1e300), numpy warnings only",
             lambda h=h: w1_benchmark(2, 4, seed=0, half_width=h, n_mc=64).w1)
    case("W1BenchmarkPair(centers (4, 2), biases (3,))", "a ValueError naming biases",
         "broadcast ValueError inside sampling",
         lambda: W1BenchmarkPair(np.zeros((4, 2)), np.zeros(3)).sample_plan(5, seed=0))
    case("pair.potential(points of shape (3, 5)) for D = 2", "a ValueError naming z",
         "torch cdist RuntimeError",
         lambda: w1_benchmark(2, 4, seed=0, n_mc=16).potential(np.zeros((3, 5))))
    u, v = rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + [3.0, 0.0]
    small = {"lipschitz": "ctransform", "hidden": (16,), "steps": 50, "audit": False}
    base = estimate_w1(u, v, **small).holdout_stderr
    case("estimate_w1 holdout_stderr, data x 1e200", f"{1e200 * base:.4g} (1e200 x at scale 1)",
         "inf (overflow warnings)",
         lambda: estimate_w1(u * 1e200, v * 1e200, **small).holdout_stderr)
    case("estimate_w1(samplers, n_eval=1, n_holdout=1) holdout_stderr",
         "NaN (one point: no error bar)", "0.0",
         lambda: estimate_w1(lambda n, r: r.normal(size=(n, 2)),
                             lambda n, r: r.normal(size=(n, 2)) + 1.0, n_eval=1, n_holdout=1,
                             **{**small, "steps": 5}).holdout_stderr)
    case("estimate_w1(seed=2**70)", "a ValueError naming seed",
         "torch 'Overflow when unpacking long long'",
         lambda: estimate_w1(u, v, seed=2**70, **small))
    case("estimate_w1(device='gpu')", "a ValueError naming device", "torch RuntimeError",
         lambda: estimate_w1(u, v, device="gpu", **small))
    case("estimate_w1(samplers of (n, 0) points)", "a ValueError naming the sampler",
         "estimate 0, status 'collapsed'",
         lambda: estimate_w1(lambda n, r: np.zeros((n, 0)), lambda n, r: np.zeros((n, 0)),
                             **small))
    critic = otlab.exact_critic(u[:30], v[:30])
    unit = lipschitz_audit(critic, u[:30], v[:30], n_pairs=256).max_slope
    for s in (1e-13, 1e300):
        case(f"lipschitz_audit max_slope, exact critic, data x {s:g}", f"{unit:.6g} (at scale 1)",
             "0",
             lambda s=s: lipschitz_audit(otlab.exact_critic(u[:30] * s, v[:30] * s),
                                         u[:30] * s, v[:30] * s, n_pairs=256).max_slope)


def estimator_cases() -> None:
    """The non-exact estimators at the edges: a diverged classifier, far points of weight 0
    or light, unbalanced masses near the float range, a tiny partial mass."""
    from otlab.estimators import classifier_js

    def diverged_classifier():
        r = classifier_js(cx, cy, lr=1.0, seed=13)
        return (f"js {r.js:.4g} (raw {r.js_raw:.3g} +- {r.std_error:.2g}), accuracy "
                f"{r.accuracy:.4f}, bound {r.js_lower_bound:.3g}, converged={r.converged}")

    crng = np.random.default_rng(13)
    cx, cy = crng.normal(size=(1000, 2)), crng.normal(size=(1000, 2)) + [0.0, 10.0]
    case("classifier_js(lr=1.0), two Gaussians 10 sd apart, 1000 + 1000", "about log 2 = "
         "0.693, or a warning", "js 0 (raw -1.68 +- 2.4) at accuracy 0.9983, no warning",
         diverged_classifier)
    rng = np.random.default_rng(11)
    u, v = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 0.5
    w = 1e-3
    a = np.append(np.full(40, (1 - w) / 40), w)
    for far in (1e160, 1e200):
        case(f"mmd (Gaussian) squared: a point of weight 1e-3 at {far:g} beside 40 and 40",
             f"{_light_far_mmd2(u, v, w):.9g} (dense double sum by differences)",
             "0.0761821 (1e160), 2e-06 (1e200)",
             lambda far=far: otlab.mmd(np.vstack([u, [[far, 0.0]]]), v, a=a, bandwidth=1.0,
                                       estimator="biased").squared)
    a0 = np.append(np.full(40, 1 / 40), 0.0)
    ref = otlab.sinkhorn_divergence(u, v)
    for far in (1e100, 1e300):
        case(f"sinkhorn_divergence: a point of weight 0 at {far:g} beside 40 and 40",
             f"{ref:.9g} (without it)", "ValueError: reg=... is below what float64 resolves",
             lambda far=far: otlab.sinkhorn_divergence(np.vstack([u, [[far, 0.0]]]), v, a=a0))

    def energy_far(far):
        a = torch.tensor(a0, requires_grad=True)  # kept for its gradient: the far point stays
        r = otlab.energy_distance(torch.tensor(np.vstack([u, [[far, 0.0]]])), torch.tensor(v),
                                  a=a)
        r.squared.backward()
        return f"D^2 {float(r.squared.detach()):.9g}, d/da at it {float(a.grad[-1]):.9g}"

    from scipy.spatial.distance import cdist

    p, q = a0[:-1], np.full(40, 1 / 40)
    # the first variation 2 sum q |z - v| - 2 sum p |z - u| tends to 2 e.(mean u - mean v) for
    # z = R e, R -> inf, less <p, dD^2/dp> (the normalisation of the weights)
    limit = 2 * (p @ u[:, 0] - q @ v[:, 0]) - (2 * p @ cdist(u, v) @ q - 2 * p @ cdist(u, u) @ p)
    energy_ref = (f"D^2 {float(otlab.energy_distance(u, v).squared):.9g} (without it), d/da "
                  f"{limit:.9g} (the first variation)")
    for far, before in ((1e100, "D^2 0.30300096, d/da at it 1.09275125e+85"),
                        (1e300, "D^2 0, d/da at it 1.11526268e+285")):
        case(f"energy_distance, weights requiring a gradient: a point of weight 0 at {far:g} "
             "beside 40 and 40", energy_ref, before, lambda far=far: energy_far(far))

    def sinkhorn_far(far):
        a = torch.tensor(a0, requires_grad=True)
        r = otlab.entropic.sinkhorn_samples(torch.tensor(np.vstack([u, [[far, 0.0]]])),
                                            torch.tensor(v), a=a, order=2)
        return (f"cost {float(r.cost.detach()):.6g}, marginal error {r.marginal_error:.2g}, "
                f"converged={r.converged}")

    plain = otlab.entropic.sinkhorn_samples(u, v, order=2)
    case("sinkhorn_samples(order=2), weights requiring a gradient: a point of weight 0 at 1e6 "
         "beside 40 and 40", f"cost {plain.cost:.6g} (without it; within tol 1e-4)",
         "cost 0.963086, marginal error 0.021, converged=True", lambda: sinkhorn_far(1e6))

    ra, rb, rM = rng.uniform(0.5, 1.5, 5), rng.uniform(0.5, 1.5, 4), rng.uniform(size=(5, 4))

    def unbalanced(s):
        r = otlab.unbalanced_sinkhorn(ra * s, rb * s, rM, 0.1, rho=1.0)
        return f"mass / s {r.mass / s:.9g}, objective {r.objective:.6g}, converged={r.converged}"

    for s, before in ((1e200, "objective inf, converged=True, no warning"),
                      (1e300, "FloatingPointError: sinkhorn diverged at the requested reg")):
        unit = otlab.unbalanced_sinkhorn(ra, rb, rM - 0.1 * math.log(s), 0.1, rho=1.0)
        case(f"unbalanced_sinkhorn(s a, s b, M, 0.1, rho=1), s = {s:g}",
             f"mass / s {unit.mass:.9g} (s a, s b = s x the problem at M - eps log s); "
             "objective beyond float64 (eps m_a m_b)", before, lambda s=s: unbalanced(s))

    srng = np.random.default_rng(15)  # its own draws: the cases below keep theirs
    sx, sy = srng.normal(size=(5, 2)), srng.normal(size=(4, 2)) + 0.5
    sa, sb = srng.uniform(0.5, 1.5, 5), srng.uniform(0.5, 1.5, 4)

    def unbalanced_samples(s):
        r = otlab.entropic.unbalanced_sinkhorn_samples(sx, sy, sa * s, sb * s, rho=1.0, reg=0.1,
                                                       tol=1e-6)
        return f"mass / s {r.mass / s:.9g}, objective {r.objective:.6g}, converged={r.converged}"

    for s, before in ((1e-300, "mass / s 1.13228077e-14, objective 9.91968e-300, converged=True"),
                      (1e100, "mass / s 133578.536, objective 2.36423e+200, converged=False "
                              "(tol below what float64 resolves)"),
                      (1e300, "FloatingPointError: sinkhorn diverged at the requested reg")):
        unit = otlab.unbalanced_sinkhorn(sa, sb, otlab.cost_matrix(sx, sy, order=2)
                                         - 0.1 * math.log(s), 0.1, rho=1.0)
        with np.errstate(over="ignore", invalid="ignore"):
            objective = s * unit.objective + 0.1 * sa.sum() * sb.sum() * (s * s - s)
        case(f"unbalanced_sinkhorn_samples(x, y, s a, s b, rho=1, reg=0.1), 5 + 4 points, "
             f"s = {s:g}", f"mass / s {unit.mass:.9g} (to tol 1e-6 of the masses), objective "
             + (f"{objective:.6g}" if math.isfinite(objective) else "beyond float64"),
             before, lambda s=s: unbalanced_samples(s))

    _massless_sinkhorn_cases()
    _unbalanced_divergence_cases()
    _weight_zero_cases()

    pa, pb, pM = rng.uniform(size=6), rng.uniform(size=5), rng.uniform(size=(6, 5))
    pa, pb = pa / pa.sum(), pb / pb.sum()

    def partial(s):
        r = otlab.partial_wasserstein(pa, pb, pM, mass=s)
        return f"moved / mass - 1 = {r.plan.sum() / s - 1:.2g}, converged={r.converged}"

    for s, before in ((1e-12, "moved / mass - 1 = -7.8e-05, converged=True"),
                      (1e-100, "moved / mass - 1 = -1 (nothing moved), converged=True")):
        case(f"partial_wasserstein(a, b, M, mass={s:g}), totals 1", "moved / mass - 1 = 0 "
             "(to round-off)", before, lambda s=s: partial(s))


def _weight_zero_cases() -> None:
    """A point of weight 0 far from the mass: exact (2-D and 1-D) and Sinkhorn at large reg."""
    rng = np.random.default_rng(17)  # its own draws: the other cases keep theirs
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2)) + 0.5
    b0 = np.append(np.full(4, 0.25), 0.0)
    for order, before in ((1, "1.994336166 (+3.9 %), converged=False"),
                          (2, "2.120820524 (+3.1 %), converged=False")):
        plain = otlab.emd_points(x, y, order=order).distance

        def far_exact(order=order):
            r = otlab.emd_points(x, np.vstack([y, [[1e300, -1e300]]]), None, b0, order=order)
            return f"{r.distance:.10g}, converged={r.converged}"

        case(f"emd_points(order={order}), 5 + 4 points and one of weight 0 at 1e300",
             f"{plain:.10g} (without it)", before, far_exact)
    u, v = rng.normal(size=7), rng.normal(size=5) + 0.3
    w1d = otlab.wasserstein(u, v, order=2)
    case("wasserstein(tensors, order=2), 1-D, a point of weight 0 at -1e300",
         f"{w1d:.10g} (without it)", "0.0 with no warning (0 * inf in the closed form)",
         lambda: "{:.10g}".format(otlab.wasserstein(
             torch.tensor(u), torch.tensor(np.append(v, -1e300)),
             b=torch.tensor(np.append(np.full(5, 0.2), 0.0)), order=2).item()))
    p, q = rng.normal(size=(12, 2)), rng.normal(size=(10, 2)) + 0.5
    s_plain = otlab.sinkhorn_divergence(p, q, order=2, reg=1e16)

    def far_divergence():
        a = torch.tensor(np.append(np.full(12, 1 / 12), 0.0), requires_grad=True)
        value = otlab.sinkhorn_divergence(torch.tensor(np.vstack([p, [[1e8, 1e8]]])),
                                          torch.tensor(q), a=a, order=2, reg=1e16)
        value.backward()
        return f"{float(value.detach()):.10g}, finite grad={bool(torch.isfinite(a.grad).all())}"

    xs, ys = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))

    def point_gradient(c):
        xt = torch.tensor(xs * np.sqrt(c), requires_grad=True)
        otlab.entropic.sinkhorn_samples(xt, torch.tensor(ys * np.sqrt(c)), reg=0.01 * c,
                                        order=2).cost.backward()
        return xt.grad.numpy() / np.sqrt(c)

    unit = point_gradient(1.0)
    case("sinkhorn_samples(order=2) on tensors, the points and reg scaled by 0.1 and 0.01: "
         "gradient in the points", f"the unscaled one times 0.1 (largest entry "
         f"{np.abs(unit).max():.6g})", "exactly 0, no warning (torch.ldexp's gradient)",
         lambda: "largest relative difference to the unscaled gradient "
                 f"{np.abs(point_gradient(0.01) - unit).max() / np.abs(unit).max():.2g}")
    collapsed = otlab.entropic.sinkhorn_samples(xs, ys, reg=0.01, order=2).cost
    case("sinkhorn_samples(order=2, reg=0.01), 6 + 5 points and one of weight 0 at "
         "(1e100, 1e100)", f"{collapsed:.6g} (without it) or a ValueError",
         "0.0, converged=True, no warning",
         lambda: otlab.entropic.sinkhorn_samples(np.vstack([xs, [[1e100, 1e100]]]), ys,
                                                 a=np.append(np.ones(6), 0.0), reg=0.01,
                                                 order=2).cost)
    case("sinkhorn_divergence(order=2, reg=1e16), weights requiring a gradient: a point of "
         "weight 0 at (1e8, 1e8)", f"{s_plain:.10g} (without it)",
         "3.367676494 (+169 %), no warning", far_divergence)


def _massless_sinkhorn_cases() -> None:
    """Sinkhorn (order 2) beside a point of weight 0 3e6..2^26 away whose weight requires a
    gradient: the value without it, the derivative in its weight its first variation."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(16)  # its own draws: the other cases keep theirs
    u, v = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 0.5
    a0 = np.append(np.full(40, 1 / 40), 0.0)
    plain = otlab.entropic.sinkhorn_samples(u, v, order=2)

    def first_variation(z):  # f(z) - <a, f>, f(z) the soft-min of the potential g without it
        cost = ((z - v) ** 2).sum(1)
        return (-plain.reg * logsumexp((plain.g - cost) / plain.reg, b=np.full(40, 1 / 40))
                - a0[:-1] @ plain.f)

    def run(fn, far):
        a = torch.tensor(a0, requires_grad=True)
        value = fn(torch.tensor(np.vstack([u, [[far, 0.0]]])), torch.tensor(v), a)
        value.backward()
        return f"{float(value.detach()):.6g}, d/da at it {float(a.grad[-1]):.10g}"

    before = ("ValueError: reg=0.0174933 is below what float64 resolves for these costs: costs "
              "up to 1e+14 carry round-off of about 0.022")
    z = np.array([1e7, 0.0])
    case("sinkhorn_samples(order=2).cost, weights requiring a gradient: a point of weight 0 at "
         "1e7 beside 40 and 40", f"{plain.cost:.6g} (without it; within tol 1e-4), d/da "
         f"{first_variation(z):.10g} (its first variation)", before,
         lambda: run(lambda x, y, a: otlab.entropic.sinkhorn_samples(x, y, a=a, order=2).cost,
                     1e7))
    case("sinkhorn_divergence(order=2), weights requiring a gradient: a point of weight 0 at "
         "1e7 beside 40 and 40", f"{otlab.sinkhorn_divergence(u, v, order=2):.6g} (without it)",
         before, lambda: run(lambda x, y, a: otlab.sinkhorn_divergence(x, y, a=a, order=2), 1e7))
    w2 = otlab.wasserstein(u, v, order=2, method="sinkhorn")
    case("wasserstein(order=2, method='sinkhorn'), weights requiring a gradient: a point of "
         "weight 0 at 3e7 beside 40 and 40", f"{w2:.6g} (without it), d/da "
         f"{first_variation(np.array([3e7, 0.0])) / (2 * w2):.6g} (its first variation / 2W)",
         before.replace("1e+14", "9e+14").replace("0.022", "0.2"),
         lambda: run(lambda x, y, a: otlab.wasserstein(x, y, a=a, order=2, method="sinkhorn"),
                     3e7))


def _unbalanced_divergence_cases() -> None:
    """unbalanced_sinkhorn_divergence at masses near the ends of the float range."""
    rng = np.random.default_rng(17)  # its own draws: the other cases keep theirs
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    a, b = rng.uniform(0.5, 1.5, 6), rng.uniform(0.5, 1.5, 5)

    def at_shifted_cost(shift):  # S(a, b; |x - y| - shift) from three histogram problems
        def dual(p, q, wp, wq):
            return otlab.unbalanced_sinkhorn(wp, wq, otlab.cost_matrix(p, q) - shift, 0.1,
                                             rho=1.0, tol=1e-12, max_iter=100000).dual
        return (dual(x, y, a, b) - 0.5 * dual(x, x, a, a) - 0.5 * dual(y, y, b, b)
                + 0.05 * (a.sum() - b.sum()) ** 2)

    for s, before in ((1e-300, "4.24399158e-314 (subnormal)"),
                      (1e100, "3.45239695e+183, tol below what float64 resolves"),
                      (1e300, "FloatingPointError: sinkhorn diverged at the requested reg")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            unit = at_shifted_cost(0.1 * math.log(s))
        with np.errstate(over="ignore"):
            expected = s * unit
        case(f"unbalanced_sinkhorn_divergence(x, y, s a, s b, rho=1, reg=0.1, tol=1e-9), 6 + 5 "
             f"points, s = {s:g}", (f"{expected:.6g}" if math.isfinite(expected) else "beyond "
                                    "float64")
             + f" (s x {unit:.6g}, the value at unit mass on the cost lowered by eps log s"
             + ("; its terms near 1, so that is round-off)" if abs(unit) < 1e-9 else ")"),
             before, lambda s=s: otlab.entropic.unbalanced_sinkhorn_divergence(
                 x, y, a * s, b * s, rho=1.0, reg=0.1, tol=1e-9))


def critic_edge_cases() -> None:
    """Neural and exact critics at the ends of the float range and far from their data."""
    rng = np.random.default_rng(14)
    u = np.round(rng.normal(size=(40, 2)) * 16) / 16
    v = np.round((rng.normal(size=(30, 2)) + [2.0, 0.0]) * 16) / 16
    small = {"hidden": (16, 16), "steps": 200, "batch_size": 64}
    base = estimate_w1(u, v, **small).estimate
    c = 2.0**1021
    case("estimate_w1(lipschitz='lp'), 40 + 30 points x 2^1021 (about 2e307)",
         f"{c * base:.6g} (2^1021 x at scale 1)",
         "CriticDivergedError: 'the loss became NaN ... Lower lr' (the frame's mean overflowed)",
         lambda: estimate_w1(u * c, v * c, **small).estimate)
    critic = otlab.exact_critic(u, v)
    far = np.array([[1e300, 0.0]])
    case("exact_critic(40 + 30 points of size 1) at (1e300, 0)",
         "1e+300 (min_j |z - y_j| - g_j, to round-off)",
         "IndexError: index 30 is out of bounds (the k-d tree's squared distances overflowed)",
         lambda: float(critic(far)[0]))
    a0 = np.append(np.ones(len(u)), 0.0)
    case("exact_critic gap: a point of weight 0 at (1e100, 0) beside 40 + 30 points",
         f"{critic.w1:.9g} (W_1; the critic without it)",
         "0.0 (the critic 0 everywhere), no warning",
         lambda: otlab.exact_critic(np.vstack([u, [[1e100, 0.0]]]), v, a=a0).gap)
    from otlab.critics import lipschitz_audit

    unit = lipschitz_audit(critic, u, v, n_pairs=256).max_slope
    case("lipschitz_audit max_slope, exact critic, data + 1e14 (a grid of 1/16: exact)",
         f"{unit:.6g} (at offset 0)", "0 (every pair closer than 1e-12 x 1e14 left out)",
         lambda: lipschitz_audit(otlab.exact_critic(u + 1e14, v + 1e14), u + 1e14, v + 1e14,
                                 n_pairs=256).max_slope)
    ub, vb = u * 16 * 2.0**300, v * 16 * 2.0**300  # integers x 2^300: + 1e100 is exact
    far_base = estimate_w1(ub, vb, lipschitz="ctransform", **small).estimate
    case("estimate_w1(lipschitz='ctransform'), 40 + 30 points on a grid of 2^300, + 1e100",
         f"{far_base:.17g} (the same at offset 0: the translation is exact)",
         "6.2025972038509043e+91 (last bits moved here; 7e-4 off on 40 + 30 other points)",
         lambda: f"{estimate_w1(ub + 1e100, vb + 1e100, lipschitz='ctransform', **small).estimate:.17g}")
    case("estimate_w1(lipschitz='lp'), every point of both samples given twice",
         f"{base:.9g} (the same empirical measure, given once)", "1.32584 (6.2 % off)",
         lambda: estimate_w1(np.vstack([u, u]), np.vstack([v, v]), **small).estimate)
    ct = estimate_w1(u, v, lipschitz="ctransform", **small).critic
    case("estimate_w1(lipschitz='ctransform').critic at (1e30, 0) (data of size 1)",
         "about -1e30 (1-Lipschitz: within 1e30 + 3 of its value at the data)",
         "-inf (float32 distances overflowed)", lambda: float(ct(np.array([[1e30, 0.0]]))[0]))
    def generator_gradient():
        torch.manual_seed(0)
        generator = torch.nn.Linear(2, 2).double()
        estimate_w1(lambda n, r: generator(torch.as_tensor(r.normal(size=(n, 2)))),
                    lambda n, r: r.normal(size=(n, 2)) + [2.0, 0.0], hidden=(8,), steps=20,
                    batch_size=32, n_eval=64, audit=False)
        grads = [p.grad for p in generator.parameters()]
        return ("no gradient" if all(g is None for g in grads) else
                f"gradient of norm {float(sum(g.norm() ** 2 for g in grads) ** 0.5):.3g}")

    case("estimate_w1(sampler = a generator network, a sampler): the generator's .grad",
         "no gradient (the critic's steps stay out of the generator)",
         "gradient of norm 2.19 (the critic's steps wrote into it)", generator_gradient)
    case("estimate_w1(...).critic([[nan, 0]])", "a ValueError naming z (as exact_critic's)",
         "array([nan]), no warning", lambda: ct(np.array([[np.nan, 0.0]])))
    case("exact_critic(x, y)(int64 tensor [[100000001]]) for x, y near 1e8",
         "0 (its value at 100000001.0)", "1 (its value at 1e8: read as float32)",
         lambda: float(otlab.exact_critic([[1e8], [1e8 + 2]], [[1e8 + 1], [1e8 + 5]])(
             torch.tensor([[100000001]]))))
    def beyond_the_frame():
        tiny_critic = estimate_w1(u * 1e-300, v * 1e-300, hidden=(8,), steps=5,
                                  audit=False).critic
        return tiny_critic(np.array([[1e10, 0.0]]))

    case("estimate_w1(data of size 1e-300).critic at (1e10, 0)",
         "a ValueError naming z (|z - c| / s overflows float64)", "array([nan]), no error",
         beyond_the_frame)
    tiny = {"hidden": (4,), "steps": 2}
    case("estimate_w1(penalty=1e40)", "a ValueError naming penalty",
         "CriticDivergedError: 'the loss became NaN ... Lower lr'",
         lambda: estimate_w1(u, v, penalty=1e40, **tiny))
    case("estimate_w1(betas=(0.5,))", "a ValueError naming betas", "IndexError",
         lambda: estimate_w1(u, v, betas=(0.5,), **tiny))
    case("estimate_w1(lr=1e39)", "a ValueError naming lr",
         "RuntimeError: value cannot be converted to type float without overflow",
         lambda: estimate_w1(u, v, lr=1e39, **tiny))


def sharded_cases() -> None:
    """The torch.distributed Sinkhorn divergence on a Gloo group of one process (the same
    gathered problem as on many): far points of weight 0."""
    import torch.distributed as dist

    from otlab.distributed import sharded_sinkhorn_divergence

    rng = np.random.default_rng(12)
    u, v = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 0.5
    a0 = np.append(np.full(40, 1 / 40), 0.0)
    ref = otlab.sinkhorn_divergence(u, v)

    def sharded(far):
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        try:
            return sharded_sinkhorn_divergence(np.vstack([u, [[far, 0.0]]]), v, a_local=a0)
        finally:
            dist.destroy_process_group()

    for far, before in ((1e12, "0.660914 (0.09% off), no warning"),
                        (1e50, "ValueError: reg=... is below what float64 resolves")):
        case(f"sharded_sinkhorn_divergence: a point of weight 0 at {far:g} beside 40 and 40",
             f"{ref:.9g} (one process, without it)", before, lambda far=far: sharded(far))


def _light_far_mmd2(u, v, w) -> float:
    """Biased Gaussian MMD^2 (bandwidth 1) of ``u`` with a point of weight ``w`` far away, and
    ``v``: the far point's only kernel value is its own, 1."""
    from scipy.spatial.distance import cdist

    def k(p, q):
        return np.exp(-cdist(p, q) ** 2 / 2)

    a, b = np.full(len(u), (1 - w) / len(u)), np.full(len(v), 1 / len(v))
    return float(a @ k(u, u) @ a + w * w + b @ k(v, v) @ b - 2 * a @ k(u, v) @ b)


def _tally(checks) -> str:
    """``checks``: ``(converged, right)`` per problem; how many are wrong but converged."""
    wrong = exact = unconverged = 0
    for converged, right in checks:
        wrong += converged and not right
        exact += converged and right
        unconverged += not converged
    return f"{wrong} wrong with converged=True, {exact} exact, {unconverged} converged=False"


def _quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _wide_cost_matrices() -> str:
    """Uniform 5 x 5 problems whose costs span many orders of magnitude, against brute force."""
    import itertools
    import math

    rng = np.random.default_rng(0)
    n = 5
    perms = list(itertools.permutations(range(n)))

    def checks():
        for trial in range(400):
            lo, hi = sorted(rng.integers(-300, 300, 2))
            M = 10.0 ** rng.uniform(lo, hi, (n, n))
            if trial % 3 == 0:
                M *= rng.choice([-1, 1], (n, n))
            best, size = min((math.fsum(M[range(n), p]) / n,
                              math.fsum(abs(M[range(n), p])) / n) for p in perms)
            r = _quietly(otlab.emd, np.full(n, 1 / n), np.full(n, 1 / n), M)
            yield r.converged, abs(r.cost - best) <= 1e-9 * size

    return _tally(checks())


def _far_light_pair_problems(places):
    """20 points a side of size 1 (``x``, ``y``) and, for each place and weight ``w``, the two
    clouds with a pair one apart there: ``(x, y, [(x_far, y_far, a, w), ...])``."""
    import itertools

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 0.5
    problems = [(np.vstack([x, [[far, 0.0]]]), np.vstack([y, [[far, 1.0]]]),
                 np.append(np.full(20, (1 - w) / 20), w), w)
                for far, w in itertools.product(places, (1e-3, 1e-12, 1e-100, 1e-300))]
    return x, y, problems


def _far_light_pair_matrices() -> str:
    """The problems of :func:`_far_light_pairs` (6 places to 1e150) as cost matrices for emd."""
    x, y, problems = _far_light_pair_problems((1e5, 1e10, 1e20, 1e50, 1e100, 1e150))

    def checks():
        for order in (1, 2):
            base = otlab.emd_points(x, y, order=order).cost
            for xf, yf, a, w in problems:
                r = _quietly(otlab.emd, a, a, otlab.cost_matrix(xf, yf, order=order))
                expected = (1 - w) * base + w
                yield r.converged, abs(r.cost - expected) <= 1e-9 * expected

    return _tally(checks())


def _far_light_pairs() -> str:
    """A pair of weight ``w`` one apart at ``far``: 7 places x 4 weights x 2 orders x 2 solvers."""
    import itertools

    x, y, problems = _far_light_pair_problems((1e10, 1e20, 1e50, 1e100, 1e160, 1e200, 1e300))

    def checks():
        for order, solver in itertools.product((1, 2), ("sparse", "dense")):
            base = otlab.emd_points(x, y, order=order, solver=solver).cost
            for xf, yf, a, w in problems:
                r = _quietly(otlab.emd_points, xf, yf, a, a, order=order, solver=solver)
                expected = (1 - w) * base + w
                yield r.converged, abs(r.cost - expected) <= 1e-9 * expected

    return _tally(checks())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-slow", action="store_true",
                   help="leave out the 20000-point exact case and the Sinkhorn timing cases")
    p.add_argument("--out", type=Path, default=None,
                   help="report folder (default benchmarks/reports)")
    p.add_argument("--results", type=Path, default=None,
                   help="JSON-lines results (default: <out>/adversarial_cases.jsonl); a case "
                   "already there is not run again")
    p.add_argument("--again", action="store_true",
                   help="measure every case anew (the results file is started afresh)")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: rewrite the report from the results")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    groups = [offset_cases, epsilon_and_precision_cases, divergence_cases, extreme_value_cases,
              budget_cases, critic_cases, knn_kl_cases, api_cases, entry_point_cases,
              estimator_cases, critic_edge_cases, sharded_cases]
    if not a.skip_slow:
        groups += [large_exact_case, sinkhorn_cliff_case]
    CASES.clear()
    for group in groups:
        group()  # registers its cases
    out = a.out or REPORTS
    results = a.results or out / "adversarial_cases.jsonl"
    if a.again and not a.report_only:
        results.unlink(missing_ok=True)
    rows = run_grid([{"case": name} for name in CASES], run_case, results,
                    key=lambda r: r["case"], report_only=a.report_only)
    loads = [r["load"] for r in rows]
    load = f"{min(loads):.1f} to {max(loads):.1f}" if loads else "not recorded"
    intro = ("Each row is recomputed by this script; **now** is what otlab returned in this run, "
             "**before** what was observed when the case was found. One torch thread; load "
             f"average after the cases {load} (2 cores), so the wall times of the timing rows "
             "are inflated by other work.\n\n")
    write_report("adversarial_cases", "Adversarial inputs: what otlab returns now", device="cpu",
                 sections=[("Cases", intro + markdown_table([{k: r[k] for k in COLUMNS}
                                                             for r in rows]))], out_dir=out,
                 script="python -m benchmarks.adversarial_cases" + (" --skip-slow" if a.skip_slow
                                                            else ""))


if __name__ == "__main__":
    main()
