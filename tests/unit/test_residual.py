"""dlcourse.pytorch.residual against the formulas written out with torch's functional calls."""

import pytest
import torch
import torch.nn.functional as F

from dlcourse.pytorch.residual import ResidualBlock, norm_layer


def by_hand(block: ResidualBlock, x: torch.Tensor, norm: str | None) -> torch.Tensor:
    """relu(x + F(x)) (or relu(F(x))) with each normalisation computed from its definition."""

    def normalise(z: torch.Tensor, module: torch.nn.Module) -> torch.Tensor:
        if norm is None:
            return z
        dims = (0, 2, 3) if norm == "batch" else (1, 2, 3)  # per channel over the batch, or per example
        mean = z.mean(dim=dims, keepdim=True)
        var = z.var(dim=dims, keepdim=True, unbiased=False)
        shape = (1, -1, 1, 1)
        return (z - mean) / torch.sqrt(var + module.eps) * module.weight.view(shape) + module.bias.view(shape)

    h = F.relu(normalise(F.conv2d(x, block.conv1.weight, block.conv1.bias, padding=1), block.norm1))
    out = normalise(F.conv2d(h, block.conv2.weight, block.conv2.bias, padding=1), block.norm2)
    return F.relu(x + out if block.skip else out)


@pytest.mark.parametrize("norm", ["batch", "layer", None])
@pytest.mark.parametrize("skip", [True, False])
def test_block_matches_its_formula(norm, skip):
    torch.manual_seed(0)
    block = ResidualBlock(6, norm=norm, skip=skip).double()
    for module in (block.norm1, block.norm2):  # non-trivial scales and shifts
        if norm is not None:
            torch.nn.init.normal_(module.weight)
            torch.nn.init.normal_(module.bias)
    x = torch.randn(4, 6, 9, 9, dtype=torch.float64)
    torch.testing.assert_close(block(x), by_hand(block, x, norm), rtol=1e-10, atol=1e-10)
    assert (block.conv1.bias is None) == (norm is not None)


def test_skip_and_plain_differ_by_the_input_only():
    torch.manual_seed(1)
    residual = ResidualBlock(4, norm=None, skip=True)
    plain = ResidualBlock(4, norm=None, skip=False)
    plain.load_state_dict(residual.state_dict())
    for conv in (residual.conv2, plain.conv2):  # F(x) = 0: the residual block passes relu(x) through
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(residual(x), F.relu(x))
    torch.testing.assert_close(plain(x), torch.zeros_like(x))


def test_batch_norm_uses_running_statistics_in_eval_mode():
    torch.manual_seed(2)
    block = ResidualBlock(3, norm="batch")
    x = torch.randn(8, 3, 6, 6) * 5 + 2
    train_out = block(x)
    block.eval()
    eval_out = block(x)
    # after one batch the running averages moved 10 % of the way from (0, 1) to the batch's statistics
    assert not torch.allclose(train_out, eval_out)
    layer = ResidualBlock(3, norm="layer")
    layer_train = layer(x)
    layer.eval()
    torch.testing.assert_close(layer(x), layer_train)  # layer norm has no batch statistics


def test_norm_layer_kinds_and_errors():
    assert isinstance(norm_layer("batch", 3), torch.nn.BatchNorm2d)
    assert isinstance(norm_layer("layer", 3), torch.nn.GroupNorm) and norm_layer("layer", 3).num_groups == 1
    assert isinstance(norm_layer(None, 3), torch.nn.Identity)
    with pytest.raises(ValueError, match="norm must be one of"):
        norm_layer("instance", 3)
    with pytest.raises(ValueError, match="channels must be a positive"):
        norm_layer("batch", 0)


def test_wrong_shape_says_what_the_block_takes():
    with pytest.raises(ValueError, match=r"takes \(B, 8, H, W\) feature maps, got shape \(2, 3, 5, 5\)"):
        ResidualBlock(8)(torch.zeros(2, 3, 5, 5))


@pytest.mark.parametrize("norm", ["batch", "layer", None])
def test_deep_cnn_is_stem_blocks_mean_and_linear(norm):
    from dlcourse.pytorch.residual import conv_layers, deep_cnn

    torch.manual_seed(3)
    net = deep_cnn(blocks=3, width=5, norm=norm, skip=True, in_channels=2, classes=4).double()
    x = torch.randn(6, 2, 7, 9, dtype=torch.float64)
    stem_conv, stem_norm = net.stem[0], net.stem[1]
    h = F.conv2d(x, stem_conv.weight, stem_conv.bias, padding=1)
    if norm is not None:  # the block's formula, as by_hand computes it, for the stem's normalisation
        dims = (0, 2, 3) if norm == "batch" else (1, 2, 3)
        var = h.var(dims, keepdim=True, unbiased=False)
        h = (h - h.mean(dims, keepdim=True)) / torch.sqrt(var + stem_norm.eps)
    h = F.relu(h)
    for block in net.blocks:
        h = by_hand(block, h, norm)
    expected = h.mean(dim=(2, 3)) @ net.head.weight.T + net.head.bias  # global average pool, linear
    torch.testing.assert_close(net(x), expected, rtol=1e-10, atol=1e-10)
    assert conv_layers(net) == 7 and net(x).shape == (6, 4)


def test_plain_and_residual_networks_have_the_same_parameters():
    from dlcourse.pytorch.residual import conv_layers, deep_cnn

    plain, residual = deep_cnn(4, 8, None, skip=False), deep_cnn(4, 8, None, skip=True)
    assert {k: v.shape for k, v in plain.state_dict().items()} == \
        {k: v.shape for k, v in residual.state_dict().items()}
    assert all(not b.skip for b in plain.blocks) and all(b.skip for b in residual.blocks)
    assert conv_layers(plain) == 9 and conv_layers(deep_cnn(0, 8)) == 1
    with pytest.raises(ValueError, match="blocks must be a number of blocks >= 0"):
        deep_cnn(-1)
    with pytest.raises(ValueError, match="must be positive"):
        deep_cnn(2, width=0)


def relu_stack_mean_square(init, layers: int = 6, width: int = 1024) -> list[float]:
    """Mean square of the activations after each of ``layers`` 1x1-convolution + ReLU layers, biases 0."""
    from dlcourse.pytorch.residual import kaiming_init

    torch.manual_seed(4)
    convs = [torch.nn.Conv2d(width, width, 1, bias=False) for _ in range(layers)]
    if init == "kaiming":
        for conv in convs:
            kaiming_init(conv)
    h = torch.relu(torch.randn(64, width, 2, 2, dtype=torch.float64))
    squares = [h.pow(2).mean().item()]
    for conv in convs:
        h = torch.relu(F.conv2d(h, conv.weight.double()))
        squares.append(h.pow(2).mean().item())
    return squares


def test_kaiming_init_keeps_the_mean_square_and_the_default_divides_it_by_six():
    # Closed form: E[relu(w . x)^2] = fan_in * Var(w) * E[x^2] / 2 for zero-mean symmetric weights, so
    # Var(w) = 2 / fan_in keeps it (Kaiming) and 1 / (3 fan_in) (PyTorch's default) divides it by 6.
    import numpy as np

    kaiming = np.array(relu_stack_mean_square("kaiming"))
    default = np.array(relu_stack_mean_square("default"))
    np.testing.assert_allclose(kaiming[1:] / kaiming[:-1], 1.0, rtol=0.15)
    np.testing.assert_allclose(default[1:] / default[:-1], 1 / 6, rtol=0.15)


def test_kaiming_init_draws_weights_of_variance_two_over_fan_in_and_zero_biases():
    from dlcourse.pytorch.residual import deep_cnn, kaiming_init

    torch.manual_seed(5)
    net = kaiming_init(deep_cnn(2, 32, None, skip=False))
    for conv in [net.stem[0], net.blocks[0].conv1, net.blocks[1].conv2]:
        fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        assert abs(conv.weight.var().item() * fan_in / 2 - 1) < 0.1
        assert abs(conv.weight.mean().item()) < 0.1 * (2 / fan_in) ** 0.5
        assert torch.all(conv.bias == 0)
    assert abs(net.head.weight.var().item() * 32 / 2 - 1) < 0.3 and torch.all(net.head.bias == 0)


@pytest.mark.parametrize("norm", ["batch", None])
@pytest.mark.parametrize("skip", [True, False])
def test_first_layer_gradient_norm_matches_finite_differences(norm, skip):
    from dlcourse.pytorch.residual import deep_cnn, first_layer_gradient_norm

    torch.manual_seed(6)
    net = deep_cnn(2, 3, norm, skip=skip).double()
    x, y = torch.randn(5, 1, 6, 6, dtype=torch.float64), torch.tensor([0, 3, 1, 9, 3])
    weight = net.stem[0].weight
    numeric = torch.zeros_like(weight)
    eps = 1e-6
    with torch.no_grad():
        for i in range(weight.numel()):
            flat = weight.view(-1)
            flat[i] += eps
            up = F.cross_entropy(net(x), y).item()
            flat[i] -= 2 * eps
            down = F.cross_entropy(net(x), y).item()
            flat[i] += eps
            numeric.view(-1)[i] = (up - down) / (2 * eps)
    assert first_layer_gradient_norm(net, x, y) == pytest.approx(numeric.norm().item(), rel=1e-6)
    assert weight.grad is None  # the model's own gradients are left alone
