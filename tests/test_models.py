import pytest
import torch

from pose3d.models.cnn import PaperCNN, crop_to_unit, flops_per_image, unit_to_crop
from pose3d.models.heatmap import HeatmapConfig, HeatmapPoseNet
from pose3d.models.outputs import PoseOutputs
from pose3d.models.prior import PoseAutoencoder, PriorConfig
from pose3d.models.stack import DirectPoseNet, StructuredPoseNet

MODELS = {
    "prior-2000": lambda: PoseAutoencoder(PriorConfig()),
    "prior-300-300": lambda: PoseAutoencoder(PriorConfig(hidden=(300, 300))),
    "prior-tied": lambda: PoseAutoencoder(PriorConfig(tied=True)),
    "cnn": lambda: PaperCNN(2000),
    "structured": lambda: StructuredPoseNet(PoseAutoencoder()),
    "direct": lambda: DirectPoseNet(),
    "heatmap": lambda: HeatmapPoseNet(51, HeatmapConfig(widths=(8, 8, 16, 16), decoder_widths=(16, 8), lifter_hidden=32)),
}


@pytest.mark.parametrize("name", MODELS)
def test_every_model_has_shapes_finite_outputs_and_gradients(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    x = torch.randn(2, 51) if name.startswith("prior") else torch.randn(2, 3, 112, 112)
    out = model(x)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o is not None]
    for o in outs:
        assert torch.isfinite(o).all()
    if name.startswith("prior"):
        assert out.shape == (2, 51)
    elif name == "cnn":
        assert out[0].shape == (2, 2000) and out[1].shape == (2, 17, 2)
    else:  # the image models name their outputs
        assert isinstance(out, PoseOutputs)
        assert out.pose.shape == (2, 51) and out.joints_2d.shape == (2, 17, 2)
        assert (out.confidence is None) == (out.heatmaps is None) == (name != "heatmap")
    sum(o.sum() for o in outs).backward()
    # The structured stack uses only the prior's decoder; its encoder encodes training targets.
    grads = [p.grad for n, p in model.named_parameters() if not (name == "structured" and "encoder_layers" in n)]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_stack_equals_cnn_then_decoder():
    torch.manual_seed(0)
    model = StructuredPoseNet(PoseAutoencoder()).eval()
    x = torch.randn(3, 3, 112, 112)
    out = model(x)
    code2, joints2 = model.cnn(x)
    torch.testing.assert_close(out.pose, model.decoder.decode(code2))
    torch.testing.assert_close(out.code, code2)
    torch.testing.assert_close(out.joints_2d, joints2)
    pose = out.pose
    W, b = model.decoder.decoder_affine()
    torch.testing.assert_close(pose, code2 @ W.t() + b)


def test_contractive_penalty_is_the_jacobian_norm():
    torch.manual_seed(0)
    model = PoseAutoencoder(PriorConfig(hidden=(40,)))
    x = torch.randn(3, 51)
    expected = torch.stack([
        torch.autograd.functional.jacobian(model.encode, x[i : i + 1]).pow(2).sum() for i in range(3)
    ]).mean()
    torch.testing.assert_close(model.contractive_penalty(x), expected)


def test_cnn_parts_and_cost():
    cnn = PaperCNN(51)
    assert cnn.feature_dim == 72 * 10 * 10
    assert abs(flops_per_image() / 1e9 - 0.63) < 0.01  # the paper's CNN: 0.63 GFLOP per image
    # Features can be frozen by attribute.
    for p in cnn.features.parameters():
        p.requires_grad_(False)
    assert all(p.requires_grad for p in cnn.head.parameters())
    px = torch.tensor([[0.0, 111.0], [55.5, 55.5]])
    torch.testing.assert_close(unit_to_crop(crop_to_unit(px, 112), 112), px)
    with pytest.raises(ValueError):
        PoseAutoencoder(PriorConfig(hidden=(300, 300), tied=True))
