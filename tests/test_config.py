"""The functions' database login follows the secret when it rotates (Powertools parameters with a max age)."""
import json
import time

import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from apexflow_aws import config

pytestmark = pytest.mark.integration


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("DATABASE_HOST", "proxy.example")
    parameters.clear_caches()
    with mock_aws():
        import boto3

        manager = boto3.client("secretsmanager")
        arn = manager.create_secret(Name="db/app", SecretString=json.dumps(
            {"username": "app", "password": "one", "port": 5432}))["ARN"]
        monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
        yield lambda password: manager.put_secret_value(SecretId=arn, SecretString=json.dumps(
            {"username": "app", "password": password, "port": 5432}))
    parameters.clear_caches()


def test_a_rotated_password_is_used_once_the_cached_one_expires(secret, monkeypatch):
    assert config.database_dsn() == "postgresql://app:one@proxy.example:5432/apexflow?sslmode=require"
    secret("two")
    assert ":one@" in config.database_dsn()  # within SECRET_MAX_AGE: no call to Secrets Manager
    monkeypatch.setattr(config, "SECRET_MAX_AGE", 1)
    assert ":two@" in config.database_dsn(refresh=True)  # a refused login re-reads at once
    secret("three")
    assert ":two@" in config.database_dsn()
    time.sleep(1.1)
    assert ":three@" in config.database_dsn()  # past its max age, the secret is read again
