"""Would a person/background head verify proposals better than the mean joint confidence? A measurement.

    python tools/person_probe.py runs/hm_anny_long/heatmap.pt ../shared/realval ../shared/media/sports2d/demo.mp4 \
        --backgrounds photos/backgrounds --textures photos/textures

A linear probe (logistic regression) on the 2D-evidence network's pooled encoder features
(``HeatmapNet.pooled``: stride 16 mean and max, stride 8 mean) is fitted on synthetic crops only: person crops of the training split
against their background twins (the same scenes cropped beside the person, no other person in view).
It is then scored beside the mean joint confidence (the runtime's pose score) on real crops:

- people: every labelled person of the realval folder, cut from the labelled box;
- background: every box the runtime verifies (shipped detector; the checkpoint itself as the pose
  model, scored by its mean joint confidence where no person head lies beside it; pose score >= 0.45)
  away from the man in the Sports2D video's first 37 frames, where he is alone in view (his box
  taken from the nearest labelled frame; IoU < 0.1).

The real frames are measured, never trained on. Prints AUCs and the share of each set above a few
thresholds.
"""

from __future__ import annotations

import argparse
import dataclasses

import cv2
import numpy as np
import torch

from pose3d.realval.labels import read_realval
from pose3d.realval.predict import labelled_box
from pose3d.train.checkpoint import load_model
from pose3d.train.data import training_data
from pose3d.train.person import auc
from pose3d_export.checkpoint_model import CheckpointModel
from pose3d_runtime.boxes import box_iou, find_people
from pose3d_runtime.detector import PersonDetector
from pose3d_runtime.pipeline import Estimator, refine
from pose3d_runtime.preprocess import crop_normalise
from pose3d_runtime.sources import read_image

ALONE_FRAMES = 37  # the Sports2D demo's first frames, before the woman walks in
MIN_SCORE = 0.45  # the runtime's default pose score for a verified person


@torch.no_grad()
def features_and_confidence(model, x: torch.Tensor, chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(B, 3, S, S) normalised crops -> pooled encoder features (B, F) and mean joint confidence (B,)."""
    net = model.net2d
    feats, confs = [], []
    for lo in range(0, len(x), chunk):
        features = net.encode(x[lo:lo + chunk])
        feats.append(net.pooled(*features))
        confs.append(model.from_logits(net.decode(*features)).confidence.mean(-1))
    return torch.cat(feats).numpy(), torch.cat(confs).numpy()


def fit_probe(pos: np.ndarray, neg: np.ndarray):
    """Logistic regression (L-BFGS, a little L2) on standardised features -> a scoring function."""
    X = np.concatenate([pos, neg])
    y = torch.tensor(np.r_[np.ones(len(pos)), np.zeros(len(neg))], dtype=torch.float32)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Xt = torch.tensor((X - mu) / sd, dtype=torch.float32)
    w = torch.zeros(X.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(Xt @ w + b, y) + 1e-3 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return lambda f: torch.sigmoid(torch.tensor((f - mu) / sd, dtype=torch.float32) @ w + b).detach().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="a 2D-evidence checkpoint (heatmap.pt)")
    ap.add_argument("realval")
    ap.add_argument("video", help="the Sports2D demo video")
    ap.add_argument("--backgrounds")
    ap.add_argument("--textures")
    ap.add_argument("--steps", type=int, default=40, help="synthetic batches of 32 to fit the probe on")
    args = ap.parse_args()

    model, config, _ = load_model(args.checkpoint)
    model.eval()
    data = training_data(dataclasses.replace(config, backgrounds=args.backgrounds, textures=args.textures, seed=5))
    person, background = [], []
    for step in range(args.steps):
        person.append(data.images(step, 32, 0, 32)["x"])
        bg = data.background_batch(step, 32, 0, 32)
        background.append(bg["x"][bg["coverage"] <= 0.01])
    fp, cp = features_and_confidence(model, torch.cat(person))
    fn, cn = features_and_confidence(model, torch.cat(background))
    probe = fit_probe(fp, fn)
    print(f"synthetic: {len(fp)} person and {len(fn)} background crops; AUC: confidence {auc(cp, cn):.3f}, "
          f"probe {auc(probe(fp), probe(fn)):.3f}")

    est = Estimator(CheckpointModel(args.checkpoint))
    info = est.info
    detect = find_people(PersonDetector(None, margin=est.margin, device="cpu"), True, 10, margin=est.margin)

    def crop(img: np.ndarray, box: np.ndarray) -> torch.Tensor:
        A = est.crop_affines(np.asarray(box)[None])
        return torch.from_numpy(crop_normalise(img, A, info.input_size, info.mean, info.std))

    real = read_realval(args.realval)
    people, man = [], {}
    for f in real.frames:
        box = labelled_box(f, est.margin)
        people.append(crop(read_image(f.path), box))
        if f.source == "sports2d_demo" and f.frame < ALONE_FRAMES:
            man[f.frame] = box
    negatives = []
    cap = cv2.VideoCapture(args.video)
    for i in range(ALONE_FRAMES):
        ok, img = cap.read()
        if not ok:
            break
        him = man[min(man, key=lambda k: abs(k - i))]
        targets = detect.boxes(img)
        cam = est.intrinsics(img.shape)
        poses = est.estimate([img] * len(targets), [t.box for t in targets], [cam] * len(targets))
        _, poses = refine(est, [img] * len(targets), targets, poses, [cam] * len(targets))
        negatives += [crop(img, p.box) for p in poses if p.score >= MIN_SCORE and box_iou(p.box, him) < 0.1]
    if not negatives:
        raise SystemExit(f"no box verified on background in the first {ALONE_FRAMES} Sports2D frames: nothing to "
                         "score the probe against (is there a person head beside the checkpoint?)")
    fpr, cpr = features_and_confidence(model, torch.cat(people))
    fnr, cnr = features_and_confidence(model, torch.cat(negatives))
    pp, pn = probe(fpr), probe(fnr)
    print(f"real: {len(fpr)} labelled people, {len(fnr)} boxes verified on background (Sports2D frames 0-{ALONE_FRAMES - 1})")
    print(f"  confidence: median {np.median(cpr):.3f} vs {np.median(cnr):.3f}, AUC {auc(cpr, cnr):.3f}")
    print(f"  probe:      median {np.median(pp):.3f} vs {np.median(pn):.3f}, AUC {auc(pp, pn):.3f}")
    for name, a, b, ths in (("probe", pp, pn, (0.1, 0.5, 0.9)), ("confidence", cpr, cnr, (0.45, 0.55, 0.65))):
        for th in ths:
            print(f"  {name} >= {th}: people {np.mean(a >= th):.3f}, background {np.mean(b >= th):.3f}")


if __name__ == "__main__":
    main()
