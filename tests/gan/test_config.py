import pytest
from hypothesis import given
from hypothesis import strategies as st

from otlab.gan import LOSSES, TrainConfig


def test_paper_defaults_wgan_rmsprop_clip_and_wgan_gp_adam():
    wgan = TrainConfig.for_loss("wgan")
    gp = TrainConfig.for_loss("wgan-gp")
    assert (wgan.optimizer, wgan.lr_d, wgan.clip, wgan.n_critic) == ("rmsprop", 5e-5, 0.01, 5)
    assert (gp.optimizer, gp.lr_d, gp.betas, gp.penalty, gp.n_critic) == (
        "adam", 1e-4, (0.0, 0.9), 10.0, 5)
    assert (gp.hidden, gp.depth, gp.batch_size) == (512, 3, 256)


def test_overrides_win_over_paper_defaults():
    cfg = TrainConfig.for_loss("wgan", data="25gaussians", lr_d=1e-3, n_critic=2)
    assert (cfg.lr_d, cfg.n_critic, cfg.data) == (1e-3, 2, "25gaussians")


def test_config_is_frozen():
    cfg = TrainConfig()
    with pytest.raises(AttributeError):
        cfg.iters = 3


def test_unknown_loss_lists_the_valid_losses():
    with pytest.raises(ValueError, match="loss must be one of") as info:
        TrainConfig(loss="lsgan")
    assert all(repr(name) in str(info.value) for name in LOSSES)


def test_unknown_data_lists_the_valid_data_sets():
    with pytest.raises(ValueError, match="data must be one of.*'8gaussians'.*'digits'"):
        TrainConfig.for_loss("gan", data="mnist")


@pytest.mark.parametrize("name, value", [("lr_d", 0.0), ("lr_g", -1e-4), ("iters", 0),
                                         ("batch_size", -3), ("n_critic", 0)])
def test_non_positive_settings_raise_naming_the_argument(name, value):
    with pytest.raises(ValueError, match=name):
        TrainConfig(**{name: value})


def test_unknown_override_is_a_type_error():
    with pytest.raises(TypeError, match="learning_rate"):
        TrainConfig.for_loss("wgan-gp", learning_rate=1e-3)


def test_cuda_graph_never_used_on_cpu():
    assert not TrainConfig(device="cpu", cuda_graph=True).use_cuda_graph
    assert TrainConfig(device="cuda").use_cuda_graph
    assert not TrainConfig(device="cuda", cuda_graph=False).use_cuda_graph


@pytest.mark.parametrize("data", ["8gaussians", "parallel_lines", "swissroll"])
def test_conv_arch_on_2d_data_raises_naming_arch_and_the_reason(data):
    with pytest.raises(ValueError, match=r"arch='conv' needs data='digits'.*8x8 image") as info:
        TrainConfig.for_loss("wgan-gp", data=data, arch="conv")
    assert repr(data) in str(info.value)


def test_unknown_arch_lists_the_valid_archs():
    with pytest.raises(ValueError, match=r"arch must be one of 'mlp', 'conv'; got 'resnet'"):
        TrainConfig(data="digits", arch="resnet")


def test_arch_defaults_to_mlp_and_conv_is_accepted_for_digits():
    assert TrainConfig().arch == "mlp"
    cfg = TrainConfig.for_loss("wgan-sn", data="digits", arch="conv")
    assert (cfg.arch, cfg.to_dict()["arch"], cfg.latent_dim) == ("conv", "conv", 16)


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-lp"])
def test_compiling_the_conv_critic_penalty_is_refused_up_front(loss):
    # the penalty of a conv critic is a double backward, which torch.compile rejects
    with pytest.raises(ValueError, match=r"arch='conv'.*cannot use compile=True.*double"):
        TrainConfig.for_loss(loss, data="digits", arch="conv", compile=True)
    assert TrainConfig.for_loss("wgan-sn", data="digits", arch="conv", compile=True).compile
    assert TrainConfig.for_loss(loss, data="digits", compile=True).compile  # MLP: written out


def test_linear_decay_scales_both_rates_to_zero_over_the_budget():
    cfg = TrainConfig(iters=10, lr_decay="linear")
    assert cfg.lr_scale(1) == 1.0 and cfg.lr_scale(10) == pytest.approx(0.1)
    assert TrainConfig(iters=10).lr_scale(10) == 1.0


@given(st.integers(1, 10**7), st.data())
def test_linear_decay_rate_at_iteration_t_is_one_minus_the_elapsed_fraction(iters, data):
    t = data.draw(st.integers(1, iters))
    cfg = TrainConfig(iters=iters, lr_decay="linear")
    assert cfg.lr_scale(t) == 1.0 - (t - 1) / iters  # the closed form, to the last bit
    assert 0 < cfg.lr_scale(iters) <= cfg.lr_scale(t) <= cfg.lr_scale(1) == 1.0
    assert TrainConfig(iters=iters).lr_scale(t) == 1.0  # off by default


def test_linear_decay_with_a_cuda_graph_is_refused_naming_both():
    with pytest.raises(ValueError, match=r"lr_decay='linear' needs cuda_graph=False"):
        TrainConfig(device="cuda", lr_decay="linear")
    assert TrainConfig(device="cuda", cuda_graph=False, lr_decay="linear").lr_decay == "linear"


def test_unknown_lr_decay_lists_the_choices():
    with pytest.raises(ValueError, match="lr_decay must be one of 'none', 'linear'"):
        TrainConfig(lr_decay="cosine")
