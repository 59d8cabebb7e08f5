"""The Lambda handlers (``functions/<name>/handler.py``), imported as the modules ``functions.<name>.handler``.

Lambda imports each as ``handler`` from its own asset; here they are ordinary modules of the installed
project, so local mode works from any folder, not only from a checkout.
"""
from __future__ import annotations

import importlib
from types import ModuleType


def load(name: str) -> ModuleType:
    return importlib.import_module(f"functions.{name}.handler")
