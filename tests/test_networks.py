"""The shared torch building blocks: MLPs, spectral normalisation, clipping, seeding."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import parametrize

from otlab import networks
from otlab.networks import (ExactSpectralNorm, clip_weights_, freeze_spectral_norm, linear_layers,
                            mlp, seeded, spectral_normalise, spectral_norms)


def test_mlp_layers_alternate_linear_and_activation_with_the_given_widths():
    net = mlp(3, 2, (5, 7), activation="tanh")
    assert [type(m) for m in net] == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert [(m.in_features, m.out_features) for m in linear_layers(net)] == [(3, 5), (5, 7), (7, 2)]


def test_mlp_draws_its_parameters_in_the_order_of_plain_torch_layers():
    """Shared builder, same numbers: the networks of otlab.gan, the estimators and the
    demos were built layer by layer from torch's RNG before it existed."""
    torch.manual_seed(3)
    expected = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    torch.manual_seed(3)
    net = mlp(2, 1, (8, 8))
    for a, b in zip(net.parameters(), expected.parameters()):
        assert torch.equal(a, b)


def test_mlp_rejects_an_unknown_activation_naming_the_choices():
    with pytest.raises(ValueError, match=r"activation must be one of 'relu'.*got 'sigmoid'"):
        mlp(2, 1, (4,), activation="sigmoid")


def test_seeded_block_is_reproducible_and_leaves_the_global_generator_alone():
    torch.manual_seed(11)
    before = torch.random.get_rng_state()
    with seeded(5):
        a = mlp(2, 1, (4,))
    assert torch.equal(torch.random.get_rng_state(), before)
    with seeded(5):
        b = mlp(2, 1, (4,))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_clip_weights_clamps_every_parameter_to_the_box():
    net = mlp(2, 1, (16,))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(100)
    clip_weights_(net.parameters(), 0.05)
    assert max(float(p.detach().abs().max()) for p in net.parameters()) == pytest.approx(0.05)


@pytest.mark.parametrize("shape", [(64, 64), (64, 2), (1, 64), (3, 50)])
def test_exact_spectral_norm_gives_unit_norm_and_the_gradient_of_w_over_sigma(shape):
    torch.manual_seed(0)
    raw = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    out = ExactSpectralNorm()(raw)
    np.testing.assert_allclose(float(torch.linalg.matrix_norm(out.detach(), ord=2)), 1.0,
                               rtol=1e-12)
    probe = torch.randn(*shape, dtype=torch.float64)
    (grad,) = torch.autograd.grad((out * probe).sum(), raw)
    (reference,) = torch.autograd.grad(
        (raw / torch.linalg.matrix_norm(raw, ord=2) * probe).sum(), raw)
    np.testing.assert_allclose(grad.numpy(), reference.numpy(), rtol=1e-8, atol=1e-12)


def test_power_iteration_spectral_norm_can_exceed_one_and_freezing_fixes_it():
    """One power iteration from a random vector underestimates sigma_max: the
    normalised weight has norm above one until the iteration converges."""
    torch.manual_seed(1)
    net = mlp(2, 1, (128, 128), spectral_norm="power")
    net.eval()  # no further power iteration
    assert max(spectral_norms(net)) > 1.0
    freeze_spectral_norm(net)
    norms = spectral_norms(net)
    assert max(norms) <= 1.0 and min(norms) > 1.0 - 1e-5
    assert not any(parametrize.is_parametrized(m) for m in net.modules())


def test_spectral_normalise_passes_other_modules_through_and_rejects_unknown_methods():
    layers = spectral_normalise([nn.Linear(2, 3), nn.ReLU()], method="exact")
    assert parametrize.is_parametrized(layers[0], "weight") and type(layers[1]) is nn.ReLU
    with pytest.raises(ValueError, match="method must be 'power' or 'exact'; got 'svd'"):
        spectral_normalise([nn.Linear(2, 3)], method="svd")


def test_every_name_in_all_exists():
    for name in networks.__all__:
        assert hasattr(networks, name)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**16), groups=st.integers(1, 5), size=st.sampled_from([1, 2, 3, 4]),
       rows=st.integers(1, 4))
def test_groupsort_permutes_each_group_into_descending_order_and_keeps_norms(
        seed, groups, size, rows):
    """Each group of the output is its input group sorted, largest first; a permutation
    keeps the Euclidean norm, and the input gradient of any unit norm output weight has
    norm 1 (gradient-norm preserving)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, groups * size, generator=gen, dtype=torch.float64)
    out = networks.GroupSort(size)(x)
    grouped_in, grouped_out = x.unflatten(-1, (groups, size)), out.unflatten(-1, (groups, size))
    expected = torch.sort(grouped_in, dim=-1, descending=True).values
    assert torch.equal(grouped_out, expected)
    assert (grouped_out[..., :-1] >= grouped_out[..., 1:]).all()
    # the same numbers summed in another order: within 2.9e-16 relative over 2000 draws;
    # 1e-10 leaves over 300 000x
    np.testing.assert_allclose(out.norm(dim=1).numpy(), x.norm(dim=1).numpy(), rtol=1e-10)
    w = torch.randn(groups * size, generator=gen, dtype=torch.float64)
    w = w / w.norm()
    z = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((networks.GroupSort(size)(z) @ w).sum(), z)
    # a permutation of w: norm 1 within 2.2e-16 over 500 draws; 1e-10 leaves over 400 000x
    np.testing.assert_allclose(grad.norm(dim=1).numpy(), 1.0, rtol=1e-10)


def test_groupsort_of_pairs_is_maxmin():
    x = torch.tensor([[1.0, 3.0, -2.0, -5.0], [0.5, 0.5, 7.0, -7.0]])
    expected = torch.tensor([[3.0, 1.0, -2.0, -5.0], [0.5, 0.5, 7.0, -7.0]])
    assert torch.equal(networks.GroupSort()(x), expected)


def test_groupsort_rejects_a_width_that_is_not_a_multiple_of_its_group():
    with pytest.raises(ValueError, match=r"GroupSort\(2\) needs a multiple of 2 units; got 3"):
        networks.GroupSort()(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"group_size must be a positive integer; got 0"):
        networks.GroupSort(0)
    with pytest.raises(ValueError, match=r"every hidden width must be even; got hidden=\(4, 5\)"):
        mlp(2, 1, (4, 5), activation="groupsort")


def test_mlp_with_groupsort_puts_maxmin_after_every_hidden_layer():
    net = mlp(3, 1, (4, 6), activation="groupsort")
    assert [type(m) for m in net] == [nn.Linear, networks.GroupSort, nn.Linear,
                                      networks.GroupSort, nn.Linear]
    assert all(m.group_size == 2 for m in net if isinstance(m, networks.GroupSort))
