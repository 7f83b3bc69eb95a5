"""The usual ways of writing the benchmarked trainings, as a student or a tutorial writes them.

Each baseline is a generator function: it builds everything (data, DataLoader, networks, optimisers),
then trains, and yields its generator network every `check_every` steps (epochs for the lab's
circle, where one epoch is one step) so that the harness can stop the clock and evaluate. Nothing
here uses gankit; the data arrive as plain tensors.

Deliberate choices, all in the baseline's favour:
- the MNIST loops read a TensorDataset of already-normalised float images (no per-image
  PIL/ToTensor/Normalize work, which torchvision's MNIST dataset would add);
- the harness runs them with the thread count that is fastest for them (see benchmarks.__main__).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


# ----- the lab's circle loop -----
def lab_circle(seed: int, *, epochs: int = 10_000, check_every: int = 250) -> Iterator[nn.Module]:
    """The lab's text: 100 points on the unit circle, TensorDataset + DataLoader (batch 100, shuffled),
    G = 3 linear layers from a 10-d latent, D ending in Sigmoid, BCELoss, two Adams with default
    settings, 10,000 epochs, `.item()` of both losses every step (to print or plot them)."""
    torch.manual_seed(seed)
    x = torch.randn(100, 2)
    x = x / x.norm(dim=1, keepdim=True)
    loader = DataLoader(TensorDataset(x), batch_size=100, shuffle=True)
    latent_dim = 10
    G = nn.Sequential(nn.Linear(latent_dim, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2))
    D = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1), nn.Sigmoid())
    criterion = nn.BCELoss()
    opt_g = torch.optim.Adam(G.parameters())
    opt_d = torch.optim.Adam(D.parameters())
    losses_d, losses_g = [], []
    for epoch in range(epochs):
        for (real,) in loader:
            b = real.size(0)
            ones, zeros = torch.ones(b, 1), torch.zeros(b, 1)
            fake = G(torch.randn(b, latent_dim))
            opt_d.zero_grad()
            loss_d = criterion(D(real), ones) + criterion(D(fake.detach()), zeros)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_g = criterion(D(fake), ones)
            loss_g.backward()
            opt_g.step()
            losses_d.append(loss_d.item())
            losses_g.append(loss_g.item())
        if (epoch + 1) % check_every == 0:
            yield G


# ----- the common MNIST MLP GAN loop -----
class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100):
        super().__init__()

        def block(n_in: int, n_out: int, bn: bool = True) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Linear(n_in, n_out)]
            if bn:
                layers.append(nn.BatchNorm1d(n_out, 0.8))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *block(latent_dim, 128, bn=False),
            *block(128, 256),
            *block(256, 512),
            *block(512, 1024),
            nn.Linear(1024, 784),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z).view(len(z), 1, 28, 28)


class MLPDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(784, 512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 1),
            nn.Sigmoid(),
        )

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.model(img.view(len(img), -1))


def common_mlp_gan(images: torch.Tensor, seed: int, *, epochs: int = 3, check_every: int = 250) -> Iterator[nn.Module]:
    """The widespread PyTorch-GAN `gan.py` loop: G 100-128-256-512-1024-784 with BatchNorm and tanh,
    D 784-512-256-1 with Sigmoid, BCELoss, Adam 2e-4 betas (0.5, 0.999), batch 64 from a shuffling
    DataLoader, `.item()` of the losses every step. `images`: (N, 1, 28, 28) in [-1, 1]."""
    torch.manual_seed(seed)
    G, D = MLPGenerator(100), MLPDiscriminator()
    yield from _common_loop(images, G, D, 100, epochs, check_every, flat_noise=True)


# ----- the common DCGAN loop at 28x28 -----
class DCGANGenerator(nn.Module):
    """The PyTorch DCGAN tutorial's generator brought to 28x28: z (100) -> 7x7x256 -> 14x14x128 -> 28x28x1."""

    def __init__(self, latent_dim: int = 100, ngf: int = 64):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, ngf * 4, 7, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """28x28x1 -> 14x14x64 -> 7x7x128 (BatchNorm) -> 1, Sigmoid."""

    def __init__(self, ndf: int = 64):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1)


def _weights_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def common_dcgan(images: torch.Tensor, seed: int, *, epochs: int = 3, check_every: int = 250) -> Iterator[nn.Module]:
    """The PyTorch DCGAN tutorial's loop at 28x28: ConvTranspose2d G and strided-conv D with BatchNorm,
    N(0, 0.02) init, BCELoss, Adam 2e-4 betas (0.5, 0.999), batch 64 from a shuffling DataLoader,
    `.item()` of the losses every step. `images`: (N, 1, 28, 28) in [-1, 1]."""
    torch.manual_seed(seed)
    G, D = DCGANGenerator(), DCGANDiscriminator()
    G.apply(_weights_init)
    D.apply(_weights_init)
    yield from _common_loop(images, G, D, 100, epochs, check_every, flat_noise=False)


def _common_loop(
    images: torch.Tensor,
    G: nn.Module,
    D: nn.Module,
    latent_dim: int,
    epochs: int,
    check_every: int,
    *,
    flat_noise: bool,
) -> Iterator[nn.Module]:
    loader = DataLoader(TensorDataset(images), batch_size=64, shuffle=True)
    criterion = nn.BCELoss()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    noise_shape = (latent_dim,) if flat_noise else (latent_dim, 1, 1)
    step = 0
    for _ in range(epochs):
        for (real,) in loader:
            b = real.size(0)
            valid, fake_label = torch.ones(b, 1), torch.zeros(b, 1)
            # D: real and (detached) fake
            opt_d.zero_grad()
            fake = G(torch.randn(b, *noise_shape))
            loss_d = criterion(D(real), valid) + criterion(D(fake.detach()), fake_label)
            loss_d.backward()
            opt_d.step()
            # G: fool D
            opt_g.zero_grad()
            loss_g = criterion(D(fake), valid)
            loss_g.backward()
            opt_g.step()
            print_d, print_g = loss_d.item(), loss_g.item()  # noqa: F841 (what the loop prints)
            step += 1
            if step % check_every == 0:
                yield G
    if step % check_every:
        yield G


def sample_images(
    G: nn.Module, n: int, *, latent_dim: int = 100, conv: bool, seed: int = 1_000_003, batch: int = 1000
) -> torch.Tensor:
    """n images from a baseline G in eval mode (BatchNorm on running statistics), as the tutorials sample."""
    rng = torch.Generator().manual_seed(seed)
    was_training = G.training
    G.eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, n, batch):
            size = min(batch, n - start)
            z = torch.randn(size, latent_dim, generator=rng)
            chunks.append(G(z.view(size, latent_dim, 1, 1) if conv else z).reshape(size, 1, 28, 28))
    G.train(was_training)
    return torch.cat(chunks)


def main(argv: list[str] | None = None) -> int:
    """Train one MNIST baseline for a number of steps in this process (for measuring its peak memory)."""
    import argparse

    from gankit.data.mnist import load_mnist

    parser = argparse.ArgumentParser(prog="python -m benchmarks.baselines")
    parser.add_argument("case", choices=["mnist_mlp", "dcgan"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    images, _ = load_mnist("train", data_dir=args.data_dir)
    loop = common_mlp_gan if args.case == "mnist_mlp" else common_dcgan
    for _ in loop(images, 0, epochs=BIG, check_every=args.steps):
        break
    return 0


BIG = 10**6

if __name__ == "__main__":
    raise SystemExit(main())
