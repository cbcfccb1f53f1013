"""The semi-supervised loss: an unlabelled frame gives exactly zero segmentation loss and gradient."""

from __future__ import annotations

import torch

from synthshare.models.vae import SegVAE, soft_dice_loss, vae_per_sample_loss


def _batch(labelled: list[float]):
    g = torch.Generator().manual_seed(0)
    image = torch.rand((len(labelled), 1, 4, 16, 16), generator=g)
    labels = torch.randint(0, 4, (len(labelled), 4, 16, 16), generator=g)
    return image, labels, torch.tensor(labelled)


def _seg_grad_norm(tiny_config, labelled: list[float]) -> float:
    torch.manual_seed(0)
    vae = SegVAE(config=tiny_config.vae)
    image, labels, flags = _batch(labelled)
    loss = vae_per_sample_loss(out=vae(image), image=image, labels=labels, labelled=flags, config=tiny_config.vae).sum()
    loss.backward()
    return float(sum(p.grad.abs().sum() for p in vae.seg_decoder.parameters()))


def test_unlabelled_frame_gives_zero_seg_gradient(tiny_config):
    assert _seg_grad_norm(tiny_config, [0.0, 0.0]) == 0.0
    assert _seg_grad_norm(tiny_config, [1.0, 0.0]) > 0.0  # negative control


def test_unlabelled_loss_equals_reconstruction_plus_kl(tiny_config):
    torch.manual_seed(0)
    vae = SegVAE(config=tiny_config.vae)
    image, labels, _ = _batch([0.0, 1.0])
    out = vae(image)
    no_seg = tiny_config.with_updates({"vae": {"seg_weight": 0.0}}).vae
    base = vae_per_sample_loss(out=out, image=image, labels=labels, labelled=torch.tensor([0.0, 1.0]), config=no_seg)
    full = vae_per_sample_loss(out=out, image=image, labels=labels, labelled=torch.tensor([0.0, 1.0]), config=tiny_config.vae)
    assert full[0] == base[0]  # exactly: the unlabelled frame ignores its (random) labels
    assert full[1] > base[1]


def test_soft_dice_fixed_values():
    labels = torch.zeros((1, 1, 2, 2), dtype=torch.long)
    labels[0, 0, 0, 0] = 1
    perfect = torch.full((1, 4, 1, 2, 2), -20.0)
    perfect[0, 0] = 20.0
    perfect[0, 0, 0, 0, 0], perfect[0, 1, 0, 0, 0] = -20.0, 20.0
    assert float(soft_dice_loss(logits=perfect, labels=labels)[0]) < 1e-6
    wrong = torch.full((1, 4, 1, 2, 2), -20.0)
    wrong[0, 2] = 20.0  # everything predicted as MYO
    # LV: (0 + 1) / (1 + 1) = 0.5; MYO: (0 + 1) / (4 + 1) = 0.2; RV: 1 -> loss = 1 - 1.7 / 3
    assert abs(float(soft_dice_loss(logits=wrong, labels=labels)[0]) - (1 - 1.7 / 3)) < 1e-5
