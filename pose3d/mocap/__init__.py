"""Readers of motion-capture files and their mapping onto the Human3.6M 17-joint skeleton.

- ``bvh``: BVH files (hierarchy + Euler channels), forward kinematics.
- ``cmu38``: the exp-map text format of the 38-joint CMU skeleton, forward kinematics.
- ``to_h36m``: named source joints -> H36M17 poses in a Z-up world, in millimetres.
"""


class MocapError(ValueError):
    """A motion-capture file that cannot be read; the message names the file."""
