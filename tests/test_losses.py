"""Each registered loss equals its formula; plain-function and object losses see what they should."""

import pytest
import torch

from gankit.errors import GankitError
from gankit.losses import LOSSES, DiscriminatorBatch, GeneratorBatch, Loss

real = torch.tensor([2.0, -1.0, 0.3, 4.0])
fake = torch.tensor([-3.0, 0.5, 1.0, -0.2])
D_real, D_fake = torch.sigmoid(real), torch.sigmoid(fake)


def _no_d(x, labels=None):
    raise AssertionError("the loss should not call D")


def d_loss(
    loss: Loss,
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    *,
    probability: bool = False,
    stacked: bool = False,
):
    batch = DiscriminatorBatch(
        real_logits[..., None],
        fake_logits[..., None],
        None,
        None,
        real_logits,
        fake_logits,
        _no_d,
        0,
        stacked=stacked,
        outputs_probability=probability,
    )
    return loss.d_loss(batch)


def _scores(x, labels=None):  # a D whose samples are their own logits
    return x[..., 0]


def g_loss(
    loss: Loss,
    fake_logits: torch.Tensor,
    real_logits: torch.Tensor | None = None,
    *,
    probability: bool = False,
    stacked: bool = False,
):
    """G's loss; a relativistic loss's real batch is drawn as `real_logits` (default: the module's `real`)."""
    drawn = real if real_logits is None else real_logits
    return loss.g_loss(
        GeneratorBatch(
            fake_logits[..., None],
            None,
            fake_logits,
            _scores,
            0,
            stacked=stacked,
            outputs_probability=probability,
            draw_real=lambda: (drawn[..., None], None),
        )
    )


def test_minimax_losses_equal_the_lab_formulas():
    loss = LOSSES["minimax"]
    # D maximises log D(x) + log(1 - D(G(z))): its loss is the negative.
    expected_d = -(torch.log(D_real).mean() + torch.log(1 - D_fake).mean())
    torch.testing.assert_close(d_loss(loss, real, fake), expected_d)
    # G minimises log(1 - D(G(z))): the saturating loss.
    torch.testing.assert_close(g_loss(loss, fake), torch.log(1 - D_fake).mean())


def test_nonsaturating_generator_loss_is_minus_log_d():
    torch.testing.assert_close(g_loss(LOSSES["nonsaturating"], fake), -torch.log(D_fake).mean())


def test_hinge_and_least_squares_formulas():
    hinge = LOSSES["hinge"]
    expected = torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    torch.testing.assert_close(d_loss(hinge, real, fake), expected)
    torch.testing.assert_close(g_loss(hinge, fake), -fake.mean())
    lsgan = LOSSES["least_squares"]
    torch.testing.assert_close(d_loss(lsgan, real, fake), 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean())
    torch.testing.assert_close(g_loss(lsgan, fake), 0.5 * ((fake - 1) ** 2).mean())


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_stay_finite_with_confident_logits(name):
    loss = LOSSES[name]
    huge = torch.tensor([200.0, -200.0], requires_grad=True)
    value = d_loss(loss, huge, -huge) + g_loss(loss, huge, -huge.detach())
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(huge.grad).all()


def test_registered_losses_work_on_logits_even_for_a_sigmoid_d():
    # The lab's D ends in a sigmoid: gankit's own losses still see its logit (stable), not its probability.
    for name in LOSSES:
        torch.testing.assert_close(d_loss(LOSSES[name], real, fake, probability=True), d_loss(LOSSES[name], real, fake))


def test_minimax_generator_gradient_vanishes_where_nonsaturating_does_not():
    # The reason the non-saturating loss is the default: a confident D stalls the minimax G.
    rejected = torch.tensor([-8.0], requires_grad=True)
    g_loss(LOSSES["minimax"], rejected).backward()
    minimax_grad = rejected.grad.abs().item()
    rejected.grad = None
    g_loss(LOSSES["nonsaturating"], rejected).backward()
    assert rejected.grad.abs().item() > 100 * minimax_grad


def test_a_plain_function_loss_gets_d_outputs_as_d_gives_them():
    seen = []
    student = Loss(
        discriminator=lambda r, f: seen.append((r, f)) or -(torch.log(r) + torch.log(1 - f)).mean(),
        generator=lambda f: -torch.log(f).mean(),
    )
    value = d_loss(student, real, fake, probability=True)  # a D ending in nn.Sigmoid: probabilities
    torch.testing.assert_close(seen[0][0], D_real)
    torch.testing.assert_close(value, d_loss(LOSSES["nonsaturating"], real, fake))
    d_loss(student, real, fake)  # a D giving logits: logits
    torch.testing.assert_close(seen[1][0], real)
    torch.testing.assert_close(g_loss(student, fake, probability=True), g_loss(LOSSES["nonsaturating"], fake))
    assert student.handles_stacks


def test_a_function_loss_in_a_stack_gives_each_member_its_own_mean():
    stacked_real, stacked_fake = torch.stack([real, 2 * real]), torch.stack([fake, -fake])
    per_member = d_loss(LOSSES["hinge"], stacked_real, stacked_fake, stacked=True)
    assert per_member.shape == (2,)
    torch.testing.assert_close(per_member[1], d_loss(LOSSES["hinge"], 2 * real, -fake))


def test_generator_batch_draws_a_real_batch_only_when_asked():
    draws = []

    def draw():
        draws.append(1)
        return torch.ones(3, 2), None

    batch = GeneratorBatch(torch.zeros(3, 2), None, torch.zeros(3), lambda x, labels=None: x.sum(1), 0, draw_real=draw)
    LOSSES["nonsaturating"].g_loss(batch)
    assert not draws
    torch.testing.assert_close(batch.real_logits, torch.full((3,), 2.0))
    assert batch.real.shape == (3, 2) and len(draws) == 1  # drawn once, then kept


def test_unknown_loss_names_the_accepted_ones():
    with pytest.raises(
        GankitError,
        match=r"loss='wgan'.*accepted: nonsaturating, minimax, hinge, least_squares, wasserstein, relativistic, custom",
    ):
        LOSSES["wgan"]


def test_wasserstein_critic_loss_is_the_difference_of_mean_scores():
    loss = LOSSES["wasserstein"]
    torch.testing.assert_close(d_loss(loss, real, fake), fake.mean() - real.mean())
    torch.testing.assert_close(g_loss(loss, fake), -fake.mean())
    assert loss.penalties == {"gp": 10.0}  # WGAN-GP's lambda


def test_relativistic_loss_pairs_each_real_sample_with_a_fake():
    loss = LOSSES["relativistic"]
    # RpGAN: D maximises log sigmoid(D(x_i) - D(G(z_i))), G maximises log sigmoid(D(G(z_i)) - D(x_i)).
    torch.testing.assert_close(d_loss(loss, real, fake), -torch.log(torch.sigmoid(real - fake)).mean())
    drawn = torch.tensor([0.1, 0.2, -0.5, 1.0])
    torch.testing.assert_close(g_loss(loss, fake, drawn), -torch.log(torch.sigmoid(fake - drawn)).mean())
    # a constant added to every score changes nothing: only differences count
    torch.testing.assert_close(d_loss(loss, real + 3, fake + 3), d_loss(loss, real, fake))
    assert loss.handles_stacks and loss.penalties == {"r1": 1.0, "r2": 1.0}


def test_relativistic_loss_in_a_stack_gives_each_member_its_own_mean():
    loss = LOSSES["relativistic"]
    stacked_real, stacked_fake = torch.stack([real, 2 * real]), torch.stack([fake, -fake])
    per_member = d_loss(loss, stacked_real, stacked_fake, stacked=True)
    assert per_member.shape == (2,)
    torch.testing.assert_close(per_member[1], d_loss(loss, 2 * real, -fake))
    g_per_member = g_loss(loss, stacked_fake, stacked_real, stacked=True)
    torch.testing.assert_close(g_per_member[1], g_loss(loss, -fake, 2 * real))


def test_only_a_critic_loss_refuses_a_d_that_ends_in_a_sigmoid():
    with pytest.raises(GankitError, match=r"loss='wasserstein' is not valid; accepted: .*nn.Sigmoid"):
        LOSSES["wasserstein"].check_discriminator(outputs_probability=True)
    LOSSES["wasserstein"].check_discriminator(outputs_probability=False)
    for name in LOSSES:
        if name != "wasserstein":
            LOSSES[name].check_discriminator(outputs_probability=True)


def test_every_loss_comes_with_registered_penalties_only():
    from gankit.penalties import PENALTIES

    for name in LOSSES:
        assert set(LOSSES[name].penalties) <= set(PENALTIES), name


def test_a_saturating_g_loss_gets_its_own_defaults_where_they_were_left_unset():
    from gankit import TrainConfig
    from gankit.config import TRAINING_DEFAULTS

    sheet = Loss(
        discriminator=lambda real, fake: -(torch.log(real) + torch.log(1 - fake)).mean(),
        generator=lambda fake: torch.log(1 - fake).mean(),
    )
    for dataset, kind in (("circle", "toy"), ("mnist", "image")):
        usual, saturating = TRAINING_DEFAULTS[kind, False], TRAINING_DEFAULTS[kind, True]
        plain = TrainConfig(dataset=dataset)
        assert {name: getattr(plain, name) for name in usual} == usual
        for config in (TrainConfig(dataset=dataset, loss="minimax"), plain.for_loss(sheet)):
            assert {name: getattr(config, name) for name in saturating} == saturating
        chosen = TrainConfig(dataset=dataset, lr_g=0.01, batch_size=32).for_loss(sheet)
        assert (chosen.lr_g, chosen.batch_size) == (0.01, 32)  # what the user set stays
        assert plain.for_loss(LOSSES["nonsaturating"]) is plain
    note = TrainConfig(dataset="mnist").saturating_note(sheet)
    assert "beta2=0.99" in note and "r1_gamma=10" in note
    assert "batch_size" not in note  # the batch is the usual one
