"""The analyze handler stays light: no pandas, no FastF1, and domain code imports nothing from AWS."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_analyze_handler_imports_neither_pandas_nor_fastf1():
    code = (
        "import sys, json, importlib.util\n"
        "spec = importlib.util.spec_from_file_location('h', 'functions/analyze/handler.py')\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in ('pandas', 'fastf1'))))\n"
    )
    env = {"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_detection_code_imports_nothing_from_aws():
    code = (
        "import sys, json\n"
        "import apexflow.detect, apexflow.detect.f1.laps, apexflow.pipeline.detect_file\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in "
        "('boto3', 'botocore', 'aws_lambda_powertools', 'pandas', 'fastf1'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
