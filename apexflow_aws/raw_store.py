"""S3 as the durable copy of every chunk.

Layout (one session)::

    raw/{source}/{session_id}/runs/{run_id}/{entity_id}.axfr   the entity's chunks, as streamed, back to back
    raw/{source}/{session_id}/runs/{run_id}/session.json       the session and its facts, as registered
    raw/{source}/{session_id}/manifest.json                    the current run (written last)

The manifest locates each chunk: ``chunks[key] = [object, offset, length]`` in the run's folder
(``chunk_prefix``), checked against ``checksums[key]`` (SHA-256); one ranged GET reads a run of chunks.
A live run (``LiveRawStore``) grows one object per chunk, ``{entity_id}/{seq:08d}.axfc``; its manifest
has no ``chunks`` and readers find each chunk by its key.

A re-ingest writes its run beside the old one, then switches the manifest (the commit point), then deletes
the old run (``DeleteObjects``, 1 000 keys a call): readers that follow the manifest never see two runs mixed.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from apexflow.contract import Session
from apexflow.errors import RawDataMissing

CHUNK_SUFFIX = ".axfc"  # one chunk (a live run)
RUN_SUFFIX = ".axfr"  # an entity's chunks of one run, back to back
SESSION_OBJECT = "session.json"


def session_prefix(session: Session) -> str:
    return raw_prefix(session.source, session.session_id)


def raw_prefix(source: str, session_id: str) -> str:
    return f"raw/{source}/{session_id}/"


def pack(chunks: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, list]]:
    """Chunks by key (``VER/00000012``) -> one object per entity, chunks in key order, and each chunk's
    ``[object, offset, length]`` (in the given order)."""
    parts: dict[str, list[bytes]] = {}
    where: dict[str, list] = {}
    sizes: dict[str, int] = {}
    for key in sorted(chunks):
        name = key.rsplit("/", 1)[0] + RUN_SUFFIX
        offset = sizes.get(name, 0)
        parts.setdefault(name, []).append(chunks[key])
        sizes[name] = offset + len(chunks[key])
        where[key] = [name, offset, len(chunks[key])]
    return {name: b"".join(p) for name, p in parts.items()}, {key: where[key] for key in chunks}


class S3RawStore:
    def __init__(self, s3, bucket: str, workers: int = 16):
        self.s3, self.bucket, self.workers = s3, bucket, workers

    def write_run(self, session: Session, run_id: str, chunks: dict[str, bytes], manifest: dict,
                  record: dict | None = None) -> str:
        """The run's chunks (by key, in stream order) packed per entity, ``record`` (the session and its facts)
        as ``session.json``, then the manifest locating every chunk; older runs deleted."""
        run_prefix = f"{session_prefix(session)}runs/{run_id}/"
        objects, where = pack(chunks)
        if record is not None:
            objects[SESSION_OBJECT] = json.dumps(record, default=str).encode()
        with ThreadPoolExecutor(self.workers) as pool:  # S3 is latency-bound: keep several PUTs in flight
            list(pool.map(lambda item: self.s3.put_object(Bucket=self.bucket, Key=f"{run_prefix}{item[0]}",
                                                          Body=item[1]), objects.items()))
        return self._commit(session, run_prefix, {**manifest, "chunks": where})

    def _commit(self, session: Session, run_prefix: str, manifest: dict) -> str:
        prefix = session_prefix(session)
        body = json.dumps({**manifest, "chunk_prefix": run_prefix}, indent=1, default=str).encode()
        self.s3.put_object(Bucket=self.bucket, Key=f"{prefix}manifest.json", Body=body,
                           ContentType="application/json")
        self._delete_other_runs(prefix, run_prefix)
        return f"s3://{self.bucket}/{prefix}"

    def read_manifest(self, session: Session) -> dict:
        return self._manifest(session.source, session.session_id)

    def _manifest(self, source: str, session_id: str) -> dict:
        prefix = raw_prefix(source, session_id)
        try:
            return json.loads(self.s3.get_object(Bucket=self.bucket, Key=f"{prefix}manifest.json")["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            raise RawDataMissing(f"no raw data of session {session_id!r} in s3://{self.bucket}/{prefix}") from None

    def read_chunks(self, source: str, session_id: str, keys: list[str]) -> list[bytes]:
        """The current run's chunks named ``keys`` (``Chunk.key``), found by the manifest and checked against it."""
        doc = self._manifest(source, session_id)
        missing = [k for k in keys if k not in doc["checksums"]]
        if missing:
            raise RawDataMissing(f"the current run of {session_id!r} has no chunk {missing[0]}")
        return self._read(doc, keys)

    def find_run(self, session_id: str) -> dict:
        """The manifest of the session's current run, whatever its source."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="raw/", Delimiter="/")
        found = []
        for p in listed.get("CommonPrefixes", []):
            try:
                found.append(self._manifest(p["Prefix"].split("/")[1], session_id))
            except RawDataMissing:
                continue
        if len(found) != 1:
            where = (f"it is stored by sources {sorted(d['source'] for d in found)}" if found else
                     f"s3://{self.bucket}/raw/ holds no manifest of it")
            raise RawDataMissing(f"no single raw run of session {session_id!r}: {where}")
        return found[0]

    def read_run(self, session_id: str) -> tuple[dict, dict, list[bytes]]:
        """(manifest, the session and facts as registered, every chunk in manifest order) of the current run."""
        doc = self.find_run(session_id)
        key = f"{doc['chunk_prefix']}{SESSION_OBJECT}"
        try:
            record = json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            raise RawDataMissing(f"run {doc['run_id']} of {session_id!r} keeps no session facts (s3://{self.bucket}/"
                                 f"{key}): it is older than reprocessing or a live run never closed; ingest the "
                                 "session again from its source") from None
        return doc, record, self._read(doc, list(doc["checksums"]))

    def _read(self, doc: dict, keys: list[str]) -> list[bytes]:
        """Chunks of the manifest's run, checked: one ranged GET per object spanning the chunks wanted from it."""
        session_id, where = doc["session_id"], doc.get("chunks")
        spans: dict[str, list[str]] = {}
        for key in keys:
            spans.setdefault(where[key][0] if where is not None else f"{key}{CHUNK_SUFFIX}", []).append(key)
        found: dict[str, bytes] = {}

        def read(name: str) -> None:
            wanted = spans[name]
            lo = min(where[k][1] for k in wanted) if where is not None else 0
            hi = max(where[k][1] + where[k][2] for k in wanted) if where is not None else None
            ask = {"Range": f"bytes={lo}-{hi - 1}"} if hi is not None else {}
            try:
                body = self.s3.get_object(Bucket=self.bucket, Key=f"{doc['chunk_prefix']}{name}", **ask)["Body"].read()
            except ClientError as e:
                if e.response["Error"]["Code"] not in ("NoSuchKey", "InvalidRange"):
                    raise
                raise RawDataMissing(f"chunk {wanted[0]} of {session_id!r} is not in the raw store (s3://{self.bucket}"
                                     f"/{doc['chunk_prefix']}{name}): ingest the session again") from None
            for k in wanted:
                data = body[where[k][1] - lo:where[k][1] - lo + where[k][2]] if where is not None else body
                if hashlib.sha256(data).hexdigest() != doc["checksums"][k]:
                    raise RawDataMissing(f"chunk {k} of {session_id!r} does not match its manifest's checksum "
                                         f"(s3://{self.bucket}/{doc['chunk_prefix']}{name}): ingest the session again")
                found[k] = data

        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(read, spans))
        return [found[k] for k in keys]

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
        keys = [o["Key"] for page in pages for o in page.get("Contents", []) if o["Key"].endswith(CHUNK_SUFFIX)]
        with ThreadPoolExecutor(self.workers) as pool:
            bodies = pool.map(lambda k: self.s3.get_object(Bucket=self.bucket, Key=k)["Body"].read(), keys)
            return {k[len(run_prefix):-len(CHUNK_SUFFIX)]: b for k, b in zip(keys, bodies)}

    def commit_run(self, session: Session, run_id: str, manifest: dict, record: dict | None = None) -> str:
        """The manifest of the run, after ``record`` (the session and its facts, as ``write_run`` keeps them)."""
        run_prefix = f"{session_prefix(session)}runs/{run_id}/"
        if record is not None:
            self.s3.put_object(Bucket=self.bucket, Key=f"{run_prefix}{SESSION_OBJECT}",
                               Body=json.dumps(record, default=str).encode())
        return self._commit(session, run_prefix, manifest)
