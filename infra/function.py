"""The one way a zip Lambda is made here: Python runtime, Powertools settings, tracing, bounded logs."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import names
from infra.nag import acknowledge, acknowledge_function_role
from infra.names import Settings


def runtime(settings: Settings) -> lambda_.Runtime:
    return lambda_.Runtime(f"python{settings.python_version}", lambda_.RuntimeFamily.PYTHON)


def architecture(settings: Settings) -> lambda_.Architecture:
    return {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}[settings.architecture]


def log_group(scope: Construct, id: str, settings: Settings) -> logs.LogGroup:
    return logs.LogGroup(scope, id, retention=logs.RetentionDays[settings.log_retention],
                         removal_policy=RemovalPolicy.DESTROY)


def powertools_environment(settings: Settings, service: str) -> dict[str, str]:
    return {
        "POWERTOOLS_SERVICE_NAME": names.SERVICES[service],
        "POWERTOOLS_METRICS_NAMESPACE": names.METRICS_NAMESPACE,
        "LOG_LEVEL": "INFO",
    }


def python_function(scope: Construct, id: str, *, settings: Settings, service: str,
                    layers: list[lambda_.ILayerVersion], vpc: ec2.IVpc,
                    subnets: ec2.SubnetSelection, security_groups: list[ec2.ISecurityGroup],
                    environment: dict[str, str], memory_mb: int = 512, timeout_seconds: int = 60,
                    handler: str = "handler.handler", reserved_concurrency: int = 0) -> lambda_.Function:
    """A function from ``functions/<service>/`` on the shared layers, inside the VPC."""
    fn = lambda_.Function(
        scope, id,
        runtime=runtime(settings),
        architecture=architecture(settings),
        code=lambda_.Code.from_asset(str(names.REPO_ROOT / names.FUNCTION_DIRS[service]),
                                     exclude=["__pycache__", "*.pyc"]),
        handler=handler,
        layers=layers,
        memory_size=memory_mb,
        reserved_concurrent_executions=reserved_concurrency or None,
        timeout=Duration.seconds(timeout_seconds),
        tracing=lambda_.Tracing.ACTIVE,
        vpc=vpc, vpc_subnets=subnets, security_groups=security_groups,
        environment={**powertools_environment(settings, service), **environment},
        log_group=log_group(scope, f"{id}Logs", settings),
    )
    acknowledge_function_role(fn, in_vpc=True)
    acknowledge(fn, "L1", f"Pinned to python{settings.python_version} to match the layers' wheels "
                          "(pip --python-version); both move together in infra/names.py.")
    return fn
