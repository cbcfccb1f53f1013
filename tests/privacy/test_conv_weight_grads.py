"""privacy.conv_weight_grads: convolutions skip their summed weight gradient, values stay the same."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from privacy import private_stage
from privacy.conv_weight_grads import (
    inputs_requiring_grad,
    summed_conv_weight_grads_skipped,
)


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.SiLU(), nn.Conv3d(4, 1, 1))


def test_inside_the_block_conv_weights_get_no_summed_grad_but_the_same_output() -> None:
    net = _net()
    x = torch.randn(3, 2, 4, 6, 6)
    plain_out = net(x)
    plain_out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=True)

    xg = inputs_requiring_grad(x)
    with summed_conv_weight_grads_skipped(net):
        out = net(xg)
        out.sum().backward()
    torch.testing.assert_close(out, plain_out, rtol=0, atol=0)
    conv0, norm, _, conv1 = net
    assert conv0.weight.grad is None and conv0.bias.grad is None and conv1.weight.grad is None
    assert norm.weight.grad is not None  # other layers unchanged
    assert xg.grad is not None
    # after the block the layers are plain again (negative control: summed grads come back)
    assert "forward" not in vars(conv0)
    net(x).sum().backward()
    assert conv0.weight.grad is not None


def test_inputs_requiring_grad_touches_only_floating_tensors() -> None:
    x, t = torch.randn(2, 3), torch.tensor([1, 2])
    out = inputs_requiring_grad({"x": x, "pair": (x, t), "n": 3})
    assert out["x"].requires_grad and out["pair"][0].requires_grad and not out["pair"][1].requires_grad
    assert out["n"] == 3 and not x.requires_grad  # the caller's tensor is left alone


def test_a_conv_the_backward_pass_cannot_reach_fails_loudly() -> None:
    class Frozen(nn.Module):
        """The conv's input is cut off from the graph: without its weight nothing connects it."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv3d(1, 2, 1)
            self.head = nn.Linear(2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.conv(x.detach()).mean((2, 3, 4)))

    g = torch.Generator().manual_seed(0)
    data = [(torch.randn(1, 2, 2, 2, generator=g), torch.randn(1, generator=g)) for _ in range(3)]
    model = Frozen()
    stage = private_stage(module=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), dataset=data,
                          expected_batch_size=3, noise_multiplier=1.0, max_grad_norm=1.0,
                          generator=torch.Generator().manual_seed(0), mode="hooks")
    with pytest.raises(ValueError, match="Per sample gradient"):
        for _ in range(5):  # Poisson batches may be empty; a non-empty one must raise
            stage.step(lambda m, b: ((m(b[0]) - b[1]) ** 2).flatten(1).mean(1))
