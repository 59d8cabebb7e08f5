"""The chunk: one entity's consecutive samples, columnar, versioned, sequenced.

A chunk is the unit that goes to Kinesis (one record) and to S3 (one object): the
bytes are identical in both places, so anything can be replayed from S3 exactly as
the stream saw it.

Wire format (schema version 2)::

    b"AXFC" | u16 schema_version | u32 header_len | header (UTF-8 JSON) | zlib(columns)

The header names the session, the ingestion run, the entity, sequence number, sample count
and channels (name + unit); version 1 (no run) still decodes, with an empty ``run_id``. Columns
follow in header order: ``t`` as float64 seconds since the session start, then each channel as
float32. Why this and not JSON or Parquet:
decoding is ``zlib`` + ``numpy.frombuffer`` (no pandas or pyarrow in the hot Lambda,
hundreds of thousands of samples per second per core), a 10 s chunk of 11 channels
at 4 Hz is about 1 KB (Kinesis allows 1 MB), and the version sits in front of the
payload so an unknown version is refused before anything is parsed.
"""
from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from apexflow.contract import SCHEMA_VERSION, Channel, check_id, partition_key
from apexflow.errors import ContractError

MAGIC = b"AXFC"
READABLE_VERSIONS = (1, SCHEMA_VERSION)  # 1: before chunks named their run
_PREFIX = struct.Struct("<4sHI")
MAX_RECORD_BYTES = 1_000_000  # Kinesis limit is 1 MiB including the partition key
_VALID_IDS: set[str] = set()  # ids ``check_id`` passed (a batch names a few sessions and entities many times)


def chunk_key(entity_id: str, seq: int) -> str:
    """The name of an entity's chunk ``seq`` within its session (``Chunk.key``)."""
    return f"{entity_id}/{seq:08d}"


@dataclass
class Chunk:
    session_id: str
    entity_id: str
    seq: int
    t: np.ndarray  # float64 seconds since session start, strictly increasing
    values: dict[str, np.ndarray]  # channel name -> float32 column, same length as t
    units: dict[str, str]
    block: np.ndarray | None = field(default=None, repr=False, compare=False)  # see ``matrix``
    run_id: str = ""  # the ingestion run that produced it ("" for schema version 1)
    parts: list | None = field(default=None, repr=False, compare=False)  # a joined chunk's chunks, see ``join``

    def matrix(self) -> np.ndarray:
        """All channels as one array, channel x sample in ``values`` order (built once; decode and join
        make the columns views of it, so whole-chunk checks and detectors take one numpy call, not one per
        channel)."""
        if self.block is None:
            cols = list(self.values.values())
            self.block = np.stack(cols) if cols else np.empty((0, self.n), np.float32)
        return self.block

    @property
    def n(self) -> int:
        return len(self.t)

    @property
    def partition_key(self) -> str:
        return partition_key(self.session_id, self.entity_id)

    @property
    def key(self) -> str:
        """Unique, sortable name of this chunk within its session."""
        return chunk_key(self.entity_id, self.seq)

    def validate(self, channels: dict[str, Channel] | None = None) -> "Chunk":
        """Check the chunk against the contract (and the session's channels, if given).

        One vectorised pass over the samples decides; only a chunk that fails it is walked again to say
        exactly what is wrong and where.
        """
        for what, value in (("session_id", self.session_id), ("entity_id", self.entity_id)):
            if type(value) is not str or value not in _VALID_IDS:
                check_id(what, value)
                if len(_VALID_IDS) > 10_000:
                    _VALID_IDS.clear()
                _VALID_IDS.add(value)
        if not isinstance(self.seq, int) or self.seq < 0:
            raise ContractError(f"{self._where()}: seq must be a non-negative integer, got {self.seq!r}")
        t, n = self.t, self.n
        if n == 0:
            raise ContractError(f"{self._where()}: has no samples; send only chunks with at least one sample")
        whole = self.block is not None and self.block.shape == (len(self.values), n)  # decoded: views of it
        for name, col in () if whole else self.values.items():
            if len(col) != n:
                raise ContractError(f"{self._where()}: channel {name} has {len(col)} values for {n} timestamps")
        # strictly increasing between finite ends is finite throughout (NaN fails every comparison)
        if not (math.isfinite(t[0]) and math.isfinite(t[-1]) and (t[1:] > t[:-1]).all()
                and np.isfinite(self.matrix()).all()):
            self._explain_samples()
        for name in self.values if channels is not None else ():
            ch = channels.get(name)
            if ch is None:
                raise ContractError(
                    f"{self._where()}: unknown channel {name!r}; the session declares {sorted(channels)}"
                )
            if self.units.get(name) != ch.unit:
                raise ContractError(
                    f"{self._where()}: channel {name} has unit {self.units.get(name)!r}, the session says {ch.unit!r}"
                )
        return self

    def _where(self) -> str:
        return f"chunk {self.session_id}/{self.key}"

    def _explain_samples(self) -> None:
        t = self.t
        if not np.all(np.isfinite(t)):
            raise ContractError(f"{self._where()}: timestamps contain NaN or inf")
        steps = np.diff(t)
        if np.any(steps <= 0):
            i = int(np.argmax(steps <= 0))
            raise ContractError(
                f"{self._where()}: timestamps out of order at sample {i + 1} "
                f"({t[i]:.3f}s then {t[i + 1]:.3f}s); samples must be strictly increasing in time"
            )
        name, col = next((k, v) for k, v in self.values.items() if not np.isfinite(v).all())
        i = int(np.argmax(~np.isfinite(col)))
        raise ContractError(
            f"{self._where()}: channel {name} has a non-finite value ({col[i]}) at t={t[i]:.3f}s; "
            "leave gaps as missing samples, never as NaN/inf"
        )


def encode(chunk: Chunk) -> bytes:
    names = list(chunk.values)
    header = {
        "session_id": chunk.session_id,
        "run_id": chunk.run_id,
        "entity_id": chunk.entity_id,
        "seq": chunk.seq,
        "n": chunk.n,
        "channels": [[name, chunk.units[name]] for name in names],
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    cols = [np.ascontiguousarray(chunk.t, dtype="<f8").tobytes()]
    cols += [np.ascontiguousarray(chunk.values[name], dtype="<f4").tobytes() for name in names]
    body = _PREFIX.pack(MAGIC, SCHEMA_VERSION, len(head)) + head + zlib.compress(b"".join(cols), 1)
    if len(body) + len(chunk.partition_key) > MAX_RECORD_BYTES:
        raise ContractError(
            f"chunk {chunk.session_id}/{chunk.key} encodes to {len(body)} bytes, over the 1 MB record limit; "
            "use shorter chunks"
        )
    return body


def decode(data: bytes) -> Chunk:
    """Bytes -> Chunk, refusing anything that is not a well-formed chunk of a known version."""
    if len(data) < _PREFIX.size:
        raise ContractError(f"not a chunk: {len(data)} bytes is shorter than the {_PREFIX.size}-byte prefix")
    magic, version, head_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise ContractError(f"not a chunk: starts with {magic!r}, expected {MAGIC!r}")
    if version not in READABLE_VERSIONS:
        raise ContractError(
            f"chunk schema version {version} is not supported (this reader knows "
            f"{', '.join(map(str, READABLE_VERSIONS))}); upgrade the reader or re-ingest the session"
        )
    try:
        header = json.loads(data[_PREFIX.size : _PREFIX.size + head_len].decode())
        names = [name for name, _ in header["channels"]]
        units = dict(header["channels"])
        n = int(header["n"])
        raw = zlib.decompress(data[_PREFIX.size + head_len :])
    except (ValueError, KeyError, TypeError, zlib.error) as e:  # UnicodeDecodeError is a ValueError
        raise ContractError(f"malformed chunk: {e}") from None
    if len(units) != len(names):
        raise ContractError(f"malformed chunk: channel names repeat in {names}")
    if len(raw) != n * (8 + 4 * len(names)):
        raise ContractError(
            f"malformed chunk: payload has {len(raw)} bytes, header promises {n} samples of {len(names)} channels"
        )
    t = np.frombuffer(raw, "<f8", n)
    block = np.frombuffer(raw, "<f4", n * len(names), 8 * n).reshape(len(names), n)
    return Chunk(header["session_id"], header["entity_id"], header["seq"], t, dict(zip(names, block)), units, block,
                 str(header.get("run_id", "")) if version >= 2 else "")


def split(session_id: str, entity_id: str, t: np.ndarray, values: dict[str, np.ndarray],
          units: dict[str, str], seconds: float = 10.0, first_seq: int = 0) -> list[Chunk]:
    """Cut one entity's samples into chunks of at most ``seconds`` of data each."""
    if len(t) == 0:
        return []
    if not math.isfinite(seconds) or seconds <= 0:
        raise ContractError(f"chunk length must be a positive number of seconds, got {seconds}")
    bucket = np.floor((t - t[0]) / seconds).astype(np.int64)
    cuts = np.flatnonzero(np.diff(bucket)) + 1
    bounds = [0, *cuts.tolist(), len(t)]
    return [
        Chunk(session_id, entity_id, first_seq + i, t[a:b],
              {k: np.asarray(v[a:b], dtype=np.float32) for k, v in values.items()}, units)
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]


def join(parts: list[Chunk]) -> list[Chunk]:
    """Consecutive chunks of one entity as few chunks as possible: neighbours with the same channels merge.

    Detectors give the same detections however a stream is cut, so they may run on joined chunks:
    fewer, longer calls. A joined chunk keeps the sequence number of its last part and its parts (``parts``,
    in order); joining joined chunks again keeps them apart.
    """
    groups: list[list[Chunk]] = []
    last = None
    for c in parts:
        names = tuple(c.values)
        if last is not None and names == last[0] and c.units == last[1] and c.parts is None:
            groups[-1].append(c)
        else:
            groups.append([c])
        last = (names, c.units) if c.parts is None else None
    out = []
    for g in groups:
        if len(g) == 1:
            out.append(g[0])
            continue
        block = np.concatenate([c.matrix() for c in g], axis=1)
        c = g[-1]
        out.append(Chunk(c.session_id, c.entity_id, c.seq, np.concatenate([p.t for p in g]),
                         dict(zip(c.values, block)), c.units, block, c.run_id, g))
    return out
