"""Human3.6M: read the three distributions users hold and prepare them for training and evaluation.

Modules, one job each: ``names`` (actions, takes, subjects), ``protocols`` (splits, frame strides),
``layout`` (which distribution a folder holds), ``official`` / ``jpeg`` / ``archive`` (one reader per
layout, ../shared/h36m/FORMATS.md), ``source`` (what readers hand over), ``prepare`` (crops and labels),
``store`` (the files, written atomically and validated), ``dataset`` (random access for training).

FORMAT of a prepared set (version 1), in the folder given to ``pose3d-prepare h36m --out``:

    options.json                 how the set is made (layout, source root, split and strides, subjects,
                                 crop size and margin); a resumed run must match it
    chunks/<S>.<Action>.<take>.<camera id>/     one recording seen by one camera, N samples
        crops.npy                (N, 128, 128, 3) uint8 RGB person crops; absent for 3D-only sets
        labels.npz               frame (N,) int32, 0-based frame number in the recording
                                 pose_world (N, 17, 3) float32, world mm
                                 pose_cam (N, 17, 3) float32, camera frame mm (X right, Y down, Z forward)
                                 joints_2d (N, 17, 2) float32, full-frame pixels (lens distortion applied)
                                 box (N, 3) float32, square crop box (cx, cy, side) in full-frame pixels;
                                 crop pixels = pose3d.crop.box_to_affine(box, 128) applied to frame pixels
        meta.json                subject, action (standard name), take (0: none in the source name),
                                 camera id and parameters (pose3d.camera.Camera.to_dict), role (train or
                                 test), frame stride, source files, notes, count
    manifest.json                written last: counts per subject / action / camera / role, the chunk
                                 list, every problem met (file, kind, message) and notes

Joints follow ``pose3d.skeleton.H36M17``. A chunk folder appears by one atomic rename, so it is
always whole; the crops are fixed-size uint8 arrays read by memory map, a row at a time.
"""

from pose3d.data.h36m.dataset import PreparedH36M
from pose3d.data.h36m.names import ACTIONS, parse_action
from pose3d.data.h36m.prepare import Report, prepare
from pose3d.data.h36m.protocols import SPLITS, Split, make_split

__all__ = ["ACTIONS", "PreparedH36M", "Report", "SPLITS", "Split", "make_split", "parse_action", "prepare"]
