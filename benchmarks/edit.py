#!/usr/bin/env python3
"""One sentence edited in one of M scripts, all rebuilt, against that script built alone.

    python benchmarks/edit.py            # 200 scripts (built first, untimed)
    python benchmarks/edit.py --quick    # 40

The rebuild of all M after the edit, against building that one script alone into a fresh output
folder with the clip cache warm except for the edited sentence and its step's encoded speech (the
same speaking and encoding as the rebuild has). The fully cold single build is shown too, and
the time the rebuild spent finding the other M - 1 up to date by their stamps
(`stamp_check_seconds` of its report), apart from the full check of the edited script. Then
that script rebuilt after three more rewordings in this process, its imports done, through the
loop of `rustpunt build --watch` (rustpunt.build.watch, in a thread), which reports its own time
for each rebuild: the one new sentence spoken and its step encoded included. It reports, it
does not assert.
"""

from __future__ import annotations

import functools
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from builds import BuildFailed, Settings, build_arguments, rebuilds_in_process, run_build
from harness import Figure, log, report

from corpus import STOCK_CUES, generate, script_texts, write_script


def edit_one_sentence(scripts: dict[Path, dict[str, Any]], seed: int) -> tuple[Path, int]:
    """Reword one step of one script (not the first; one whose pause the rewording keeps)."""
    all_texts = {text for document in scripts.values() for text in script_texts(document)}
    rng = random.Random(seed)
    path = rng.choice(sorted(scripts)[len(scripts) // 2 :])
    document = scripts[path]
    candidates = [
        i for i, step in enumerate(document["steps"])
        if i > 0 and (not isinstance(step, str) or (step not in STOCK_CUES and "seconden" not in step))
    ]  # fmt: skip
    index = rng.choice(candidates)
    step = document["steps"][index]
    old = step if isinstance(step, str) else step["text"]
    new = old.rstrip(".") + " heel rustig en in je eigen tempo."  # one clause changes, none added
    assert new not in all_texts
    document["steps"][index] = new if isinstance(step, str) else {**step, "text": new}
    write_script(path, document)
    return path, index


def sentence_edits_in_process(
    path: Path, document: dict[str, Any], index: int, *, out: Path, cache: Path
) -> list[float]:
    """That step reworded again, three times, each rebuilt in this process: the one new sentence
    spoken and its step encoded included."""
    step = document["steps"][index]
    old = step if isinstance(step, str) else step["text"]

    def reword(ending: str) -> Callable[[], object]:
        new = old.rstrip(".") + " " + ending
        edited = {**document, "steps": list(document["steps"])}
        edited["steps"][index] = new if isinstance(step, str) else {**step, "text": new}
        return functools.partial(write_script, path, edited)

    endings = ("zonder haast.", "zo lang als je wilt.", "met je ogen dicht.")
    seconds = rebuilds_in_process(
        path, [reword(e) for e in endings], out=out, cache=cache, synthesized=1
    ).work_s
    write_script(path, document)
    return seconds


def experiment_one_sentence(
    settings: Settings, folder: Path, scripts: dict[Path, dict[str, Any]]
) -> dict[str, Any]:
    """All rebuilt after one edit, against that script built alone (warm but the edit, and cold)."""
    log("one sentence changed in one script, all rebuilt")
    work, jobs, settle_s = settings.work, settings.jobs, settings.settle_s
    path, index = edit_one_sentence(scripts, settings.seed)
    clips, parts = work / "cache-cold" / "clips", work / "cache-cold" / "mp3parts"
    before = set(clips.glob("*/*.clip")) | set(parts.glob("*/*.mp3part"))
    rebuild = run_build(
        f"rebuild of {len(scripts)} after editing step {index + 1} of {path.name}",
        [folder],
        out=work / "out",
        cache=work / "cache-cold",
        jobs=jobs,
        settle_s=settle_s,
    )
    if rebuild.report["built"] != 1 or rebuild.synthesized != 1:
        raise BuildFailed(
            f"expected 1 script built with 1 clip synthesised, got {rebuild.report['built']} / {rebuild.synthesized}"
        )
    made = set(clips.glob("*/*.clip")) | set(parts.glob("*/*.mp3part"))
    for entry in made - before:  # the baseline speaks the edit again, and encodes its step again
        entry.unlink()
    alone_warm = run_build(
        "that script alone, fresh output, cache warm but for the edited sentence and its step",
        [path],
        out=work / "out-alone-warm",
        cache=work / "cache-cold",
        jobs=jobs,
        settle_s=settle_s,
    )
    if alone_warm.synthesized != 1:
        raise BuildFailed(
            f"warm single build synthesised {alone_warm.synthesized} clips, expected 1"
        )
    alone_cold = run_build(
        "that script alone, fresh output, cold cache",
        [path],
        out=work / "out-alone-cold",
        cache=work / "cache-alone",
        jobs=jobs,
        settle_s=settle_s,
    )
    in_process = sentence_edits_in_process(
        path, scripts[path], index, out=work / "out", cache=work / "cache-cold"
    )
    return {
        "in_process_s": min(in_process),
        "in_process_s_all": in_process,
        "scripts": len(scripts),
        "edited": f"{path.name} step {index + 1}",
        "wall_s": rebuild.wall,
        "others": rebuild.others,
        "alone_warm_wall_s": alone_warm.wall,
        "alone_warm_others": alone_warm.others,
        "alone_cold_wall_s": alone_cold.wall,
        "alone_cold_others": alone_cold.others,
        "alone_cold_synthesized": alone_cold.synthesized,
        "ratio_to_alone_warm": rebuild.wall / alone_warm.wall,
        "ratio_to_alone_cold": rebuild.wall / alone_cold.wall,
        "check_s": rebuild.report.get("check_seconds"),
        "stamp_check_s": rebuild.report.get("stamp_check_seconds"),
        "work_s": float(rebuild.report["wall_seconds"]),
    }


def figures(edit: dict[str, Any]) -> list[Figure]:
    return [
        Figure(f"one sentence changed, {edit['scripts']} scripts rebuilt", edit["wall_s"], "s",
               others=edit["others"], key="wall_s"),
        Figure("  that script alone, cache warm but the edit", edit["alone_warm_wall_s"], "s",
               others=edit["alone_warm_others"], key="alone_warm_wall_s"),
        Figure("  rebuild / alone (warm but the edit)", edit["ratio_to_alone_warm"], "x",
               target=("<", 1.5), key="ratio_to_alone_warm"),
        Figure("  that script alone, cold cache", edit["alone_cold_wall_s"], "s",
               others=edit["alone_cold_others"], key="alone_cold_wall_s"),
        Figure("  rebuild / alone (cold)", edit["ratio_to_alone_cold"], "x",
               key="ratio_to_alone_cold"),
        Figure("  of the rebuild, the build (--json wall_seconds, imports included)",
               edit["work_s"], "s", key="work_s"),
        Figure("  that rebuild in one process, imports done (build --watch)",
               edit["in_process_s"], "s", target=("<", 0.2), key="in_process_s"),
        Figure(f"  of which finding the other {edit['scripts'] - 1} up to date",
               edit["stamp_check_s"] or 0.0, "s", key="stamp_check_s"),
        Figure("  of the rebuild, checking the edited one in full",
               (edit["check_s"] or 0.0) - (edit["stamp_check_s"] or 0.0), "s",
               key="full_check_s"),
    ]  # fmt: skip


def notes(edit: dict[str, Any]) -> list[str]:
    rebuilds = ", ".join(f"{s:.3f}" for s in edit["in_process_s_all"])
    return [f"edited {edit['edited']}; in one process: {rebuilds} s"]


def main(argv: list[str] | None = None) -> int:
    parser = build_arguments(__doc__)
    parser.add_argument("--scripts", type=int, help="scripts (default 200, --quick 40)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = Settings.from_args(args, "edit")
    try:
        count = args.scripts or (40 if args.quick else 200)
        folder = settings.work / "scripts"
        scripts = generate(folder, count, settings.seed)
        run_build(f"first build of {count}, untimed", [folder], out=settings.work / "out",
                  cache=settings.work / "cache-cold", jobs=settings.jobs, settle_s=0)  # fmt: skip
        # and a no-op, untimed: the first build's full checks ran within seconds of the scripts
        # being written, too soon to trust their stamps (uptodate.RACY_NS), so nothing was
        # recorded; an editor's folder was built long before the edit, and its stamps are
        run_build("no-op rebuild, untimed: the stamps recorded", [folder], out=settings.work / "out",
                  cache=settings.work / "cache-cold", jobs=settings.jobs, settle_s=0)  # fmt: skip
        results = experiment_one_sentence(settings, folder, scripts)
    except BuildFailed as error:
        log(f"error: {error}")
        return 1
    finally:
        settings.clean(args.keep)
    report("edit", args, figures(results), results, started, notes(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
