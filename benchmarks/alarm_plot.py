"""The picture in docs/detection.md: one real SKAB series, its score and its alarms.

    python -m benchmarks.alarm_plot [--data DIR] [--file valve1/3.csv] [--out docs/alarms-skab.png]

Runs ``apexflow detect`` on the file as a user would (its 8 channels jointly) and draws, over time, two
of its channels, the score (with the 0.5 alarm line), the alarms and the labelled fault. Needs
matplotlib (a docs tool, not a runtime dependency: ``pip install matplotlib``).
"""
from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np

from apexflow.pipeline.detect_file import detect_file, parse_time
from benchmarks.skab import CHANNELS, LEARN, SKAB

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SKAB)
    parser.add_argument("--file", default="valve1/3.csv")
    parser.add_argument("--out", type=Path, default=DOCS / "alarms-skab.png")
    args = parser.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    src = args.data / args.file
    if not src.is_file():
        print(f"no SKAB file {src} (the shared data folder is absent)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores.csv"
        result = detect_file(str(src), "datetime", CHANNELS, out=str(out), delimiter=";")
        with open(out, newline="") as fh:
            got = list(csv.DictReader(fh))
    with open(src, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    t = np.array([parse_time(r["datetime"]) for r in rows])
    t = (t - t[0]) / 60.0
    score = np.array([float(r["score"]) for r in got])
    alarm = np.flatnonzero([r["alarm"] == "1" for r in got])
    fault = np.array([float(r["anomaly"] or 0) > 0 for r in rows])
    fig, axes = plt.subplots(3, 1, figsize=(10, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 2, 2]})
    for ax, name in zip(axes[:2], ["Volume Flow RateRMS", "Accelerometer2RMS"]):
        ax.plot(t, [float(r[name]) for r in rows], lw=0.8, color="#335")
        ax.set_ylabel(name.replace("RMS", " RMS"), fontsize=8)
    ax = axes[2]
    ax.plot(t, score, lw=0.9, color="#c33", label="score (anomaly likelihood)")
    ax.axhline(0.5, color="#999", ls="--", lw=0.8, label="alarm line 0.5")
    ax.vlines(t[alarm], 0, 1, color="#e80", lw=2.0, label="alarm (anomaly raised)")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("score", fontsize=8)
    ax.set_xlabel("minutes")
    for a in axes:
        a.fill_between(t, 0, 1, where=fault, transform=a.get_xaxis_transform(), color="#f5c6c6", alpha=0.6,
                       label="labelled fault" if a is ax else None)
        a.axvspan(t[0], t[min(LEARN, len(t) - 1)], color="#eee", zorder=0)
    axes[0].set_title(f"SKAB {args.file}: apexflow detect over its 8 channels (grey: SKAB's 400 learning rows)",
                      fontsize=9)
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"{args.out}: {len(alarm)} alarms, windows {[(w['kind'], w['start']) for w in result['windows']]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
