"""Do pose3d's runtime dependencies resolve on every platform it supports? Checked from any machine.

    python tools/check_install_platforms.py             # a wheel for each requirement, per platform (~20 s)
    python tools/check_install_platforms.py --resolve   # also a full `pip install --dry-run` per platform
                                                        # (pip downloads the wheels: 100-300 MB each)

For each target (macOS arm64 and x86_64, Windows x64, Linux x86_64 and aarch64, CPython 3.11), the
environment markers in pyproject.toml are evaluated as that platform would (pip evaluates them for the
machine it runs on, even with --platform), and pip is asked, with --platform and --only-binary, which
versions of each selected requirement have a wheel there. Needs PyPI; exit status 0 when every target
resolves, 1 when one does not, 2 when PyPI cannot be reached.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
PYTHON = "3.11"
INDEX = "https://pypi.org/simple"

# name: (marker environment, pip --platform tag; a tag admits older compatible ones, e.g. macOS 11-14)
TARGETS = {
    "macOS arm64": ({"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin", "os_name": "posix"},
                    "macosx_14_0_arm64"),
    "macOS x86_64": ({"sys_platform": "darwin", "platform_machine": "x86_64", "platform_system": "Darwin", "os_name": "posix"},
                     "macosx_14_0_x86_64"),
    "Windows x64": ({"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows", "os_name": "nt"},
                    "win_amd64"),
    "Linux x86_64": ({"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux", "os_name": "posix"},
                     "manylinux_2_28_x86_64"),
    "Linux aarch64": ({"sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux", "os_name": "posix"},
                      "manylinux_2_28_aarch64"),
}


def runtime_requirements(pyproject: Path = PYPROJECT) -> list[Requirement]:
    """The [project] dependencies (what `pip install pose3d` installs), markers included."""
    return [Requirement(r) for r in tomllib.loads(pyproject.read_text())["project"]["dependencies"]]


def marker_environment(target: str) -> dict[str, str]:
    env, _ = TARGETS[target]
    return {**env, "python_version": PYTHON, "python_full_version": f"{PYTHON}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython"}


def requirements_for(target: str, requirements: list[Requirement] | None = None) -> list[Requirement]:
    """The requirements whose markers hold on ``target``."""
    env = marker_environment(target)
    reqs = runtime_requirements() if requirements is None else requirements
    return [r for r in reqs if r.marker is None or r.marker.evaluate(env)]


def _pip(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    # --isolated: PyPI itself, not this machine's pip configuration (local indexes, constraints).
    return subprocess.run([sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=timeout)


def pypi_reachable() -> bool:
    try:
        return _pip("index", "versions", "pip", "--index-url", INDEX, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def wheel_versions(requirement: Requirement, target: str) -> list[str]:
    """Versions of ``requirement`` that satisfy its specifier and have a wheel for ``target``."""
    _, platform = TARGETS[target]
    r = _pip("index", "versions", requirement.name, "--index-url", INDEX, "--platform", platform,
             "--python-version", PYTHON, "--implementation", "cp", "--only-binary=:all:")
    match = re.search(r"^Available versions: (.*)$", r.stdout, re.M)
    versions = match.group(1).split(", ") if match else []
    return [v for v in versions if requirement.specifier.contains(v, prereleases=False)]


def dry_run(target: str) -> tuple[bool, str]:
    """A full resolution of the target's requirements with pip install --dry-run (downloads wheels)."""
    _, platform = TARGETS[target]
    with tempfile.TemporaryDirectory() as tmp:
        r = _pip("install", "--dry-run", "--ignore-installed", "--target", tmp, "--index-url", INDEX,
                 "--platform", platform, "--python-version", PYTHON, "--implementation", "cp", "--only-binary=:all:",
                 *[str(Requirement(f"{q.name}{q.specifier}")) for q in requirements_for(target)], timeout=1800)
    if r.returncode == 0:
        lines = [line for line in r.stdout.splitlines() if line.startswith("Would install")]
        return True, lines[0] if lines else "resolved"
    return False, (r.stderr.strip().splitlines() or ["pip failed"])[-1]


def check(targets: list[str] | None = None) -> dict[str, dict[str, str | None]]:
    """target -> requirement name -> the newest version with a wheel there (None: no wheel)."""
    targets = list(TARGETS) if targets is None else targets
    jobs = [(t, r) for t in targets for r in requirements_for(t)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda job: wheel_versions(job[1], job[0]), jobs))
    result: dict[str, dict[str, str | None]] = {t: {} for t in targets}
    for (t, r), versions in zip(jobs, found):
        result[t][r.name] = versions[0] if versions else None
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolve", action="store_true", help="also a full pip install --dry-run per platform")
    args = parser.parse_args()
    if not pypi_reachable():
        print(f"cannot reach {INDEX}", file=sys.stderr)
        return 2
    ok = True
    for target, found in check().items():
        missing = [name for name, version in found.items() if version is None]
        ok &= not missing
        print(f"{target:14s} {'ok     ' if not missing else 'MISSING'} "
              + ", ".join(f"{n} {v or '-'}" for n, v in found.items()))
        if args.resolve:
            good, line = dry_run(target)
            ok &= good
            print(f"{'':14s} {'ok     ' if good else 'FAILED '} {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
