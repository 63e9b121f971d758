"""A tiny model shaped like a Piper voice, built with the onnx package, for offline tests.

Its inputs and outputs are the ones piper-tts's PiperVoice feeds and reads (`input` int64 [1, n]
phoneme ids, `input_lengths` int64 [1], `scales` float32 [noise, length, noise_w], optionally `sid`
int64 [1]; output float32 [1, 1, samples]). What it "says" is a sine tone whose length is
n * HOP * length_scale samples and whose pitch follows the mean phoneme id (and the speaker), so a
test can tell that the text, the pace and the speaker really reached the model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

HOP = 256
"""Samples per phoneme id at length_scale 1 (Piper's hop length)."""
SAMPLE_RATE = 22050


def _phoneme_id_map() -> dict[str, list[int]]:
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    return {phoneme: list(ids) for phoneme, ids in DEFAULT_PHONEME_ID_MAP.items()}


def model_bytes(*, speakers: int = 1, noisy: bool = False) -> bytes:
    """The serialized ONNX model; `noisy` adds noise from onnxruntime's random generator, scaled
    by noise_scale, as a real (VITS) voice draws it."""
    const = helper.make_tensor
    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        helper.make_node("Constant", [], ["one"], value=const("one", TensorProto.INT64, [1], [1])),
        helper.make_node("Constant", [], ["two"], value=const("two", TensorProto.INT64, [1], [2])),
        helper.make_node("Slice", ["shape", "one", "two"], ["count"]),
        helper.make_node("Cast", ["count"], ["count_f"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["scales", "one", "two"], ["length_scale"]),
        helper.make_node(
            "Constant", [], ["hop"], value=const("hop", TensorProto.FLOAT, [1], [float(HOP)])
        ),
        helper.make_node("Mul", ["count_f", "hop"], ["frames"]),
        helper.make_node("Mul", ["frames", "length_scale"], ["total"]),
        helper.make_node("Floor", ["total"], ["total_floor"]),
        helper.make_node(
            "Constant", [], ["axis0"], value=const("axis0", TensorProto.INT64, [1], [0])
        ),
        helper.make_node("Squeeze", ["total_floor", "axis0"], ["limit"]),
        helper.make_node(
            "Constant", [], ["zero_f"], value=const("zero_f", TensorProto.FLOAT, [], [0.0])
        ),
        helper.make_node(
            "Constant", [], ["one_f"], value=const("one_f", TensorProto.FLOAT, [], [1.0])
        ),
        helper.make_node("Range", ["zero_f", "limit", "one_f"], ["time"]),
        helper.make_node("Cast", ["input"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["ids_f"], ["mean_id"], keepdims=0),
        helper.make_node(
            "Constant", [], ["per_id"], value=const("per_id", TensorProto.FLOAT, [], [0.0005])
        ),
        helper.make_node(
            "Constant", [], ["base"], value=const("base", TensorProto.FLOAT, [], [0.03])
        ),
        helper.make_node("Mul", ["mean_id", "per_id"], ["id_step"]),
        helper.make_node("Add", ["id_step", "base"], ["step_plain"]),
    ]
    step = "step_plain"
    inputs = [
        helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
        helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
    ]
    if speakers > 1:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
        nodes += [
            helper.make_node("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT),
            helper.make_node(
                "Constant", [], ["per_sid"], value=const("per_sid", TensorProto.FLOAT, [], [0.01])
            ),
            helper.make_node("Mul", ["sid_f", "per_sid"], ["sid_step"]),
            helper.make_node("Add", ["step_plain", "sid_step"], ["step_speaker"]),
        ]
        step = "step_speaker"
    nodes += [
        helper.make_node("Mul", ["time", step], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node(
            "Constant", [], ["half"], value=const("half", TensorProto.FLOAT, [], [0.5])
        ),
        helper.make_node("Mul", ["wave", "half"], ["quiet_plain"]),
    ]
    quiet = "quiet_plain"
    if noisy:
        nodes += [
            helper.make_node("Slice", ["scales", "axis0", "one"], ["noise_scale"]),
            helper.make_node("RandomNormalLike", ["quiet_plain"], ["noise"], scale=0.05),
            helper.make_node("Mul", ["noise", "noise_scale"], ["scaled_noise"]),
            helper.make_node("Add", ["quiet_plain", "scaled_noise"], ["quiet_noisy"]),
        ]
        quiet = "quiet_noisy"
    nodes += [
        helper.make_node(
            "Constant",
            [],
            ["out_shape"],
            value=const("out_shape", TensorProto.INT64, [3], [1, 1, -1]),
        ),
        helper.make_node("Reshape", [quiet, "out_shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_piper",
        inputs,
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "samples"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def config_document(*, speakers: int = 1, sample_rate: int = SAMPLE_RATE) -> dict[str, object]:
    """The .onnx.json Piper reads beside a model."""
    id_map = _phoneme_id_map()
    return {
        "audio": {"sample_rate": sample_rate, "quality": "medium"},
        "espeak": {"voice": "nl"},
        "language": {"code": "nl_BE", "family": "nl", "region": "BE"},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_map": {},
        "phoneme_id_map": id_map,
        "num_symbols": max(i for ids in id_map.values() for i in ids) + 1,
        "num_speakers": speakers,
        "speaker_id_map": {f"speaker{n}": n for n in range(speakers)} if speakers > 1 else {},
        "piper_version": "1.0.0",
        "dataset": "tiny",
    }


def write_voice(
    folder: Path, voice_id: str = "nl_BE-tiny-medium", *, speakers: int = 1, noisy: bool = False
) -> Path:
    """Write VOICE_ID.onnx and VOICE_ID.onnx.json into `folder`; returns the model's path."""
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{voice_id}.onnx"
    model.write_bytes(model_bytes(speakers=speakers, noisy=noisy))
    config = folder / f"{voice_id}.onnx.json"
    config.write_text(json.dumps(config_document(speakers=speakers)), encoding="utf-8")
    return model


def catalogue_entry(voice_id: str, files: dict[str, bytes]) -> dict[str, object]:
    """One voice of a voices.json catalogue: each file's path, size and MD5, as Piper lists them."""
    family_region, name, quality = voice_id.split("-")
    family, region = family_region.split("_")
    folder = f"{family}/{family_region}/{name}/{quality}"
    return {
        "key": voice_id,
        "name": name,
        "language": {"code": family_region, "family": family, "region": region},
        "quality": quality,
        "num_speakers": 1,
        "speaker_id_map": {},
        "files": {
            f"{folder}/{file_name}": {
                "size_bytes": len(data),
                "md5_digest": hashlib.md5(data).hexdigest(),
            }
            for file_name, data in files.items()
        },
        "aliases": [],
    }
