"""InfoGAN: codes in the generator, the Q head, the information term, evaluation, resume."""

import math

import numpy as np
import pytest
import torch

from otlab.gan import train
from otlab.gan.families.infogan import InfoCritic, InfoGAN, InfoGANConfig, info_terms
from otlab.gan.models import mlp

TINY = dict(hidden=16, depth=1, batch_size=32, eval_samples=80, progress=False)


def _family(**changes):
    torch.manual_seed(0)
    cfg = InfoGANConfig.for_loss(changes.pop("loss", "gan-ns"), **{**TINY, **changes})
    family = InfoGAN(cfg)
    return family, *family.build_models()


@pytest.mark.parametrize("data, arch, k, n_cont, dim", [
    ("8gaussians", "mlp", 8, 0, 2), ("25gaussians", "mlp", 5, 2, 2), ("digits", "conv", 10, 1, 64),
])
def test_models_read_noise_and_codes_and_the_head_reads_them_back(data, arch, k, n_cont, dim):
    family, g, d = _family(data=data, arch=arch, n_codes=k, n_continuous=n_cont)
    z, codes, cont = family.generator_batch()
    assert z.shape == (32, family.config.latent_dim + n_cont) and cont.shape == (32, n_cont)
    assert codes.min() >= 0 and codes.max() < k
    x = g(z, codes)
    logits, mean, log_std = d.q(x)
    assert x.shape == (32, dim) and d(x).shape == (32, 1)
    assert logits.shape == (32, k) and mean.shape == log_std.shape == (32, n_cont)
    for real, fake, c, u, alpha in family.critic_batches(g, 2):
        assert real.shape == fake.shape == (32, dim) and c.shape == (32,) and u.shape[1] == n_cont


def test_the_code_changes_what_the_generator_draws():
    _, g, _ = _family()
    z = torch.randn(50, 2)
    assert (g(z, torch.zeros(50, dtype=torch.long)) - g(z, torch.full((50,), 5))).abs().min() > 0


def test_the_q_head_shares_the_critics_body():
    _, _, d = _family()
    body = {id(p) for p in d.body.parameters()}
    assert body and body <= {id(p) for p in d.parameters()}
    x = torch.randn(8, 2)
    (grad,) = torch.autograd.grad(d.q(x)[0].sum(), d.body[0].weight)
    assert grad.abs().sum() > 0


def test_the_continuous_nll_is_the_gaussian_log_likelihood_and_a_blind_head_gives_log_k():
    family, g, d = _family(n_codes=4, n_continuous=2)
    z, codes, cont = family.generator_batch()
    fake = g(z, codes)
    ce, nll = info_terms(d, fake, codes, cont)
    logits, mean, log_std = d.q(fake)
    normal = torch.distributions.Normal(mean, log_std.exp())
    torch.testing.assert_close(nll, -normal.log_prob(cont).sum(dim=1).mean())
    torch.testing.assert_close(ce, torch.nn.functional.cross_entropy(logits, codes))
    blind = InfoCritic(mlp(2, 1, hidden=4, depth=1), n_codes=4)
    for p in blind.q_head.parameters():
        torch.nn.init.zeros_(p)
    ce, _ = info_terms(blind, fake, codes, cont[:, :0])
    torch.testing.assert_close(ce, torch.tensor(math.log(4)))


def test_both_objectives_carry_the_information_term():
    family, g, d = _family(info_weight=1.0)
    batch = family.critic_batches(g, 1)[0]
    with_info, _ = family.critic_loss(d, *batch)
    gen_batch = family.generator_batch()
    g_with = family.generator_loss(g, d, *gen_batch)
    plain = InfoGAN(family.config.replace(info_weight=0.0))
    without, _ = plain.critic_loss(d, *batch)
    g_without = plain.generator_loss(g, d, *gen_batch)
    ce = info_terms(d, batch[1], batch[2], batch[3])[0]
    torch.testing.assert_close(with_info - without, ce)
    fake = g(gen_batch[0], gen_batch[1])
    torch.testing.assert_close(g_with - g_without, info_terms(d, fake, *gen_batch[1:])[0])


def test_evaluation_uses_every_code_value_equally_often_and_bounds_by_log_k():
    family, g, d = _family()
    evaluation = family.evaluate(g, d, 0)
    codes = np.rint(evaluation.fake[:, -1].numpy()).astype(int)
    np.testing.assert_array_equal(np.bincount(codes), [10] * 8)
    assert float(evaluation.fields["mi_lower_bound"]) <= math.log(8)
    row = family.metrics(evaluation.real.numpy(), evaluation.fake.numpy())
    assert 0.0 <= row["mutual_information"] <= math.log(8) + 1e-12
    assert {"modes_owned_fraction", "code_purity", "mean_code_w1", "w1_code_7"} <= set(row)


@pytest.mark.parametrize("changes, error, message", [
    ({"n_codes": 1}, ValueError, "n_codes must be >= 2"),
    ({"n_continuous": -1}, ValueError, "n_continuous must be an integer >= 0; got -1"),
    ({"info_weight": -1.0}, ValueError, "info_weight must be finite and >= 0"),
    ({"data": "swissroll"}, ValueError, "data must be one of"),
])
def test_settings_without_a_meaning_are_refused_naming_them(changes, error, message):
    with pytest.raises(error, match=message):
        InfoGANConfig(**changes)


RESUME = dict(loss="wgan-gp", n_critic=2, eval_every=3, log_every=3, checkpoint_every=3,
              seed=2, n_continuous=1, **TINY)


def test_resume_from_half_way_ends_bitwise_where_the_uninterrupted_run_ends(tmp_path):
    full = train(InfoGANConfig.for_loss(iters=6, out=tmp_path / "full", **RESUME))
    train(InfoGANConfig.for_loss(iters=3, out=tmp_path / "half", **RESUME))
    resumed = train(InfoGANConfig.for_loss(iters=6, out=tmp_path / "half", resume=True,
                                           **RESUME))
    assert resumed == full
    a, b = (torch.load(tmp_path / p / "checkpoint.pt", weights_only=True) for p in ("full", "half"))
    for part in ("generator", "critic", "opt_d"):
        flat_a, flat_b = (torch.nn.utils.parameters_to_vector(
            [t.float() for t in _tensors(s[part])]) for s in (a, b))
        torch.testing.assert_close(flat_a, flat_b, rtol=0, atol=0)


def _tensors(state):
    if isinstance(state, torch.Tensor):
        return [state.reshape(-1)]
    if isinstance(state, dict):
        return [t for v in state.values() for t in _tensors(v)]
    if isinstance(state, (list, tuple)):
        return [t for v in state for t in _tensors(v)]
    return []


def test_a_short_run_makes_the_code_readable():
    # 600 iterations, seeds 0..4: exact I(code; mode) 1.82..2.08, L_I 2.07..2.08 (log 8 = 2.079)
    cfg = InfoGANConfig.for_loss("gan-ns", data="8gaussians", iters=600, hidden=32, depth=2,
                                 batch_size=64, lr_g=2e-3, lr_d=2e-3, eval_every=600,
                                 eval_samples=256, progress=False, seed=1)
    first, last = (r for r in train(cfg) if r["exact_w1"] is not None)
    assert abs(first["mi_lower_bound"]) < 0.1 and first["mutual_information"] < 0.5
    assert last["mi_lower_bound"] > 1.5 and last["mutual_information"] > 1.2
