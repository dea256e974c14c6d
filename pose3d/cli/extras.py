"""Commands that need the training extra say so, instead of failing with ModuleNotFoundError.

A runtime-only install (``pip install pose3d``) puts every command on PATH but installs neither
torch, onnx, matplotlib nor cdflib; each command calls ``require`` before its first import of one.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import click

# The extra that installs each optional module (pyproject.toml, [project.optional-dependencies]).
EXTRA_OF = {"torch": "train", "onnx": "train", "matplotlib": "train", "cdflib": "train"}


class MissingExtra(click.ClickException):
    """An optional module is not installed; the message names the extra to install."""


def require(module: str, command: str, purpose: str = "") -> ModuleType:
    """Import ``module`` (e.g. "torch") and return it, or raise ``MissingExtra`` (a ClickException,
    exit status 1) saying which extra of pose3d installs it. ``purpose`` completes "``command`` needs
    ``module`` ..." (e.g. "for --report")."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        missing = (getattr(e, "name", None) or module).split(".")[0]
        if missing != module.split(".")[0]:
            raise  # the module is there but something it needs is not: its own error says more
        extra = EXTRA_OF.get(module.split(".")[0], "train")
        raise MissingExtra(f"{command} needs {module}{' ' + purpose if purpose else ''}, which is not installed "
                           f"(a runtime-only install leaves it out): pip install \"pose3d[{extra}]\"") from None


def require_all(modules: tuple[str, ...], command: str, purpose: str = "") -> None:
    """``require`` each of ``modules`` in turn."""
    for module in modules:
        require(module, command, purpose)
