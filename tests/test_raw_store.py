"""The raw store's layout: one object per entity and run, each chunk a checked byte range of it; old runs deleted
in batches; live runs (one object per chunk) still readable."""
from __future__ import annotations

from collections import Counter

import pytest

from apexflow.chunk import decode
from apexflow.errors import RawDataMissing
from apexflow.pipeline.ingest import ingest
from apexflow.simulator import SyntheticRace
from apexflow_aws.raw_store import LiveRawStore, S3RawStore


class Sink:
    def __init__(self):
        self.records = []

    def put(self, records):
        self.records += records


class Counting:
    """The real client, with its calls counted by name (and GETs' ranges kept)."""

    def __init__(self, real):
        self.real, self.calls, self.ranges = real, Counter(), []

    def __getattr__(self, name):
        method = getattr(self.real, name)
        if not callable(method) or name in ("exceptions", "get_paginator"):
            return method

        def call(**kw):
            self.calls[name] += 1
            if name == "get_object":
                self.ranges.append(kw.get("Range"))
            return method(**kw)

        return call


@pytest.fixture
def race(s3):
    """A synthetic race of 4 cars ingested into the raw store; (result, the streamed records by chunk key)."""
    sink = Sink()
    result = ingest(SyntheticRace(seed=3, laps=2, cars=4), S3RawStore(s3, "raw"), sink, lambda *a: True)
    return result, {decode(data).key: data for _, data in sink.records}


def _keys(s3, prefix=""):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="raw", Prefix=prefix)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def test_every_chunk_reads_back_as_the_exact_bytes_streamed(s3, race):
    result, streamed = race
    assert len(streamed) == result.chunks > 40
    run = [k for k in _keys(s3) if "/runs/" in k]
    assert len(run) == result.entities + 1  # one object per car, and the session with its facts
    keys = list(streamed)
    assert S3RawStore(s3, "raw").read_chunks("synthetic", result.session.session_id, keys) == list(streamed.values())
    one = sorted(k for k in keys if k.startswith(keys[0].split("/")[0] + "/"))[3:9]  # a car's lap, say
    assert S3RawStore(s3, "raw").read_chunks("synthetic", result.session.session_id, one[::-1]) \
        == [streamed[k] for k in one[::-1]]


def test_a_span_of_one_car_is_one_ranged_get(s3, race):
    result, streamed = race
    counting = Counting(s3)
    car = sorted(k for k in streamed if k.startswith(next(iter(streamed)).split("/")[0] + "/"))
    wanted = car[2:7]
    got = S3RawStore(counting, "raw").read_chunks("synthetic", result.session.session_id, wanted)
    assert got == [streamed[k] for k in wanted]
    assert counting.calls["get_object"] == 2  # the manifest, then one range
    first, last = (len(b"".join(streamed[k] for k in car[:i])) for i in (2, 7))
    assert counting.ranges == [None, f"bytes={first}-{last - 1}"]


@pytest.mark.parametrize("damage, message", [
    ("flip", "does not match its manifest's checksum"),
    ("truncate", "does not match its manifest's checksum"),
    ("empty", "is not in the raw store"),  # a range past the end of the object
    ("delete", "is not in the raw store"),
])
def test_a_damaged_or_missing_range_is_raw_data_missing_saying_what_to_do(s3, race, damage, message):
    result, streamed = race
    manifest = S3RawStore(s3, "raw").read_manifest(result.session)
    key = list(streamed)[-1]
    name, offset, length = manifest["chunks"][key]
    obj = f"{manifest['chunk_prefix']}{name}"
    body = s3.get_object(Bucket="raw", Key=obj)["Body"].read()
    if damage == "delete":
        s3.delete_object(Bucket="raw", Key=obj)
    else:
        changed = {"flip": body[:offset + 5] + bytes([body[offset + 5] ^ 0xFF]) + body[offset + 6:],
                   "truncate": body[:offset + length - 1], "empty": body[:offset]}[damage]
        s3.put_object(Bucket="raw", Key=obj, Body=changed)
    with pytest.raises(RawDataMissing, match=f"chunk {key} of '{result.session.session_id}' {message}.*"
                                             "ingest the session again"):
        S3RawStore(s3, "raw").read_chunks("synthetic", result.session.session_id, [key])
    with pytest.raises(RawDataMissing, match="has no chunk VER/99999999"):
        S3RawStore(s3, "raw").read_chunks("synthetic", result.session.session_id, ["VER/99999999"])


def test_a_reingest_deletes_the_old_runs_in_batches_of_a_thousand(s3, race):
    result, _ = race
    prefix = f"raw/synthetic/{result.session.session_id}/runs/"
    for i in range(2100):  # leftovers of older runs (the per-chunk layout of before, crashed runs)
        s3.put_object(Bucket="raw", Key=f"{prefix}old{i % 3}/VER/{i:08d}.axfc", Body=b"x")
    counting = Counting(s3)
    again = ingest(SyntheticRace(seed=3, laps=2, cars=3), S3RawStore(counting, "raw"), Sink(), lambda *a: True)
    left = _keys(s3, prefix)
    assert left and all(k.startswith(f"{prefix}{again.run_id}/") for k in left)
    assert counting.calls["delete_objects"] == 3  # 2100 + the previous run's 5 objects
    assert counting.calls["delete_object"] == 0 and counting.calls["put_object"] == again.entities + 2


def test_a_live_run_of_one_object_per_chunk_reads_by_its_keys(s3):
    session = SyntheticRace(seed=3, laps=1, cars=2).session()
    store, sink = LiveRawStore(s3, "raw"), Sink()
    result = ingest(SyntheticRace(seed=3, laps=1, cars=2), store, sink, lambda *a: True)  # a manifest to reuse
    streamed = {decode(d).key: d for _, d in sink.records}
    for key, data in streamed.items():
        store.put_chunk(session, "live", key, data)
    doc = store.read_manifest(session)
    store.commit_run(session, "live", {k: v for k, v in doc.items() if k not in ("chunks", "chunk_prefix")})
    assert "chunks" not in store.read_manifest(session) and result.run_id not in "".join(_keys(s3))
    assert store.run_objects(session, "live") == streamed
    keys = list(streamed)[::7]
    assert store.read_chunks("synthetic", session.session_id, keys) == [streamed[k] for k in keys]
