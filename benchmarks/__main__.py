"""All benchmarks, each appending its results (machine and date) to benchmarks/RESULTS.md.

    .venv/bin/python -m benchmarks          (or: make bench)
"""
from benchmarks import (
    analyze_batches,
    api_latency,
    capacity,
    cold_start,
    detection_quality,
    detection_throughput,
    e2e,
    ingest_throughput,
    insight_tokens,
    live_lag,
    load,
    novelty_throughput,
    samples_write,
    skab,
)

for run in (lambda: ingest_throughput.main(["--laps", "57", "--repeat", "3"]),
            lambda: detection_throughput.main(["--write"]),
            lambda: analyze_batches.main(["--write"]),
            lambda: samples_write.main(["--write"]),
            lambda: detection_quality.main(["--seeds", "1", "2", "3", "4", "5", "--laps", "57", "--write"]),
            lambda: skab.main(["--write"]),
            lambda: novelty_throughput.main(["--write"]),
            lambda: api_latency.main(["--write"]),
            lambda: insight_tokens.main(["--write"]),
            lambda: load.main(["--write"]),
            lambda: load.main(["--scaling", "1,2,4", "--sessions", "4", "--laps", "8", "--write"]),
            lambda: live_lag.main([]),
            lambda: live_lag.main(["--replay", "--laps", "57", "--cars", "20", "--speed", "10", "--write"]),
            lambda: e2e.main(["--laps", "57", "--write"]),
            lambda: cold_start.main(["--runs", "5", "--write"]),
            lambda: capacity.main(["--write"])):  # last: from the figures just measured
    if run():
        raise SystemExit(1)
