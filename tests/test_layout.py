"""House rules that keep the code path one: domain without AWS, handlers light, migrations repeatable."""
import ast
import subprocess
import sys
from pathlib import Path

from apexflow.storage.migrate import available, migrate

ROOT = Path(__file__).resolve().parents[1]
AWS_MODULES = {"boto3", "botocore", "aws_lambda_powertools", "moto", "aws_xray_sdk", "apexflow_aws"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_domain_package_imports_nothing_from_aws():
    """No exception: the command line, which drives the local adapters, lives with them (``apexflow_local/``)."""
    offenders = {str(p.relative_to(ROOT)): imported_roots(p) & AWS_MODULES for p in (ROOT / "apexflow").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_nothing_lambda_runs_imports_local_mode():
    """Local mode (``apexflow_local``) is not shipped to Lambda: it hands the handlers what they call instead."""
    shipped = [*(ROOT / "apexflow").rglob("*.py"), *(ROOT / "apexflow_aws").rglob("*.py"),
               *(ROOT / "functions").rglob("*.py")]
    offenders = {str(p.relative_to(ROOT)) for p in shipped if "apexflow_local" in imported_roots(p)}
    assert offenders == set()


def test_the_core_layer_ships_no_local_mode():
    from layers.build import APP_PACKAGES

    assert "apexflow_local" not in APP_PACKAGES and {"apexflow", "apexflow_aws"} <= set(APP_PACKAGES)


def test_every_function_has_a_thin_handler():
    for name in ("ingest", "analyze", "insights", "api"):
        handler = ROOT / "functions" / name / "handler.py"
        assert handler.is_file(), name
        assert len(handler.read_text().splitlines()) < 120, f"{name} handler should only adapt events"


def test_analyze_handler_loads_without_pandas_or_fastf1():
    code = ("import sys; sys.path[:0] = ['functions/analyze']; import handler; "
            "print(sorted(m for m in ('pandas', 'fastf1', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
                              "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"


def test_migrations_are_numbered_and_apply_once(dsn, db):
    versions = [v for v, _, _ in available()]
    assert versions == sorted(set(versions)) and versions[0] == 1
    assert migrate(dsn) == []  # the test database is already migrated: nothing to do
    with db.cursor() as cur:
        cur.execute("SELECT array_agg(version ORDER BY version) FROM schema_migrations")
        assert cur.fetchone()[0] == versions
