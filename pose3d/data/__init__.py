"""Data: the embedded pose bank, body-size sampling, and (later) the synthetic renderer and the
Human3.6M readers."""
