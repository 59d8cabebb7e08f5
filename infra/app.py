"""CDK entry point (``cdk.json`` runs ``python -m infra.app``): the stack, checked by cdk-nag's AWS Solutions rules."""
from __future__ import annotations

import os

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.names import Settings
from infra.stack import ApexFlowStack


def build(app: App | None = None) -> tuple[App, ApexFlowStack]:
    app = app or App()
    settings = Settings.from_context(app.node)
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    stack = ApexFlowStack(app, settings.stack_name, settings=settings,
                          env=Environment(account=account, region=region) if account and region else None)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))
    return app, stack


if __name__ == "__main__":
    build()[0].synth()
