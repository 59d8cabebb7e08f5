"""S3 as the durable copy of every chunk.

Layout (one session)::

    raw/{source}/{session_id}/runs/{run_id}/{entity_id}/{seq:08d}.axfc   chunk bytes, as streamed
    raw/{source}/{session_id}/manifest.json                              the current run (written last)

A re-ingest writes its run beside the old one, then switches the manifest (the commit
point), then deletes the old run: readers that follow the manifest never see two runs mixed.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

from apexflow.contract import Session

CHUNK_SUFFIX = ".axfc"


class RawDataMissing(LookupError):
    """The raw store has no current run of the session, or lacks a chunk its manifest names."""


def session_prefix(session: Session) -> str:
    return raw_prefix(session.source, session.session_id)


def raw_prefix(source: str, session_id: str) -> str:
    return f"raw/{source}/{session_id}/"


class S3RawStore:
    def __init__(self, s3, bucket: str, workers: int = 16):
        self.s3, self.bucket, self.workers = s3, bucket, workers

    def write_run(self, session: Session, run_id: str, objects: dict[str, bytes], manifest: dict) -> str:
        prefix = session_prefix(session)
        run_prefix = f"{prefix}runs/{run_id}/"
        with ThreadPoolExecutor(self.workers) as pool:  # S3 is latency-bound: keep several PUTs in flight
            list(pool.map(lambda item: self.s3.put_object(Bucket=self.bucket, Key=f"{run_prefix}{item[0]}"
                                                          f"{CHUNK_SUFFIX}", Body=item[1]), objects.items()))
        body = json.dumps({**manifest, "chunk_prefix": run_prefix}, indent=1, default=str).encode()
        self.s3.put_object(Bucket=self.bucket, Key=f"{prefix}manifest.json", Body=body,
                           ContentType="application/json")
        self._delete_other_runs(prefix, run_prefix)
        return f"s3://{self.bucket}/{prefix}"

    def read_manifest(self, session: Session) -> dict:
        obj = self.s3.get_object(Bucket=self.bucket, Key=f"{session_prefix(session)}manifest.json")
        return json.loads(obj["Body"].read())

    def read_chunks(self, source: str, session_id: str, keys: list[str]) -> list[bytes]:
        """The current run's chunks named ``keys`` (``Chunk.key``), found by the manifest and checked against it."""
        prefix = raw_prefix(source, session_id)
        try:
            doc = json.loads(self.s3.get_object(Bucket=self.bucket, Key=f"{prefix}manifest.json")["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            raise RawDataMissing(f"no raw data of session {session_id!r} in s3://{self.bucket}/{prefix}") from None
        missing = [k for k in keys if k not in doc["checksums"]]
        if missing:
            raise RawDataMissing(f"the current run of {session_id!r} has no chunk {missing[0]}")

        def read(key: str) -> bytes:
            try:
                data = self.s3.get_object(Bucket=self.bucket, Key=f"{doc['chunk_prefix']}{key}{CHUNK_SUFFIX}")
            except self.s3.exceptions.NoSuchKey:
                raise RawDataMissing(f"chunk {key} of {session_id!r} is not in the raw store") from None
            data = data["Body"].read()
            if hashlib.sha256(data).hexdigest() != doc["checksums"][key]:
                raise RawDataMissing(f"chunk {key} of {session_id!r} does not match its manifest's checksum")
            return data

        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(read, keys))

    def _delete_other_runs(self, prefix: str, keep: str) -> None:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{prefix}runs/")
        stale = [{"Key": o["Key"]} for page in pages for o in page.get("Contents", [])
                 if not o["Key"].startswith(keep)]
        for i in range(0, len(stale), 1000):
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": stale[i:i + 1000], "Quiet": True})


class LiveRawStore(S3RawStore):
    """A live run grows chunk by chunk; its manifest is written when the session closes."""

    def put_chunk(self, session: Session, run_id: str, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=f"{session_prefix(session)}runs/{run_id}/{key}{CHUNK_SUFFIX}",
                           Body=data)

    def run_objects(self, session: Session, run_id: str) -> dict[str, bytes]:
        """A run's chunks so far, by chunk key (``VER/00000012``)."""
        run_prefix = f"{session_prefix(session)}runs/{run_id}/"
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=run_prefix)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        with ThreadPoolExecutor(self.workers) as pool:
            bodies = pool.map(lambda k: self.s3.get_object(Bucket=self.bucket, Key=k)["Body"].read(), keys)
            return {k[len(run_prefix):-len(CHUNK_SUFFIX)]: b for k, b in zip(keys, bodies)}

    def commit_run(self, session: Session, run_id: str, manifest: dict) -> str:
        return self.write_run(session, run_id, {}, manifest)
