#!/usr/bin/env python3
"""Print the medians criterion measured (benches/policy.rs and benches/auth.rs) and the
ratios the targets are stated in. Run after `cargo bench`."""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
if not root.is_dir():
    sys.exit("no criterion results: run `cargo bench --bench policy` first")


def median(group, name):
    est = json.loads((root / group / name / "new" / "estimates.json").read_text())
    return est["median"]["point_estimate"]


def fmt(ns):
    return f"{ns / 1e6:.1f} ms" if ns >= 1e6 else f"{ns / 1e3:.3f} µs" if ns >= 1e3 else f"{ns:.0f} ns"


rows = [("decide", "10-policies", "≤ 1 µs"), ("decide", "10000-buckets", "≤ 2 µs"),
        ("decide", "cached", "≤ 200 ns"), ("decide", "uncached-same", "reference"),
        ("wildcard", "64-stars-miss", "≤ 20 µs"), ("wildcard", "64-stars-match", "≤ 20 µs"),
        ("wildcard", "64-stars-long-segments", "≤ 20 µs"), ("compile", "10000-policies", "≤ 1 s"),
        ("auth", "header-v4", "≤ 5 µs"), ("auth", "sha256-raw-1MiB", "reference"),
        ("auth", "chunked-verify-1MiB", "≥ 0.7× raw SHA-256 throughput"), ("classify", "get-object", "≤ 1 µs")]
for group, name, target in rows:
    try:
        print(f"{group}/{name}: median {fmt(median(group, name))} (target {target})")
    except FileNotFoundError:
        print(f"{group}/{name}: not measured")
try:
    ratio = median("decide", "10000-buckets") / median("decide", "10-policies")
    print(f"ratio 10000-buckets / 10-policies: {ratio:.2f} (target ≤ 1.2)")
except FileNotFoundError:
    pass
try:
    ratio = median("auth", "sha256-raw-1MiB") / median("auth", "chunked-verify-1MiB")
    print(f"chunked verification throughput / raw SHA-256 throughput: {ratio:.2f} (target ≥ 0.7)")
except FileNotFoundError:
    pass
