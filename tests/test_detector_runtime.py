"""The runtime's person detector: decoding fabricated maps, the letterbox round trip on frames of any
shape, and the file contract (metadata, bad files), with detector ONNX files fabricated here."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pose3d.crop import apply_affine, box_to_affine, fit_shape, frame_box, letterbox_affine
from pose3d_runtime.detector import (METADATA_KEY, PersonDetector, check_frame, decode, default_detector_path,
                                     local_peaks)
from pose3d_runtime.cli import main as run_main
from pose3d_runtime.model import ModelError
from pose3d_runtime.preprocess import crop_normalise, crop_normalise_reference

SIZE = 64  # the fabricated detectors' input side (16 x 16 cells)


def blob_detector(path, size: int = SIZE, box_wh=(24.0, 40.0), threshold: float = 0.5, meta: dict | None = None,
                  mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), multiple: int | None = None):
    """A detector ONNX file whose ``centre`` is the input's red channel averaged over each 4 x 4 cell
    (with mean 0 and std 1: the red level / 255), so a red blob in a frame is a person there; every
    box is ``box_wh`` input pixels, its centre in the middle of its cell. ``multiple``: the graph takes
    any height and width and its metadata says they are multiples of this (else: size x size)."""
    import onnx
    from onnx import TensorProto, helper

    def const(name, values, dims):
        return helper.make_tensor(name, TensorProto.FLOAT, dims, np.asarray(values, np.float32).ravel().tolist())

    ints = lambda name, v: helper.make_tensor(name, TensorProto.INT64, [len(v)], v)  # noqa: E731
    nodes = [
        helper.make_node("Slice", ["frame", "s0", "s1", "ax"], ["red"]),
        helper.make_node("AveragePool", ["red"], ["centre"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Mul", ["centre", "zero"], ["z"]),
        helper.make_node("Concat", ["z", "z"], ["zz"], axis=1),
        helper.make_node("Add", ["zz", "wh"], ["size"]),
        helper.make_node("Add", ["zz", "half"], ["offset"]),
    ]
    inits = [ints("s0", [0]), ints("s1", [1]), ints("ax", [1]), const("zero", [0.0], []),
             const("wh", box_wh, [1, 2, 1, 1]), const("half", [0.5, 0.5], [1, 2, 1, 1])]
    hw = [size, size] if multiple is None else ["H", "W"]
    cells = [size // 4, size // 4] if multiple is None else ["h", "w"]
    graph = helper.make_graph(
        nodes, "blob_detector", [helper.make_tensor_value_info("frame", TensorProto.FLOAT, ["B", 3, *hw])],
        [helper.make_tensor_value_info("centre", TensorProto.FLOAT, ["B", 1, *cells]),
         helper.make_tensor_value_info("size", TensorProto.FLOAT, ["B", 2, *cells]),
         helper.make_tensor_value_info("offset", TensorProto.FLOAT, ["B", 2, *cells])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    spec = {"format": 1, "input_size": size, "stride": 4, "mean": list(mean), "std": list(std),
            "letterbox": "pose3d.crop.frame_box", "box": "the 17 joints' extent in input pixels",
            "score_threshold": threshold}
    if multiple is not None:
        spec["input_multiple"] = multiple
    entries = {METADATA_KEY: json.dumps(spec), "pose3d_version": "test", "metrics": "{}"}
    entries.update(meta or {})
    for k, v in entries.items():
        if v is not None:
            model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    return path


def red_blobs(width: int, height: int, centres, sigma: float) -> np.ndarray:
    """A black BGR frame with a red Gaussian blob (peak 255) at each (x, y) pixel centre."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = np.zeros((height, width))
    for cx, cy in centres:
        red = np.maximum(red, np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2)))
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 2] = np.round(255 * red).astype(np.uint8)
    return frame


def maps(people, cells: int = 16):
    """Fabricated (centre, size, offset) maps with a peak per (row, col, score, w, h, dx, dy)."""
    centre = np.zeros((1, cells, cells), np.float32)
    size = np.zeros((2, cells, cells), np.float32)
    offset = np.full((2, cells, cells), 0.5, np.float32)
    for r, c, score, w, h, dx, dy in people:
        centre[0, r, c] = score
        size[:, r, c] = (w, h)
        offset[:, r, c] = (dx, dy)
    return centre, size, offset


def test_decode_finds_two_people_at_their_cells():
    extents, scores = decode(*maps([(3, 4, 0.9, 20, 40, 0.25, 0.75), (10, 12, 0.7, 16, 30, 0.5, 0.5)]), 4, 0.5)
    assert scores.tolist() == pytest.approx([0.9, 0.7])
    cx, cy = 4 * (4 + 0.25) - 0.5, 4 * (3 + 0.75) - 0.5  # the contract's cell -> pixel rule
    np.testing.assert_allclose(extents[0], [cx - 10, cy - 20, cx + 10, cy + 20])
    np.testing.assert_allclose(extents[1], [4 * 12.5 - 0.5 - 8, 4 * 10.5 - 0.5 - 15, 4 * 12.5 - 0.5 + 8,
                                            4 * 10.5 - 0.5 + 15])


def test_decode_threshold_peaks_suppression_and_limit():
    people = [(3, 4, 0.9, 20, 40, 0.5, 0.5), (10, 12, 0.45, 16, 30, 0.5, 0.5)]
    assert len(decode(*maps(people), 4, 0.5)[1]) == 1  # below the threshold
    assert len(decode(*maps(people), 4, 0.4)[1]) == 2
    assert len(decode(*maps(people), 4, 0.4, max_people=1)[1]) == 1
    # A neighbour of a peak is no peak of its own; two peaks on one person are suppressed.
    centre, size, offset = maps([(3, 4, 0.9, 40, 40, 0.5, 0.5), (3, 5, 0.8, 40, 40, 0.5, 0.5),
                                 (3, 6, 0.85, 40, 40, 0.0, 0.5)])
    assert local_peaks(centre[0])[3, 4] and not local_peaks(centre[0])[3, 5]
    extents, scores = decode(centre, size, offset, 4, 0.5)
    assert scores.tolist() == pytest.approx([0.9])  # the third peak's box overlaps the first's by 34/46
    assert len(decode(centre, size, offset, 4, 0.5, suppress_iou=0.8)[1]) == 2
    # Nobody: an empty answer, not an error.
    extents, scores = decode(*maps([]), 4, 0.5)
    assert extents.shape == (0, 4) and scores.shape == (0,)


@pytest.mark.parametrize("out", [(SIZE, SIZE), (SIZE, 2 * SIZE), (3 * SIZE // 2, SIZE // 2)])
@pytest.mark.parametrize("shape", [(480, 640), (640, 360), (37, 301), (1, 1)])
def test_letterbox_zero_border_matches_the_opencv_chain(shape, out, rng):
    H, W = shape
    rows, cols = out
    frame = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    A = letterbox_affine(W, H, cols, rows)[None]
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    border = tuple(255 * m for m in mean)
    ours = crop_normalise(frame, A, out, mean, std, border=border)
    ref = crop_normalise_reference(frame, A, out, mean, std, border=border)
    assert ours.shape == ref.shape == (1, 3, rows, cols)
    assert np.abs(ours - ref).max() * 255 * max(std) < 6.0  # OpenCV: 1/32-pixel steps, a whole-level border
    # Outside the frame the input is 0 after normalisation, as the contract says.
    corners = apply_affine(A[0], np.array([[-0.5, -0.5], [W - 0.5, H - 0.5]]))
    reach = int(np.ceil(A[0, 0, 0])) + 1  # bilinear taps blend the border in up to a frame pixel away
    (x0, y0), (x1, y1) = np.floor(corners[0]).astype(int) - reach, np.ceil(corners[1]).astype(int) + reach
    outside = np.ones((rows, cols), bool)
    outside[max(y0, 0):y1, max(x0, 0):x1] = False
    assert np.abs(ours[0][:, outside]).max(initial=0.0) < 1e-6


@pytest.mark.parametrize("multiple", [None, 8])
@pytest.mark.parametrize("wh", [(640, 480), (360, 640), (200, 900)])
def test_detections_map_back_to_the_frame_for_portrait_and_landscape(tmp_path, wh, multiple):
    W, H = wh
    det = PersonDetector(blob_detector(tmp_path / "det.onnx", multiple=multiple), margin=0.2, device="cpu")
    w, h = (SIZE, SIZE) if multiple is None else fit_shape(W, H, SIZE, multiple)
    assert det.any_shape == (multiple is not None) and det.input_shape((H, W, 3)) == (h, w)
    assert det.preprocess(np.zeros((H, W, 3), np.uint8)).shape == (1, 3, h, w)
    scale = min(w / W, h / H)  # frame pixels -> input pixels
    people = [(0.3 * W, 0.4 * H), (0.75 * W, 0.7 * H)]
    found = det(red_blobs(W, H, people, sigma=4.0 / scale))
    assert len(found) == 2 and all(0.5 <= d.score <= 1.0 for d in found)
    centres = sorted(((d.extent[0] + d.extent[2]) / 2, (d.extent[1] + d.extent[3]) / 2) for d in found)
    np.testing.assert_allclose(centres, sorted(people), atol=2.5 / scale)  # within a cell's half
    for d in found:
        np.testing.assert_allclose(d.extent[2:] - d.extent[:2], np.array([24.0, 40.0]) / scale, rtol=1e-6)
        # The pose crop: a square of (1 + 2 margin) times the longer side, around the extent's centre.
        np.testing.assert_allclose(d.box, [*(d.extent[:2] + d.extent[2:]) / 2, 1.4 * 40.0 / scale], rtol=1e-6)
    assert det(np.zeros((H, W, 3), np.uint8)) == []  # nobody: an empty list


def test_any_shape_input_keeps_the_frame_aspect_in_about_the_square_pixels():
    for W, H in ((1768, 994), (640, 480), (1088, 1920), (300, 300), (5000, 40), (1, 1)):
        w, h = fit_shape(W, H, 256, 32)
        assert w % 32 == 0 and h % 32 == 0 and 32 <= min(w, h) and max(w, h) <= 1024
        if max(W, H) / min(W, H) < 3:  # the aspect kept to a multiple's rounding, about 256 x 256 pixels
            assert abs(np.log((w / h) / (W / H))) < np.log((min(w, h) + 16) / min(w, h)) + 1e-9
            assert 0.75 < w * h / 256**2 < 1.3
    assert fit_shape(1768, 994, 256, 32) == (352, 192)  # people 1.33 x larger than in the 256 square
    # The letterbox onto a rectangle: the frame centred and scaled to fit; a square output is the old one.
    for W, H in ((640, 480), (37, 301)):
        np.testing.assert_allclose(letterbox_affine(W, H, 64, 64), box_to_affine(frame_box(W, H), 64), atol=1e-12)
    A = letterbox_affine(1768, 994, 352, 192)
    corners = apply_affine(A, np.array([[-0.5, -0.5], [1767.5, 993.5]]))
    np.testing.assert_allclose(corners[:, 1], [-0.5, 191.5], atol=1e-9)  # the frame's height fills the input
    assert corners[0, 0] > -0.5 and corners[1, 0] < 351.5  # thin bars left and right, centred
    np.testing.assert_allclose(corners[0, 0] + 0.5, 351.5 - corners[1, 0], atol=1e-9)


def test_empty_and_malformed_frames_are_refused_clearly(tmp_path):
    det = PersonDetector(blob_detector(tmp_path / "det.onnx"), device="cpu")
    with pytest.raises(ValueError, match="empty frame"):
        det(np.zeros((0, 640, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        check_frame(np.zeros((10, 10), np.uint8))
    assert det(np.full((1, 1, 3), 255, np.uint8)) != []  # one red pixel is a whole (tiny) frame


def test_bad_detector_files_get_messages_naming_them(tmp_path, tiny_onnx):
    with pytest.raises(ModelError, match="detector file not found: .*absent.onnx"):
        PersonDetector(tmp_path / "absent.onnx")
    if not default_detector_path().is_file():
        with pytest.raises(ModelError, match="no person detector is installed.*--bbox.*--full-image"):
            PersonDetector(None)
    with pytest.raises(ModelError, match="tiny.onnx: not a pose3d person detector: it is a pose model"):
        PersonDetector(tiny_onnx, device="cpu")
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="junk.onnx: onnxruntime cannot load it"):
        PersonDetector(tmp_path / "junk.onnx", device="cpu")
    bad = blob_detector(tmp_path / "v2.onnx", meta={METADATA_KEY: json.dumps({"format": 2})})
    with pytest.raises(ModelError, match="v2.onnx: detector format 2"):
        PersonDetector(bad, device="cpu")
    bad = blob_detector(tmp_path / "half.onnx", meta={METADATA_KEY: json.dumps({"format": 1, "input_size": 64})})
    with pytest.raises(ModelError, match="half.onnx: malformed"):
        PersonDetector(bad, device="cpu")


def test_decode_agrees_with_the_training_side(rng):
    """The runtime's decode and the one validation uses (pose3d.models.detector, torch side) agree."""
    pytest.importorskip("torch")
    from pose3d.models import detector as training

    centre = rng.random((1, 1, 16, 16)).astype(np.float32)
    size = rng.uniform(5, 40, size=(1, 2, 16, 16)).astype(np.float32)
    offset = rng.random((1, 2, 16, 16)).astype(np.float32)
    for threshold, people, overlap in ((0.5, 10, 0.6), (0.2, 3, 0.3), (0.95, 10, 0.6)):
        (want, want_scores), = training.decode(centre, size, offset, threshold, people, overlap)
        got, got_scores = decode(centre[0], size[0], offset[0], training.STRIDE, threshold, people, overlap)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(got_scores, want_scores, rtol=1e-6)


def test_the_frame_size_can_be_chosen_where_the_file_takes_any_shape(tmp_path):
    free = blob_detector(tmp_path / "free.onnx", multiple=32)
    frame = red_blobs(640, 480, [(320, 240)], sigma=30)
    assert PersonDetector(free, device="cpu").input_shape(frame.shape) == PersonDetector(
        free, device="cpu", frame_size=SIZE).input_shape(frame.shape)  # the file's own size by default
    big = PersonDetector(free, device="cpu", frame_size=4 * SIZE)
    rows, cols = big.input_shape(frame.shape)
    assert rows % 32 == cols % 32 == 0 and abs(rows * cols / (4 * SIZE) ** 2 - 1) < 0.2 and cols > rows
    assert big.preprocess(frame).shape == (1, 3, rows, cols) and len(big(frame)) == 1  # the blob, found as before
    with pytest.raises(ValueError, match="positive multiple of 32, got 100"):
        PersonDetector(free, device="cpu", frame_size=100)
    square = blob_detector(tmp_path / "square.onnx")
    with pytest.raises(ValueError, match=f"takes {SIZE} x {SIZE} squares only"):
        PersonDetector(square, device="cpu", frame_size=2 * SIZE)
    r = CliRunner().invoke(run_main, ["--webcam", "--detector", str(square), "--detector-size", "128"])
    assert r.exit_code == 2 and "--detector-size" in r.output and "squares only" in r.output
