import pytest
import torch

from gankit.errors import GankitError
from gankit.losses import LOSSES, get_loss

real = torch.tensor([2.0, -1.0, 0.3, 4.0])
fake = torch.tensor([-3.0, 0.5, 1.0, -0.2])
D_real, D_fake = torch.sigmoid(real), torch.sigmoid(fake)


def test_minimax_losses_equal_the_lab_formulas():
    loss = get_loss("minimax")
    # D maximises log D(x) + log(1 - D(G(z))): its loss is the negative.
    expected_d = -(torch.log(D_real).mean() + torch.log(1 - D_fake).mean())
    torch.testing.assert_close(loss.discriminator(real, fake), expected_d)
    # G minimises log(1 - D(G(z))): the saturating loss.
    torch.testing.assert_close(loss.generator(fake), torch.log(1 - D_fake).mean())


def test_nonsaturating_generator_loss_is_minus_log_d():
    torch.testing.assert_close(get_loss("nonsaturating").generator(fake), -torch.log(D_fake).mean())


def test_hinge_and_least_squares_formulas():
    hinge = get_loss("hinge")
    torch.testing.assert_close(
        hinge.discriminator(real, fake), torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    )
    torch.testing.assert_close(hinge.generator(fake), -fake.mean())
    lsgan = get_loss("least_squares")
    torch.testing.assert_close(lsgan.discriminator(real, fake), 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean())
    torch.testing.assert_close(lsgan.generator(fake), 0.5 * ((fake - 1) ** 2).mean())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_stay_finite_with_confident_logits(name):
    loss = get_loss(name)
    huge = torch.tensor([200.0, -200.0], requires_grad=True)
    value = loss.discriminator(huge, -huge) + loss.generator(huge)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(huge.grad).all()


def test_minimax_generator_gradient_vanishes_where_nonsaturating_does_not():
    # The reason the non-saturating loss is the default: a confident D stalls the minimax G.
    rejected = torch.tensor([-8.0], requires_grad=True)
    get_loss("minimax").generator(rejected).backward()
    minimax_grad = rejected.grad.abs().item()
    rejected.grad = None
    get_loss("nonsaturating").generator(rejected).backward()
    assert rejected.grad.abs().item() > 100 * minimax_grad


def test_unknown_loss_names_accepted_ones():
    with pytest.raises(GankitError, match="loss='wgan'.*accepted: hinge, least_squares, minimax, nonsaturating"):
        get_loss("wgan")
