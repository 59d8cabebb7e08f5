"""Network: a VPC whose database sits in isolated subnets and whose functions reach AWS through endpoints."""
from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.function import log_group
from infra.nag import acknowledge
from infra.names import Settings


class Network(Construct):
    """Public subnets hold only the NAT gateway(s); functions get private subnets, the database isolated ones.

    S3 is reached through a gateway endpoint, Secrets Manager and Kinesis through interface endpoints;
    the NAT is there for the two calls that must leave AWS: FastF1's timing servers and OpenAI.
    """

    def __init__(self, scope: Construct, id: str, *, settings: Settings) -> None:
        super().__init__(scope, id)
        function_subnet_type = (ec2.SubnetType.PRIVATE_WITH_EGRESS if settings.nat_gateways
                                else ec2.SubnetType.PRIVATE_ISOLATED)
        self.vpc = ec2.Vpc(
            self, "Vpc",
            max_azs=settings.max_azs,
            nat_gateways=settings.nat_gateways,
            subnet_configuration=[
                *([ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)]
                  if settings.nat_gateways else []),
                ec2.SubnetConfiguration(name="functions", subnet_type=function_subnet_type, cidr_mask=22),
                ec2.SubnetConfiguration(name="database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                                        cidr_mask=24),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
            flow_logs={"FlowLogs": ec2.FlowLogOptions(
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(log_group(self, "FlowLogGroup", settings)),
                traffic_type=ec2.FlowLogTrafficType.REJECT)},
        )
        self.function_subnets = ec2.SubnetSelection(subnet_group_name="functions")
        self.database_subnets = ec2.SubnetSelection(subnet_group_name="database")
        for name, service in (("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
                              ("Kinesis", ec2.InterfaceVpcEndpointAwsService.KINESIS_STREAMS)):
            endpoint = self.vpc.add_interface_endpoint(name, service=service, subnets=self.function_subnets,
                                                       private_dns_enabled=True)
            acknowledge(endpoint, "EC23", "The endpoint accepts HTTPS from the VPC's own CIDR only; "
                        "cdk-nag cannot resolve the CIDR token and reports it as open.")
        self.function_sg = ec2.SecurityGroup(self, "FunctionSecurityGroup", vpc=self.vpc,
                                             description="ApexFlow Lambda functions")
