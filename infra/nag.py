"""cdk-nag acknowledgements: every one names its rule and carries a reason."""
from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

LAMBDA_BASIC = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_VPC = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``AwsSolutions-<rule>`` (``IAM5[Resource::*]`` style for one finding) on scope and its children."""
    if len(reason.split()) < 6:
        raise ValueError(f"acknowledgement of {rule} needs a real reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions-{rule}", reason=reason))


def acknowledge_function_role(scope: IConstruct, *, in_vpc: bool) -> None:
    """The findings every function role shares: AWS managed execution policies and X-Ray's wildcard."""
    acknowledge(scope, f"IAM4[{LAMBDA_BASIC}]",
                "AWS managed policy limited to writing this function's own CloudWatch log streams.")
    if in_vpc:
        acknowledge(scope, f"IAM4[{LAMBDA_VPC}]",
                    "AWS managed policy that lets Lambda manage the ENIs a function in a VPC needs.")
    acknowledge(scope, "IAM5[Resource::*]",
                "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions.")


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct's resource, as findings quote it."""
    return Stack.of(construct).get_logical_id(construct.node.default_child)
