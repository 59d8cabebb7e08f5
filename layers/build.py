"""Build the Lambda layers without Docker, then report every zip function's bundle size.

Wheels come from PyPI for Lambda's platform (``pip --platform manylinux... --only-binary=:all:``),
so nothing is compiled here. ``core`` holds the project's base dependencies (less the AWS SDK,
which the Lambda runtime provides) and the ``apexflow`` and ``apexflow_aws`` packages;
``insights`` adds the ``insights`` extra (openai), ``report`` the ``report`` extra (plotly, for the
API's session report) and the page's plotly.js (npm's basic bundle, from ``npm ci``). ``cdk.json`` runs this as
its build step.

    python -m layers.build [--architecture x86_64|arm64] [--out layers/dist]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from infra import names
from infra.names import Settings, manylinux_platforms

PROVIDED_BY_RUNTIME = {"boto3", "botocore", "s3transfer"}
APP_PACKAGES = ("apexflow", "apexflow_aws")
# Which layers each zip function carries (see infra/): the analyze bundle is core alone.
BUNDLES = {"analyze": ("core",), "api": ("core", "report"), "migrate": ("core",), "insights": ("core", "insights")}
FORBIDDEN_IN_CORE = ("pandas", "fastf1", "plotly")
REPORT_JS = names.REPO_ROOT / "node_modules" / "plotly.js-basic-dist-min" / "plotly-basic.min.js"


def requirements() -> dict[str, list[str]]:
    project = tomllib.loads((names.REPO_ROOT / "pyproject.toml").read_text())["project"]
    core = [r for r in project["dependencies"] if _name(r) not in PROVIDED_BY_RUNTIME]
    extras = project["optional-dependencies"]
    return {"core": core, "insights": extras["insights"], "report": extras["report"]}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def build_layer(name: str, reqs: list[str], out: Path, settings: Settings) -> Path:
    target = out / name / "python"
    shutil.rmtree(out / name, ignore_errors=True)
    platforms = [arg for p in manylinux_platforms(settings.architecture) for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--target", str(target), *platforms, "--only-binary=:all:",
                    "--python-version", settings.python_version, "--implementation", "cp",
                    "--no-compile", *reqs], check=True)
    for package in PROVIDED_BY_RUNTIME:
        for path in target.glob(f"{package}*"):
            if path.name == package or path.name.startswith(f"{package}-"):
                shutil.rmtree(path)
    if name == "core":
        for package in APP_PACKAGES:
            shutil.copytree(names.REPO_ROOT / package, target / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", REPORT_JS.name))
        found = [p for p in FORBIDDEN_IN_CORE if (target / p).exists()]
        if found:
            raise SystemExit(f"core layer must not contain {found}")
    if name == "report":  # the page's plotly.js, beside apexflow/report/ once the layers are merged in /opt
        if not REPORT_JS.is_file():
            raise SystemExit(f"{REPORT_JS} is missing: run `npm ci` (make synth runs it)")
        (target / "apexflow" / "report").mkdir(parents=True)
        shutil.copy(REPORT_JS, target / "apexflow" / "report" / REPORT_JS.name)
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache)
    return out / name


def unzipped_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def zipped_size(root: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "bundle.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(root))
        return archive.stat().st_size


def report(layer_dirs: dict[str, Path]) -> dict:
    parts = {f"layer:{name}": path for name, path in layer_dirs.items()}
    parts |= {f"code:{fn}": names.REPO_ROOT / names.FUNCTION_DIRS[fn] for fn in BUNDLES}
    sizes = {part: {"unzipped": unzipped_size(path), "zipped": zipped_size(path)} for part, path in parts.items()}
    bundles = {}
    for fn, layers in BUNDLES.items():
        members = [f"code:{fn}", *(f"layer:{layer}" for layer in layers)]
        bundles[fn] = {"parts": members,
                       "unzipped": sum(sizes[m]["unzipped"] for m in members),
                       "largest_zip": max(sizes[m]["zipped"] for m in members),
                       "zipped": sum(sizes[m]["zipped"] for m in members)}
        bundles[fn]["within_limits"] = (bundles[fn]["unzipped"] <= names.LAMBDA_UNZIPPED_LIMIT
                                        and bundles[fn]["largest_zip"] <= names.LAMBDA_ZIPPED_LIMIT)
    return {"parts": sizes, "bundles": bundles}


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default=os.environ.get("APEXFLOW_ARCHITECTURE", defaults.architecture),
                        choices=("x86_64", "arm64"))
    parser.add_argument("--out", type=Path, default=names.REPO_ROOT / defaults.layers_dir)
    args = parser.parse_args(argv)
    settings = Settings(architecture=args.architecture)
    layer_dirs = {name: build_layer(name, reqs, args.out, settings) for name, reqs in requirements().items()}
    result = report(layer_dirs)
    result["architecture"] = settings.architecture
    (args.out / "sizes.json").write_text(json.dumps(result, indent=2))
    print(f"{'bundle':<10} {'unzipped':>10} {'zipped':>10} {'largest zip':>12}  "
          "limits: 250 MiB unzipped, 50 MiB per zip")
    for fn, b in result["bundles"].items():
        print(f"{fn:<10} {_mb(b['unzipped']):>10} {_mb(b['zipped']):>10} {_mb(b['largest_zip']):>12}  "
              f"{'ok' if b['within_limits'] else 'OVER LIMIT'}  ({' + '.join(b['parts'])})")
    return 0 if all(b["within_limits"] for b in result["bundles"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
