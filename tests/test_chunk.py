"""The chunk codec and the contract's validation."""
import numpy as np
import pytest

from apexflow import chunk as chunks
from apexflow.contract import F1_CHANNELS, Channel
from apexflow.errors import ContractError

CHANNELS = {c.name: c for c in F1_CHANNELS}
UNITS = {c.name: c.unit for c in F1_CHANNELS}


def make(n=40, seq=3, **over):
    t = np.arange(n) * 0.25 + 100.0
    values = {name: np.linspace(10, 20, n).astype(np.float32) for name in ("Speed", "RPM")}
    values.update(over)
    return chunks.Chunk("sim-1", "VER", seq, t, values, {k: UNITS[k] for k in values})


def test_round_trip_keeps_every_value_and_identity():
    c = make()
    c.run_id = "33acb4412790310f"
    back = chunks.decode(chunks.encode(c))
    assert (back.session_id, back.run_id, back.entity_id, back.seq, back.n) == ("sim-1", c.run_id, "VER", 3, 40)
    np.testing.assert_array_equal(back.t, c.t)
    np.testing.assert_array_equal(back.values["RPM"], c.values["RPM"])
    assert back.units == {"Speed": "km/h", "RPM": "1/min"}
    assert back.partition_key == "sim-1/VER"


def test_a_ten_second_f1_chunk_is_small():
    n = 40
    values = {c.name: np.random.default_rng(1).uniform(0, 5, n).astype(np.float32) for c in F1_CHANNELS}
    c = chunks.Chunk("s", "e", 0, np.arange(n) * 0.25, values, UNITS)
    assert len(chunks.encode(c.validate(CHANNELS))) < 3000


@pytest.mark.parametrize("data, message", [
    (b"xx", "shorter than"),
    (b"NOPE" + bytes(20), "expected b'AXFC'"),
])
def test_garbage_is_refused_with_a_reason(data, message):
    with pytest.raises(ContractError, match=message):
        chunks.decode(data)


def test_wrong_schema_version_is_refused_before_parsing():
    data = bytearray(chunks.encode(make()))
    data[4:6] = (99).to_bytes(2, "little")
    with pytest.raises(ContractError, match="schema version 99 is not supported"):
        chunks.decode(bytes(data))


def test_truncated_payload_is_malformed():
    data = chunks.encode(make())
    with pytest.raises(ContractError, match="malformed chunk"):
        chunks.decode(data[:-5])


def test_an_empty_chunk_is_refused():
    with pytest.raises(ContractError, match="has no samples; send only chunks with at least one sample"):
        make(n=0).validate()


def test_a_chunk_over_the_record_limit_is_refused_when_encoded():
    noise = np.random.default_rng(0).uniform(0, 1, 150_000).astype(np.float32)  # incompressible
    with pytest.raises(ContractError, match="over the 1 MB record limit; use shorter chunks"):
        chunks.encode(make(n=150_000, Speed=noise, RPM=noise[::-1].copy()))


def test_out_of_order_timestamps_name_the_sample():
    c = make()
    c.t = c.t.copy()
    c.t[7] = c.t[6]
    with pytest.raises(ContractError, match="out of order at sample 7"):
        c.validate()


def test_nan_and_inf_are_refused():
    bad = np.ones(40, dtype=np.float32)
    bad[5] = np.inf
    with pytest.raises(ContractError, match="channel Speed has a non-finite value"):
        make(Speed=bad).validate()


def test_unknown_channel_and_wrong_unit_against_the_session():
    c = make()
    c.values["Boost"] = np.ones(40, dtype=np.float32)
    c.units["Boost"] = "bar"
    with pytest.raises(ContractError, match="unknown channel 'Boost'"):
        c.validate(CHANNELS)
    c = make()
    c.units["Speed"] = "mph"
    with pytest.raises(ContractError, match="unit 'mph'"):
        c.validate(CHANNELS)


def test_split_cuts_by_time_and_numbers_chunks_consecutively():
    t = np.concatenate([np.arange(0, 25, 0.25), np.arange(40, 45, 0.25)])  # a gap from 25 s to 40 s
    values = {"Speed": np.full(len(t), 100, dtype=np.float32)}
    parts = chunks.split("s", "e", t, values, {"Speed": "km/h"}, seconds=10)
    assert [p.seq for p in parts] == [0, 1, 2, 3]
    assert sum(p.n for p in parts) == len(t)
    assert all(p.t[-1] - p.t[0] < 10 for p in parts)
    np.testing.assert_array_equal(np.concatenate([p.t for p in parts]), t)


def test_bad_names_are_refused():
    with pytest.raises(ContractError, match="channel name"):
        Channel("1bad", "m")
    with pytest.raises(ContractError, match="entity_id"):
        make().__class__("s", "bad id", 0, np.arange(2.0), {}, {}).validate()


def test_join_merges_neighbours_with_the_same_channels():
    t = np.arange(0, 30, 0.25)
    parts = chunks.split("s", "e", t, {"Speed": t.astype(np.float32)}, {"Speed": "km/h"}, seconds=10)
    odd = chunks.Chunk("s", "e", 3, np.array([31.0]), {"RPM": np.ones(1, np.float32)}, {"RPM": "1/min"})
    joined = chunks.join([*parts, odd])
    assert [(j.seq, j.n) for j in joined] == [(2, len(t)), (3, 1)]
    np.testing.assert_array_equal(joined[0].t, t)
    np.testing.assert_array_equal(joined[0].values["Speed"], t.astype(np.float32))


def test_headers_written_another_way_decode_to_their_own_channels():
    """A producer may order the header's keys differently; names and units always come from its own header."""
    import json
    import struct
    import zlib

    def record(entity, channels):
        head = json.dumps({"channels": channels, "session_id": "s", "seq": 0, "n": 1, "entity_id": entity},
                          separators=(",", ":")).encode()
        body = np.zeros(1, "<f8").tobytes() + np.ones(len(channels), "<f4").tobytes()
        return struct.pack("<4sHI", b"AXFC", 1, len(head)) + head + zlib.compress(body)

    a = chunks.decode(record("channels", [["Speed", "km/h"], ["RPM", "1/min"]]))
    assert a.run_id == ""  # schema version 1 named no run: still readable
    b = chunks.decode(record("channels", [["Throttle", "%"], ["Brake", "bool"]]))
    assert list(a.values) == ["Speed", "RPM"] and list(b.values) == ["Throttle", "Brake"]
    assert b.units == {"Throttle": "%", "Brake": "bool"}
    with pytest.raises(chunks.ContractError, match="repeat"):
        chunks.decode(record("e", [["Speed", "km/h"], ["Speed", "km/h"]]))


@pytest.mark.parametrize("listing, message", [
    (b'[["Speed","km/h"],["Speed","km/h"]]', "repeat"),
    (b'{"Speed":"km/h"}', "malformed chunk"),
    (b'[["Speed"]]', "malformed chunk"),
    (b'[["Speed","km/h"]', "malformed chunk"),
])
def test_a_bad_channel_list_is_refused_every_time(listing, message):
    """A header laid out as ``encode`` writes it, with a channel list that is not [name, unit] pairs."""
    import struct
    import zlib

    head = b'{"session_id":"s","run_id":"r","entity_id":"e","seq":0,"n":1,"channels":' + listing + b"}"
    body = np.zeros(1, "<f8").tobytes() + np.ones(2, "<f4").tobytes()
    data = struct.pack("<4sHI", b"AXFC", 2, len(head)) + head + zlib.compress(body)
    for _ in range(2):
        with pytest.raises(ContractError, match=message):
            chunks.decode(data)
