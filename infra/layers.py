"""Lambda layers: ``core`` (numpy, psycopg2, Powertools, apexflow, apexflow_aws), ``insights`` (openai) and
``report`` (plotly, for the API's session report; never in the analyze function).

They are built without Docker by ``python -m layers.build`` into ``settings.layers_dir``.
"""
from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.function import architecture, runtime
from infra.names import REPO_ROOT, Settings


class Layers(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: Settings) -> None:
        super().__init__(scope, id)
        root = Path(settings.layers_dir)
        root = root if root.is_absolute() else REPO_ROOT / root
        self.core = self._layer("Core", root / "core", settings,
                                "numpy, psycopg2, Powertools and the apexflow packages")
        self.insights = self._layer("Insights", root / "insights", settings, "the OpenAI client")
        self.report = self._layer("Report", root / "report", settings, "plotly, for the session report")

    def _layer(self, id: str, path: Path, settings: Settings, description: str) -> lambda_.LayerVersion:
        if not (path / "python").is_dir():
            raise FileNotFoundError(f"layer {path} is not built: run `python -m layers.build` "
                                    "(or point -c layersDir=... at a built copy)")
        return lambda_.LayerVersion(self, id, code=lambda_.Code.from_asset(str(path)), description=description,
                                    compatible_runtimes=[runtime(settings)],
                                    compatible_architectures=[architecture(settings)])
