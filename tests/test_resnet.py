"""ResNet backbones: feature width, output shape, the CIFAR stem, and the Hydra configs."""

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from src.core.errors import ConfigError
from src.models.resnet import ResNetBackbone

BACKBONES = Path(__file__).resolve().parents[1] / "conf" / "model" / "backbone"


def test_resnet18_cifar_stem_keeps_resolution_into_the_first_stage():
    net = ResNetBackbone((3, 32, 32), depth=18, cifar_stem=True).eval()
    assert net.out_dim == 512
    conv = net.net.conv1
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (1, 1), (1, 1))
    assert isinstance(net.net.maxpool, nn.Identity) and isinstance(net.net.fc, nn.Identity)
    stem = nn.Sequential(net.net.conv1, net.net.bn1, net.net.relu, net.net.maxpool, net.net.layer1)
    assert stem(torch.zeros(1, 3, 32, 32)).shape == (1, 64, 32, 32)  # the ImageNet stem would give 8×8
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 512)


def test_imagenet_stem_divides_the_side_by_four():
    net = ResNetBackbone((3, 64, 64), depth=18, cifar_stem=False).eval()
    assert net.net.conv1.stride == (2, 2) and isinstance(net.net.maxpool, nn.MaxPool2d)
    stem = nn.Sequential(net.net.conv1, net.net.bn1, net.net.relu, net.net.maxpool)
    assert stem(torch.zeros(1, 3, 64, 64)).shape == (1, 64, 16, 16)


def test_resnet50_config_gives_2048_wide_features():
    net = instantiate(OmegaConf.load(BACKBONES / "resnet50.yaml"))((3, 32, 32)).eval()
    assert net.out_dim == 2048 and net.net.conv1.stride == (2, 2)
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 2048)  # 1×1 after the stride-32 trunk


def test_input_channels_come_from_the_input_shape():
    net = ResNetBackbone((1, 16, 16), depth=18, cifar_stem=True).eval()
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 512)


@pytest.mark.parametrize(("name", "stride"), [("resnet18_cifar", 1), ("resnet18", 2)])
def test_resnet18_configs_build_a_partial_that_takes_the_input_shape(name, stride):
    net = instantiate(OmegaConf.load(BACKBONES / f"{name}.yaml"))((3, 32, 32))
    assert net.out_dim == 512 and net.net.conv1.stride == (stride, stride)


@pytest.mark.parametrize(
    ("shape", "depth", "message"),
    [((3, 32, 32), 34, "depth must be one of 18, 50"), ((64,), 18, "needs images")],
)
def test_bad_arguments_are_refused(shape, depth, message):
    with pytest.raises(ConfigError, match=message):
        ResNetBackbone(shape, depth=depth, cifar_stem=True)
