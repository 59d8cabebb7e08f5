"""Database migrations applied at deploy time, and the app and read-only logins they create."""
from __future__ import annotations

import hashlib

from aws_cdk import CustomResource
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra import names
from infra.data import Data
from infra.function import log_group, python_function
from infra.layers import Layers
from infra.nag import acknowledge, acknowledge_function_role, logical_id
from infra.names import Settings
from infra.network import Network


def migrations_fingerprint() -> str:
    """Changes whenever a migration file does, so the custom resource re-runs on deploy."""
    digest = hashlib.sha256()
    for path in sorted((names.REPO_ROOT / names.MIGRATIONS_DIR).glob("*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Migrations(Construct):
    """A custom resource whose handler runs ``apexflow.storage.migrate`` as the owner login, then
    creates or updates the app (read/write rows) and read-only (BI) logins from their secrets.
    Those secrets start rotating once the logins exist."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, network: Network, data: Data,
                 layers: Layers) -> None:
        super().__init__(scope, id)
        self.function = python_function(
            self, "Function", settings=settings, service="migrate", layers=[layers.core],
            vpc=network.vpc, subnets=network.function_subnets, security_groups=[network.function_sg],
            environment={"DATABASE_SECRET_ARN": data.admin_secret.secret_arn,
                         "DATABASE_HOST": data.proxy.endpoint, "DATABASE_NAME": names.DATABASE_NAME,
                         "APP_SECRET_ARN": data.app_secret.secret_arn,
                         "READONLY_SECRET_ARN": data.readonly_secret.secret_arn},
            timeout_seconds=300)
        for secret in (data.admin_secret, data.app_secret, data.readonly_secret):
            secret.grant_read(self.function)

        provider = cr.Provider(self, "Provider", on_event_handler=self.function,
                               log_group=log_group(self, "ProviderLogs", settings))
        acknowledge_function_role(provider, in_vpc=False)
        acknowledge(provider, f"IAM5[Resource::<{logical_id(self.function)}.Arn>:*]",
                    "The provider framework invokes any version of the migrate function only.")
        acknowledge(provider, "L1", "The provider framework's own function; its runtime is chosen by aws-cdk-lib.")

        self.resource = CustomResource(
            self, "Resource", service_token=provider.service_token, resource_type="Custom::ApexFlowMigrations",
            properties={"Migrations": migrations_fingerprint(), "Database": names.DATABASE_NAME,
                        "AppUser": names.APP_USER, "ReadOnlyUser": names.READONLY_USER})
        # The function reaches the proxy and Secrets Manager only once the network and endpoints exist.
        self.resource.node.add_dependency(data.proxy, network)
        for secret in (data.app_secret, data.readonly_secret):
            data.rotate(secret, settings, immediately=False)
            secret.node.find_child("Rotation").node.add_dependency(self.resource)


