"""Kinesis PutRecords within the service limits, in order per partition key, retrying failures.

PutRecords does not order records whose delivery is retried: if a car's record 3 fails and
its record 4 succeeds, a retry of 3 lands after 4. So each call carries at most one record
per partition key, and a key's next record is sent only once the previous one is stored.
With 20 cars that is 20 records a call; more entities fill a call up to 500 records / 5 MiB.
Failed records (and throttled calls) are retried with exponential backoff; the run fails with
``DeliveryError`` only when one record has failed ``attempts`` times in a row.
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque

MAX_RECORDS = 500
MAX_BYTES = 5 * 1024 * 1024
RETRYABLE = {"ProvisionedThroughputExceededException", "InternalFailure", "KMSThrottlingException"}


class DeliveryError(RuntimeError):
    pass


class KinesisStream:
    def __init__(self, kinesis, stream_name: str, attempts: int = 8, base_delay: float = 0.05,
                 sleep=time.sleep):
        self.kinesis, self.name = kinesis, stream_name
        self.attempts, self.base_delay, self.sleep = attempts, base_delay, sleep

    def put(self, records: list[tuple[str, bytes]]) -> None:
        queues: OrderedDict[str, deque] = OrderedDict()
        for key, data in records:
            queues.setdefault(key, deque()).append(data)
        tries: dict[str, int] = {}  # key -> failed attempts of its current head record
        while queues:
            heads: list[tuple[str, bytes]] = []
            size = 0
            for key, q in queues.items():
                n = len(q[0]) + len(key.encode())
                if len(heads) == MAX_RECORDS or (heads and size + n > MAX_BYTES):
                    break
                heads.append((key, q[0]))
                size += n
            failed = self._put_once(heads, queues)
            if not failed:
                continue
            # A call that stored some records still made progress: only a record that fails on
            # ``attempts`` consecutive tries fails the run.
            for key in failed:
                tries[key] = tries.get(key, 0) + 1
            for key, _ in heads:
                if key not in failed:
                    tries.pop(key, None)
            worst = max(tries[key] for key in failed)
            if worst >= self.attempts:
                left = sum(len(q) for q in queues.values())
                raise DeliveryError(f"{left} record(s) still undelivered to {self.name} after {self.attempts} "
                                    "attempts; the run failed, re-run it (delivery is idempotent)")
            self.sleep(min(self.base_delay * 2 ** (worst - 1), 2.0))

    def _put_once(self, heads: list[tuple[str, bytes]], queues: OrderedDict) -> list[str]:
        """One PutRecords call; pops what was stored and returns the keys whose record must be retried."""
        try:
            resp = self.kinesis.put_records(StreamName=self.name,
                                            Records=[{"PartitionKey": k, "Data": d} for k, d in heads])
        except self.kinesis.exceptions.ProvisionedThroughputExceededException:
            return [key for key, _ in heads]
        failed = []
        for (key, _), res in zip(heads, resp["Records"]):
            code = res.get("ErrorCode")
            if code is None:
                queues[key].popleft()
                if not queues[key]:
                    del queues[key]
            elif code in RETRYABLE:
                failed.append(key)
            else:
                raise DeliveryError(f"Kinesis refused a record for {key}: {code} {res.get('ErrorMessage', '')}")
        return failed
