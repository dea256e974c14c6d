# Sourced by the device scripts, from the repository root: the bare machine's Python made ready.
# Installs the carried wheels (DEVRUN/whl: array-api-compat, which its image lacks) into /tmp/site and
# links the runtime and export folders under their import names (no pip install -e there).
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 NUMBA_THREADING_LAYER=forksafe
mkdir -p /tmp/site; python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "${DEVRUN:-.devrun}"/whl/*.whl 2>/dev/null
ln -sfn "$PWD/runtime" /tmp/site/pose3d_runtime; ln -sfn "$PWD/export" /tmp/site/pose3d_export
export PYTHONPATH=/tmp/site:$PWD
