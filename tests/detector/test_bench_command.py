"""`tipwatch bench`: a nested subcommand per target from a table, each printing one JSON object."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tipwatch.cli import build_parser
from tipwatch.dev.commands import bench


def test_bench_targets_are_a_table_of_nested_subcommands() -> None:
    assert "detector" in bench.TARGETS
    assert importlib.util.find_spec(bench.TARGETS["detector"].module) is not None
    args = build_parser(load=["bench"]).parse_args(
        ["bench", "detector", "--json", "--frames", "50", "--skip-720p"]
    )
    assert (args.command, args.target, args.json, args.frames, args.skip_720p) == (
        "bench",
        "detector",
        True,
        50,
        True,
    )


def test_unknown_target_is_refused() -> None:
    with pytest.raises(SystemExit):
        build_parser(load=["bench"]).parse_args(["bench", "warp-drive"])


@pytest.mark.slow
def test_detector_benchmark_prints_one_json_object_last() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tipwatch", "bench", "detector", "--json", "--frames", "60", "--skip-720p"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in (
        "decode_fps",
        "naive_fps",
        "gated_fps",
        "speedup_vs_naive",
        "fraction_of_decode_limit",
        "same_events",
    ):
        assert key in result
    assert result["decode_fps"] > result["gated_fps"] > 0
    assert result["gated_detector_runs"] < result["naive_detector_runs"] == 60
