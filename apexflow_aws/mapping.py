"""The analyze function's Kinesis event-source mapping, defined once: the CDK app deploys these values
(``infra.names.Settings`` takes them as defaults, each overridable with CDK context) and local mode's
mapping (``apexflow_local.esm``) runs with them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MappingSettings:
    batch_size: int = 1000                 # a full batch only in catch-up; live, the window closes first
    batching_window_seconds: int = 2
    parallelization_factor: int = 2        # batches of one shard at once, each partition key in order
    retry_attempts: int = 3                # then the records go to the failed-batches destination
    max_record_age_seconds: int = 3600     # older records go there without being processed
    bisect_batch_on_error: bool = True     # a function error splits the batch in two before retrying


ANALYZE = MappingSettings()
