#!/usr/bin/env python3
"""The README's performance tables, rendered from the benchmarks' JSON (benchmarks/results/).

    python benchmarks/table.py               # the main table (cold, noop, edit, long, gapless, check)
    python benchmarks/table.py splice        # the spliced writer's (splice, splice_edit, splice_quality)
    python benchmarks/table.py review        # the review page's and the studio's
    python benchmarks/table.py --quick       # from the smoke runs' NAME-quick.json instead

Paste the output over the table in README.md: no figure there is copied by hand. A row whose
benchmark has not written its JSON says so. Each table ends with the runs it was made from.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

Values = dict[str, float]
Row = tuple[str, Callable[[Values], str], str]
"""The row's text (may use the values), the measured cell, the target."""


def s(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def ms(value: float) -> str:
    return f"{1000 * value:.0f} ms"


MAIN: dict[str, list[Row]] = {
    "cold": [
        ("cold build of {scripts:.0f} scripts ({audio_min:.0f} min of audio)",
         lambda v: f"{s(v['wall_s'])}, {v['audio_s_per_wall_s']:.0f}x real time", ""),
        ("... against ffmpeg alone encoding the same finished audio with the build's encoder "
         "command, {jobs:.0f} at once", lambda v: f"{v['ratio_to_floor']:.2f}x "
         f"({s(v['floor_wall_s'])}): the spliced writer encodes only the speech", "<= 1.5x"),
    ],
    "noop": [
        ("no-op rebuild of {scripts:.0f} scripts, the whole command",
         lambda v: f"{s(v['noop_wall_s'])}, of which {s(v['noop_check_s'])} finding them up to "
         "date (by file stamps)", "< 2 s"),
        ("no-op rebuild of {many:.0f} scripts, the whole command",
         lambda v: f"{s(v['many_wall_s'])}, of which {s(v['many_check_s'])} finding them up to "
         f"date; the full check of each, which every no-op cost before, "
         f"{s(v['many_full_check_s'])}", "< 1 s"),
    ],
    "edit": [
        ("one sentence edited in one of {scripts:.0f} scripts, all rebuilt",
         lambda v: f"{s(v['wall_s'])}, {v['ratio_to_alone_warm']:.2f}x that script built alone "
         f"with only the edit to speak and its step to encode ({s(v['alone_warm_wall_s'])}); "
         f"{s(v['stamp_check_s'])} of it finding the others up to date", "< 1.5x"),
        ("... that script rebuilt after such an edit, in one process (best of three "
         "rewordings; the new sentence spoken and its step encoded)",
         lambda v: s(v["in_process_s"]), "< 0.2 s"),
    ],
    "long": [
        ("a {minutes:.0f}-minute session ({long_min:.1f} min) against a 5-minute one "
         "({short_min:.1f} min), cold", lambda v: f"{s(v['long_wall_s'])} against "
         f"{s(v['short_wall_s'])}: {v['ratio']:.1f}x", "<= 13x"),
        ("peak memory of the {minutes:.0f}-minute build, all processes together (rustpunt "
         "and its ffmpeg)", lambda v: f"{v['tree_peak_mb']:.0f} MB, largest process "
         f"{v['maxrss_mb']:.0f} MB", "< 100 MB"),
        ("a pause-only edit of the {minutes:.0f}-minute session, rebuilt (no whole number of "
         "MP3 frames)", lambda v: f"{s(v['edit_wall_s'])} the whole command; "
         f"{s(v['edit_build_s'])} of it the build (imports included)", ""),
        ("... the same rebuild in one process (best of six edits)",
         lambda v: ms(v["edit_work_s"]), "< 50 ms"),
        ("... in `rustpunt build --watch`, from the save to the rebuilt MP3 in place (median)",
         lambda v: f"{s(v['edit_save_to_mp3_s'])}: the rebuild, and the wait for the watch's "
         "next look at the files (four a second)", ""),
    ],
    "gapless": [
        ("peak memory of a gapless session, {steps:.0f} steps with `pause: 0` "
         "({audio_min:.0f} min), all processes together", lambda v: f"{v['tree_peak_mb']:.0f} "
         f"MB, largest process {v['maxrss_mb']:.0f} MB", "< 100 MB"),
    ],
    "check": [
        ("`rustpunt check` on {scripts:.0f} scripts, the whole command",
         lambda v: f"{s(v['wall_s'])} (PyYAML alone {s(v['parse_s'])}, the CLI's start "
         f"{s(v['start_s'])})", "< 2 s"),
    ],
}  # fmt: skip

SPLICE: dict[str, list[Row]] = {
    "splice": [
        (f"cold, 5-minute session, {share} % pause",
         lambda v, k=f"5min-{share}": f"{v[k + '_ratio']:.2f}x ({s(v[k + '_spliced_s'])} "
         f"against {s(v[k + '_one_pass_s'])})", target)
        for share, target in (("90", ""), ("80", "<= 0.6x"), ("52", ""))
    ] + [
        ("cold, {minutes:.0f}-minute session, 80 % pause",
         lambda v: f"{v['long_ratio']:.2f}x ({s(v['long_spliced_s'])} against "
         f"{s(v['long_one_pass_s'])})", "<= 0.6x"),
        ("a 5-minute 80 % session with one ffmpeg per part / with the lameenc binding",
         lambda v: f"{v['per_part_ratio']:.2f}x / {v.get('lameenc_ratio', float('nan')):.2f}x",
         ""),
    ],
    "splice_edit": [
        ("pause-only edit of the {minutes:.0f}-minute session (whole frames): assembly",
         lambda v: f"{v['assemble_in_memory_ms']:.1f} ms in memory, "
         f"{v['assemble_to_file_ms']:.1f} ms to the file", "~30 ms"),
        ("... the whole `write_spliced_mp3` call, parts found by the caller's keys / by "
         "hashing the speech", lambda v: f"{v['keys_ms']:.0f} ms / {v['hashing_ms']:.0f} ms",
         "< 50 ms"),
        ("the writer given speech off the frame grid: every pause after the first moved by "
         "10 ms", lambda v: s(v["retime_10ms_s"]), ""),
        ("peak memory writing the {minutes:.0f}-minute session, with the benchmark holding its "
         "speech as arrays", lambda v: f"{v['tree_peak_mb']:.0f} MB "
         f"({v['python_peak_mb']:.0f} + {v['ffmpeg_peak_mb']:.0f})", ""),
    ],
    "splice_quality": [
        ("SNR, one-pass / spliced (40 sentences)",
         lambda v: f"{v['one_pass_snr_db']:.2f} dB / {v['spliced_snr_db']:.2f} dB", ""),
        ("error in the first two frames of each speech onset, one-pass / spliced (mean)",
         lambda v: f"{v['one_pass_onset_db']:.1f} dB / {v['spliced_onset_db']:.1f} dB", ""),
    ],
}  # fmt: skip

REVIEW: dict[str, list[Row]] = {
    "review": [
        ("{sessions:.0f} sessions' page opened from disk: the page's script / navigation to "
         "rendered (median of 5)", lambda v: f"{v['render_script_ms'] / 1000:.2f} s / "
         f"{v['navigation_to_rendered_ms'] / 1000:.2f} s", "< 1 s"),
        ("... a chapter click to its audio there, ready to play (median of 5 chapters)",
         lambda v: f"{v['chapter_click_ms']:.0f} ms", "< 0.1 s"),
        ("studio, a pause edited in a session: save to its event in the page (median)",
         lambda v: f"{v['save_to_event_ms']:.0f} ms", "< 0.15 s"),
        ("... save to the new audio playing in the page (median)",
         lambda v: f"{v['save_to_playing_ms']:.0f} ms", "< 0.3 s"),
    ],
}  # fmt: skip

TEAM: dict[str, list[Row]] = {
    "team": [
        ("{scripts:.0f} small scripts on a fresh machine, empty remote cache (moto S3 on "
         "127.0.0.1): everything spoken and uploaded", lambda v: s(v["cold_remote_s"]), ""),
        ("... warm remote cache: nothing spoken", lambda v: s(v["warm_remote_s"]), ""),
        ("warm local cache, `--force`: the local pool, `-j 2`", lambda v: s(v["pool_s"]), ""),
        ("... the same on a LocalCluster of 2 workers (1 thread each): the overhead per script",
         lambda v: f"{s(v['cluster_s'])}, {v['cluster_overhead_ms']:+.0f} ms a script", ""),
    ],
}  # fmt: skip

TABLES = {"main": MAIN, "splice": SPLICE, "review": REVIEW, "team": TEAM}


def values(document: dict[str, Any]) -> Values:
    """The figures by key, and the sizes the rows' texts name (from the run's details)."""
    found = {row["key"]: row["value"] for row in document["figures"] if row.get("key")}
    details = document.get("details", {})
    name = document["benchmark"]
    if name == "cold":
        found |= {"scripts": details["scripts"], "jobs": details["jobs"],
                  "audio_min": details["audio_s"] / 60}  # fmt: skip
    elif name == "noop":
        found |= {"scripts": details["noop"]["scripts"], "many": details["noop_many"]["scripts"]}
    elif name == "edit":
        found |= {"scripts": details["scripts"]}
    elif name == "long":
        found |= {"minutes": details["long_minutes"], "long_min": details["long"]["audio_s"] / 60,
                  "short_min": details["short"]["audio_s"] / 60}  # fmt: skip
    elif name == "gapless":
        found |= {"steps": details["steps"], "audio_min": details["audio_s"] / 60}
    elif name == "team":
        found |= {"scripts": details["scripts"]}
    elif name in ("check", "review"):
        found |= {"scripts": details.get("scripts", 0),
                  "sessions": details.get("render", {}).get("sessions", 0)}  # fmt: skip
    elif name == "splice":
        sessions = details["sessions"]
        long = next(key for key in sessions if not key.startswith("5min"))
        found |= {"minutes": sessions[long]["minutes"]}
        found |= {key.replace(long, "long"): value for key, value in found.items()}
    elif name == "splice_edit":
        found |= {"minutes": 20 if document["quick"] else 60}
    return found


def render(table: dict[str, list[Row]], quick: bool, folder: Path = RESULTS) -> str:
    lines = ["| figure | measured | target |", "| --- | --- | --- |"]
    runs = []
    for name, rows in table.items():
        path = folder / f"{name}{'-quick' if quick else ''}.json"
        if not path.exists():
            lines += [f"| {text.split('{')[0]}... | not measured: run `python benchmarks/"
                      f"{name}.py` | {target} |" for text, _, target in rows]  # fmt: skip
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        found = values(document)
        for text, cell, target in rows:
            lines.append(f"| {text.format(**found)} | {cell(found)} | {target} |")
        runs.append(f"`{document['command']}` ({document['measured'][:10]})")
    machine = None
    for name in table:
        path = folder / f"{name}{'-quick' if quick else ''}.json"
        if path.exists():
            machine = json.loads(path.read_text(encoding="utf-8"))["machine"]
            break
    lines.append("")
    lines.append(f"Rendered by `python benchmarks/table.py` from {', '.join(runs) or 'no run'}.")
    if machine:
        lines.append(
            f"Machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}, "
            f"{machine['memory_gb']} GB), {machine['platform']}, Python {machine['python']}, "
            f"{machine['ffmpeg']}."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", nargs="?", default="main", choices=sorted(TABLES))
    parser.add_argument("--quick", action="store_true", help="read the smoke runs' JSON")
    args = parser.parse_args(argv)
    print(render(TABLES[args.table], args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
