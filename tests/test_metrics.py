import numpy as np
import pytest
import torch

from pose3d.metrics import (
    AUC_THRESHOLDS_MM, auc, evaluate, mpjpe, n_mpjpe, p_mpjpe, pck3d, procrustes_align, scale_align, summarize,
)
from conftest import random_pose, random_rotation


def test_mpjpe_of_a_constant_offset_is_its_norm(rng):
    gt = random_pose(rng, 5)
    offset = np.array([30.0, -40.0, 120.0])
    np.testing.assert_allclose(mpjpe(gt + offset, gt), np.linalg.norm(offset))
    np.testing.assert_allclose(mpjpe(gt, gt), 0.0)


def test_p_mpjpe_ignores_similarity_transforms(rng):
    gt = random_pose(rng, 6)
    R = np.stack([random_rotation(rng) for _ in range(6)])
    pred = 1.7 * np.einsum("nij,nkj->nki", R, gt) + rng.normal(size=(6, 1, 3)) * 500
    np.testing.assert_allclose(p_mpjpe(pred, gt), 0.0, atol=1e-8)
    assert (mpjpe(pred, gt) > 100).all()


def test_procrustes_never_reflects(rng):
    gt = random_pose(rng, 4)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    aligned = procrustes_align(mirrored, gt)
    # A reflection would fit a mirrored pose perfectly; a rotation cannot.
    assert (p_mpjpe(mirrored, gt) > 1.0).all()
    # The alignment found is still a similarity: pairwise distances scale uniformly.
    d = lambda p: np.linalg.norm(p[:, :, None] - p[:, None], axis=-1)  # noqa: E731
    ratio = d(aligned)[:, 1:, 0] / d(mirrored)[:, 1:, 0]
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones_like(ratio), rtol=1e-8)


def test_alignment_never_increases_squared_error(rng):
    # The alignments minimise the squared error (not the mean distance), over nested families:
    # similarity transforms contain scalings, which contain the identity.
    gt = random_pose(rng, 50)
    pred = gt + rng.normal(size=gt.shape) * 60
    sse = lambda p: ((p - gt) ** 2).sum(axis=(-2, -1))  # noqa: E731
    assert (sse(procrustes_align(pred, gt)) <= sse(scale_align(pred, gt)) + 1e-6).all()
    assert (sse(scale_align(pred, gt)) <= sse(pred) + 1e-6).all()


def test_n_mpjpe_undoes_scale(rng):
    gt = random_pose(rng, 3)
    np.testing.assert_allclose(n_mpjpe(0.8 * gt, gt), 0.0, atol=1e-9)


def test_pck_and_auc(rng):
    gt = random_pose(rng, 2)
    pred = gt.copy()
    pred[:, :5] += [200.0, 0.0, 0.0]  # 5 of 17 joints off by 200 mm
    np.testing.assert_allclose(pck3d(pred, gt), 12 / 17)
    np.testing.assert_allclose(auc(gt, gt), 1.0)
    # Every joint off by 75 mm: within the thresholds from 75 mm up.
    shifted = gt + [75.0, 0.0, 0.0]
    expected = np.mean(np.asarray(AUC_THRESHOLDS_MM) >= 75.0)
    np.testing.assert_allclose(auc(shifted, gt), expected)


def test_torch_and_numpy_agree_and_torch_is_differentiable(rng):
    gt = random_pose(rng, 4)
    pred = gt + rng.normal(size=gt.shape) * 50
    tp = torch.tensor(pred, requires_grad=True)
    tg = torch.tensor(gt)
    for fn in (mpjpe, p_mpjpe, n_mpjpe, pck3d, auc):
        np.testing.assert_allclose(fn(tp, tg).detach().numpy(), fn(pred, gt), rtol=1e-9)
    (mpjpe(tp, tg).sum() + p_mpjpe(tp, tg).sum()).backward()
    assert torch.isfinite(tp.grad).all()


def test_metrics_accept_any_leading_dimensions(rng):
    gt = random_pose(rng, 6).reshape(2, 3, 17, 3)
    pred = gt + 10.0
    for fn in (mpjpe, p_mpjpe, n_mpjpe, pck3d, auc):
        assert fn(pred, gt).shape == (2, 3)


def test_summarize_groups_and_orders(rng):
    values = {"MPJPE": np.array([10.0, 20.0, 30.0, 50.0]), "PCK3D@150": np.array([1.0, 0.5, 0.0, 1.0])}
    table = summarize(values, ["Walking", "Eating", "Walking", "Eating"], order=["Walking", "Eating", "Sitting"], group_by="action")
    assert list(table.rows) == ["Walking", "Eating"]
    assert table.rows["Walking"]["MPJPE"] == 20.0 and table.rows["Eating"]["MPJPE"] == 35.0
    assert table.counts == {"Walking": 2, "Eating": 2}
    assert table.mean_over_groups["MPJPE"] == 27.5
    md = table.to_markdown()
    assert "| Walking | 2 | 20.0 | 50.0 |" in md and "mean over groups" in md
    with pytest.raises(ValueError, match="MPJPE"):
        summarize({"MPJPE": np.zeros(3)}, ["a", "b"])


def test_evaluate_returns_numpy_for_torch(rng):
    gt = torch.tensor(random_pose(rng, 3))
    out = evaluate(gt + 1.0, gt)
    assert set(out) == {"MPJPE", "P-MPJPE", "N-MPJPE", "PCK3D@150", "AUC"}
    assert all(isinstance(v, np.ndarray) and v.shape == (3,) for v in out.values())
