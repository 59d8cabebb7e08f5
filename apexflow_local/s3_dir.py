"""Local mode's S3 between commands: moto keeps buckets in memory, so the commands that ingest or read raw data
load the buckets' objects from a folder when the stack starts and write back what changed when it stops.

The folder is ``APEXFLOW_S3_DIR`` (default ``s3`` in the state folder, ``APEXFLOW_HOME`` or ``.apexflow``):
``{bucket}/{key}``, the objects' bytes as S3 held them, so ``apexflow reprocess`` and ``apexflow serve`` find
what an earlier ``apexflow ingest`` wrote.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from apexflow.settings import settings


def folder() -> Path:
    return Path(os.environ.get("APEXFLOW_S3_DIR") or settings().home / "s3")


def restore(s3, buckets, root: Path) -> dict[tuple[str, str], str]:
    """Put every file under ``root/{bucket}/`` into its bucket; the MD5 of each, to save only what changes."""
    loaded = {}
    for bucket in buckets:
        base = root / bucket
        for path in sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []:
            data, key = path.read_bytes(), path.relative_to(base).as_posix()
            s3.put_object(Bucket=bucket, Key=key, Body=data)
            loaded[(bucket, key)] = hashlib.md5(data).hexdigest()
    return loaded


def save(s3, buckets, root: Path, loaded: dict[tuple[str, str], str]) -> None:
    """Write the buckets' new and changed objects under ``root``, remove the files of deleted ones."""
    kept = set()
    for bucket in buckets:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                kept.add((bucket, o["Key"]))
                if loaded.get((bucket, o["Key"])) != o["ETag"].strip('"'):
                    path = root / bucket / o["Key"]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_name(path.name + ".part")
                    tmp.write_bytes(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
                    tmp.replace(path)
    for bucket, key in set(loaded) - kept:
        (root / bucket / key).unlink(missing_ok=True)
