"""Data: the raw-chunk bucket, the Kinesis stream, and PostgreSQL behind RDS Proxy with its logins."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import names
from infra.nag import acknowledge
from infra.names import Settings
from infra.network import Network

POSTGRES_PORT = 5432
REQUEST_METRICS_ID = "EntireBucket"


class Data(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: Settings, network: Network) -> None:
        super().__init__(scope, id)
        self._buckets()
        self.stream = kinesis.Stream(
            self, "Stream",
            stream_mode=(kinesis.StreamMode.PROVISIONED if settings.stream_mode == "provisioned"
                         else kinesis.StreamMode.ON_DEMAND),
            shard_count=settings.shard_count if settings.stream_mode == "provisioned" else None,
            encryption=kinesis.StreamEncryption.MANAGED,
            retention_period=Duration.hours(settings.stream_retention_hours),
        )
        self._database(settings, network)

    def _buckets(self) -> None:
        self.access_logs = _bucket(self, "AccessLogs", lifecycle_rules=[
            s3.LifecycleRule(id="expire", expiration=Duration.days(90))])
        acknowledge(self.access_logs, "S1",
                    "This bucket is the access-log destination; logging it to itself would loop.")
        self.raw = _bucket(self, "RawChunks", versioned=True, server_access_logs_bucket=self.access_logs,
                           server_access_logs_prefix="raw/", lifecycle_rules=[
            s3.LifecycleRule(id="tiering", transitions=[
                s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)),
                s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                              transition_after=Duration.days(90))],
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(7))])
        # Kinesis batches the analyze function gave up on, written whole (records included) by Lambda.
        self.failed_batches = _bucket(self, "FailedBatches", server_access_logs_bucket=self.access_logs,
                                      server_access_logs_prefix="failed/",
                                      metrics=[s3.BucketMetrics(id=REQUEST_METRICS_ID)],
                                      lifecycle_rules=[s3.LifecycleRule(id="expire", expiration=Duration.days(90))])

    def _database(self, settings: Settings, network: Network) -> None:
        vpc = network.vpc
        self.db_sg = ec2.SecurityGroup(self, "DatabaseSecurityGroup", vpc=vpc, allow_all_outbound=False,
                                       description="PostgreSQL: reachable from the proxy and the rotation functions")
        self.proxy_sg = ec2.SecurityGroup(self, "ProxySecurityGroup", vpc=vpc,
                                          description="RDS Proxy: reachable from the functions")
        self.rotation_sg = ec2.SecurityGroup(self, "RotationSecurityGroup", vpc=vpc,
                                             description="Secrets Manager rotation functions")
        for peer in (self.proxy_sg, self.rotation_sg):
            self.db_sg.add_ingress_rule(peer, ec2.Port.tcp(POSTGRES_PORT), "PostgreSQL")
        self.proxy_sg.add_ingress_rule(network.function_sg, ec2.Port.tcp(POSTGRES_PORT), "PostgreSQL via proxy")

        engine = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17)
        self.admin_secret = rds.DatabaseSecret(self, "AdminSecret", username=names.ADMIN_USER,
                                               secret_name=settings.secret_name("admin"))
        self.instance = rds.DatabaseInstance(
            self, "Postgres",
            engine=engine,
            instance_type=ec2.InstanceType(settings.db_instance_class),
            vpc=vpc, vpc_subnets=network.database_subnets, security_groups=[self.db_sg],
            credentials=rds.Credentials.from_secret(self.admin_secret),
            database_name=names.DATABASE_NAME,
            port=POSTGRES_PORT,
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=settings.db_allocated_gb,
            max_allocated_storage=settings.db_max_allocated_gb,
            multi_az=settings.db_multi_az,
            publicly_accessible=False,
            backup_retention=Duration.days(settings.db_backup_days),
            delete_automated_backups=False,
            deletion_protection=settings.db_deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT,
            parameter_group=rds.ParameterGroup(self, "Parameters", engine=engine, parameters={
                "rds.force_ssl": "1",
                "password_encryption": "scram-sha-256",
                "log_min_duration_statement": "1000",
            }),
            cloudwatch_logs_exports=["postgresql"],
            auto_minor_version_upgrade=True,
        )
        self.admin_secret = self.instance.secret  # the attached secret: it carries host, port and dbname
        self.app_secret = _login(self, "AppSecret", names.APP_USER, settings.secret_name("app"))
        self.readonly_secret = _login(self, "ReadOnlySecret", names.READONLY_USER, settings.secret_name("readonly"))
        self.proxy = self.instance.add_proxy(
            "Proxy", db_proxy_name=settings.proxy_name, vpc=vpc, vpc_subnets=network.database_subnets,
            security_groups=[self.proxy_sg],
            secrets=[self.admin_secret, self.app_secret, self.readonly_secret],
            require_tls=True, iam_auth=False,
            client_password_auth_type=rds.ClientPasswordAuthType.POSTGRES_SCRAM_SHA_256,
            borrow_timeout=Duration.seconds(30),
            # The only SET the functions send is SET LOCAL statement_timeout, inside the transaction it bounds
            # (apexflow/storage/db.py): no session state for the proxy to pin a connection for.
            session_pinning_filters=[rds.SessionPinningFilter.EXCLUDE_VARIABLE_SETS],
        )
        self.rotation_subnets = network.function_subnets
        self.rotate(self.admin_secret, settings, immediately=True)

        acknowledge(self.instance, "RDS11", "RDS Proxy for PostgreSQL listens on 5432 whatever the instance "
                    "port, and the database is reachable only from the proxy's security group.")
        acknowledge(self.instance, "RDS6", "Logins use Secrets Manager passwords through RDS Proxy with TLS "
                    "required; the proxy, not IAM, is the connection broker for every function.")
        if not settings.db_multi_az:
            acknowledge(self.instance, "RDS3", "Single-AZ by default to keep a season's cost low; "
                        "set -c dbMultiAz=true for production (docs/deploy.md).")

    def rotate(self, secret: secretsmanager.ISecret, settings: Settings, *, immediately: bool) -> None:
        """Single-user rotation by a Secrets Manager hosted function inside the VPC."""
        secret.add_rotation_schedule(
            "Rotation",
            automatically_after=Duration.days(settings.secret_rotation_days),
            rotate_immediately_on_update=immediately,
            hosted_rotation=secretsmanager.HostedRotation.postgre_sql_single_user(
                vpc=self.instance.vpc, vpc_subnets=self.rotation_subnets, security_groups=[self.rotation_sg]),
        )


def _bucket(scope: Construct, id: str, **props) -> s3.Bucket:
    return s3.Bucket(scope, id, encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
                     block_public_access=s3.BlockPublicAccess.BLOCK_ALL, removal_policy=RemovalPolicy.RETAIN,
                     **props)


def _login(data: Data, id: str, username: str, secret_name: str) -> secretsmanager.ISecret:
    """A login's secret, attached to the instance so it carries host, port and database name."""
    return rds.DatabaseSecret(data, id, username=username, secret_name=secret_name).attach(data.instance)
