"""Import the Lambda handler files (``functions/<name>/handler.py``) as Lambda does: by path."""
from __future__ import annotations

import importlib.util
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def load(name: str):
    path = FUNCTIONS / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"apexflow_function_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
