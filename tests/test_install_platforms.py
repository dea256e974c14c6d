"""The runtime installs on every platform: onnxruntime-gpu where it has wheels, onnxruntime elsewhere."""

import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_install_platforms.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("check_install_platforms", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_platform_gets_exactly_one_onnxruntime(tool):
    gpu = {"Linux x86_64", "Windows x64"}  # where onnxruntime-gpu publishes wheels
    for target in tool.TARGETS:
        names = {r.name for r in tool.requirements_for(target)}
        runtimes = names & {"onnxruntime", "onnxruntime-gpu"}
        assert runtimes == ({"onnxruntime-gpu"} if target in gpu else {"onnxruntime"}), target
        assert {"numpy", "numba", "opencv-python", "click"} <= names and "torch" not in names


@pytest.mark.slow
def test_every_requirement_has_a_wheel_on_every_platform(tool):
    if not tool.pypi_reachable():
        pytest.skip("PyPI cannot be reached")
    found = tool.check()
    missing = {t: [n for n, v in reqs.items() if v is None] for t, reqs in found.items()}
    assert not any(missing.values()), missing
