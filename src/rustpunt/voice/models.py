"""Piper voice models on disk: where they live, which are installed, and installing one safely.

A voice model is two files, ID.onnx and ID.onnx.json, in a models folder: $RUSTPUNT_VOICE_MODELS
(one or more folders, separated like PATH) and else the user's data folder
(platformdirs' user_data_dir("rustpunt")/voices). The installer downloads both from the Piper voices
repository (base URL $RUSTPUNT_PIPER_URL, else Hugging Face), whose catalogue voices.json lists each
file's size and MD5. Nothing looks installed until both files are complete and verified:

- each file is downloaded to a hidden `.NAME.partial` beside its final name, which a rerun resumes
  with an HTTP Range request (or restarts, if the server ignores the range);
- size and MD5 are checked against the catalogue; a file that does not match is deleted;
- the .onnx.json is renamed into place first and the .onnx last, so a model found on disk always has
  its configuration, and an interruption at any moment leaves either the old state or a voice that
  is not yet "installed" (a model counts as installed only with both files).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rustpunt.errors import RustpuntError

log = logging.getLogger(__name__)

MODELS_ENV = "RUSTPUNT_VOICE_MODELS"
"""Folders holding Piper models, searched in order; the first is where `install` writes."""
URL_ENV = "RUSTPUNT_PIPER_URL"
"""Base URL of the Piper voices repository (tests point it at 127.0.0.1)."""
DEFAULT_BASE_URL = "https://huggingface.co/rhasspy/piper-voices/resolve/main"
CATALOGUE = "voices.json"
TIMEOUT_S = 30.0
"""Seconds without a byte from the server before a request is given up (connect and each read)."""
CHUNK_BYTES = 1 << 16
MAX_CATALOGUE_BYTES = 16 << 20

VOICE_ID = re.compile(
    r"(?P<family>[a-z]{2,3})_(?P<region>[A-Z]{2})-(?P<name>[^-/\\\s]+)-(?P<quality>x_low|low|medium|high)"
)
"""A Piper voice id such as nl_BE-nathalie-medium: language_REGION-name-quality."""

RECOMMENDED = (
    "nl_BE-nathalie-medium",
    "nl_BE-rdh-medium",
    "nl_NL-pim-medium",
    "nl_NL-ronnie-medium",
)
"""The Dutch voices the shipped profiles use. Not the nl_NL "mls" voices: they garble short phrases."""

ProgressCallback = Callable[[int, int], None]
"""progress(bytes_done, bytes_total) over all of a voice's files."""


class VoiceInstallError(RustpuntError):
    """A voice model could not be downloaded, verified or stored."""


class _RangeRefused(VoiceInstallError):
    """The server cannot resume from where the partial file ends."""


@dataclass(frozen=True)
class ModelFiles:
    """An installed voice: its model and the configuration Piper reads beside it."""

    voice_id: str
    model: Path
    config: Path


@dataclass(frozen=True)
class CatalogueFile:
    path: str
    """Path inside the voices repository, e.g. nl/nl_BE/nathalie/medium/nl_BE-nathalie-medium.onnx."""
    size: int
    md5: str


@dataclass(frozen=True)
class CatalogueVoice:
    voice_id: str
    model: CatalogueFile
    config: CatalogueFile


def install_command(voice_id: str) -> str:
    """The exact command that installs a voice, for error messages."""
    return f"rustpunt voices install {voice_id}"


def models_dirs() -> list[Path]:
    """Folders searched for models, in order: $RUSTPUNT_VOICE_MODELS, else the user data folder."""
    configured = os.environ.get(MODELS_ENV, "")
    folders = [Path(part).expanduser() for part in configured.split(os.pathsep) if part.strip()]
    if folders:
        return folders
    from platformdirs import user_data_dir

    return [Path(user_data_dir("rustpunt")) / "voices"]


def default_models_dir() -> Path:
    """Where `rustpunt voices install` writes unless told otherwise."""
    return models_dirs()[0]


def model_files(folder: Path, voice_id: str) -> ModelFiles:
    return ModelFiles(
        voice_id=voice_id,
        model=folder / f"{voice_id}.onnx",
        config=folder / f"{voice_id}.onnx.json",
    )


def find_model(voice_id: str, folders: Iterable[Path] | None = None) -> ModelFiles | None:
    """The first folder's complete copy of a voice (both files present), or None."""
    for folder in models_dirs() if folders is None else folders:
        files = model_files(Path(folder), voice_id)
        if files.model.is_file() and files.config.is_file():
            return files
    return None


def installed_models(folders: Iterable[Path] | None = None) -> list[ModelFiles]:
    """Every complete model in the folders, by voice id (the first folder wins)."""
    found: dict[str, ModelFiles] = {}
    for folder in models_dirs() if folders is None else folders:
        for model in sorted(Path(folder).glob("*.onnx")):
            voice_id = model.name[: -len(".onnx")]
            config = model.with_name(model.name + ".json")
            if voice_id not in found and config.is_file():
                found[voice_id] = ModelFiles(voice_id=voice_id, model=model, config=config)
    return [found[name] for name in sorted(found)]


def base_url() -> str:
    return os.environ.get(URL_ENV, DEFAULT_BASE_URL).rstrip("/")


# --------------------------------------------------------------------------- catalogue


def fetch_catalogue(url: str | None = None, *, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """The repository's voices.json as a mapping of voice id to its entry."""
    address = f"{url or base_url()}/{CATALOGUE}"
    try:
        with _open(address, timeout=timeout) as response:
            data = response.read(MAX_CATALOGUE_BYTES + 1)
    except VoiceInstallError:
        raise
    except (OSError, http.client.HTTPException) as error:
        raise VoiceInstallError(_network_message(address, error, timeout)) from None
    if len(data) > MAX_CATALOGUE_BYTES:
        raise VoiceInstallError(
            f"{address}: the voice catalogue is implausibly large; check {URL_ENV}"
        )
    try:
        document = json.loads(data)
    except ValueError:
        raise VoiceInstallError(
            f"{address}: the voice catalogue is not valid JSON; check {URL_ENV} or try again later"
        ) from None
    if not isinstance(document, dict):
        raise VoiceInstallError(f"{address}: the voice catalogue is not a mapping of voices")
    return document


def catalogue_voice(catalogue: Mapping[str, Any], voice_id: str) -> CatalogueVoice:
    """The model and config of `voice_id` as the catalogue lists them; a clear error otherwise."""
    entry = catalogue.get(voice_id)
    if not isinstance(entry, dict):
        same_language = sorted(
            name for name in catalogue if name.split("-")[0] == voice_id.split("-")[0]
        )
        hint = f"; voices in that language: {', '.join(same_language)}" if same_language else ""
        raise VoiceInstallError(f"the Piper catalogue has no voice {voice_id!r}{hint}")
    files = entry.get("files")
    if not isinstance(files, dict):
        raise VoiceInstallError(f"the catalogue entry of {voice_id} lists no files")
    found: dict[str, CatalogueFile] = {}
    for path, facts in files.items():
        for suffix in (".onnx", ".onnx.json"):
            if str(path).endswith(f"/{voice_id}{suffix}") or path == f"{voice_id}{suffix}":
                try:
                    size = int(facts["size_bytes"])
                    md5 = str(facts["md5_digest"]).lower()
                except (KeyError, TypeError, ValueError):
                    raise VoiceInstallError(
                        f"the catalogue gives no size and MD5 for {path}"
                    ) from None
                if size <= 0 or not re.fullmatch(r"[0-9a-f]{32}", md5):
                    raise VoiceInstallError(f"the catalogue's size or MD5 of {path} is not valid")
                found[suffix] = CatalogueFile(path=str(path), size=size, md5=md5)
    if set(found) != {".onnx", ".onnx.json"}:
        raise VoiceInstallError(
            f"the catalogue entry of {voice_id} lacks its .onnx or .onnx.json file"
        )
    return CatalogueVoice(voice_id=voice_id, model=found[".onnx"], config=found[".onnx.json"])


# --------------------------------------------------------------------------- install


def install_voice(
    voice_id: str,
    *,
    folder: Path | None = None,
    url: str | None = None,
    timeout: float = TIMEOUT_S,
    progress: ProgressCallback | None = None,
) -> ModelFiles:
    """Download, verify and store a Piper voice; returns where it now is.

    Safe to interrupt and rerun: a rerun resumes the partial download. Raises VoiceInstallError.
    """
    if not VOICE_ID.fullmatch(voice_id):
        raise VoiceInstallError(
            f"{voice_id!r} is not a Piper voice id; ids look like nl_BE-nathalie-medium "
            "(language_REGION-name-quality)"
        )
    target = Path(folder) if folder is not None else default_models_dir()
    address = url or base_url()
    voice = catalogue_voice(fetch_catalogue(address, timeout=timeout), voice_id)
    files = model_files(target, voice_id)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VoiceInstallError(
            f"{target}: cannot create the voices folder ({error.strerror or error}); "
            "choose another with --dir"
        ) from None
    total = voice.model.size + voice.config.size
    done_before = 0
    partials: list[tuple[Path, Path]] = []
    for remote, destination in ((voice.config, files.config), (voice.model, files.model)):
        if destination.is_file() and _matches(destination, remote):
            log.info("%s is already installed and verified", destination)
            done_before += remote.size
            continue

        def report(done: int, base: int = done_before) -> None:
            if progress:
                progress(base + done, total)

        partial = _partial_path(destination)
        _download(f"{address}/{remote.path}", partial, remote, timeout=timeout, progress=report)
        partials.append((partial, destination))
        done_before += remote.size
    try:
        if any(destination == files.model for _, destination in partials):
            # an old model must not meet the new config, even for a moment
            files.model.unlink(missing_ok=True)
        for partial, destination in partials:  # the config first, the model last
            os.replace(partial, destination)
    except OSError as error:
        raise VoiceInstallError(
            f"{target}: cannot store the voice ({error.strerror or error}); check the folder's permissions"
        ) from None
    if progress:
        progress(total, total)
    return files


def _partial_path(destination: Path) -> Path:
    return destination.with_name(f".{destination.name}.partial")


def _matches(path: Path, remote: CatalogueFile) -> bool:
    return path.stat().st_size == remote.size and _md5(path) == remote.md5


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(
    address: str,
    partial: Path,
    remote: CatalogueFile,
    *,
    timeout: float,
    progress: Callable[[int], None],
) -> None:
    """Bring `partial` to the complete, verified file, resuming what an earlier run left."""
    have = partial.stat().st_size if partial.exists() else 0
    if have > remote.size:
        partial.unlink()
        have = 0
    if have < remote.size:
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with _open(address, timeout=timeout, headers=headers) as response:
                if have and response.status != 206:  # the server ignored the range: start over
                    log.info(
                        "%s does not resume downloads; starting %s again", address, partial.name
                    )
                    have = 0
                with partial.open("ab" if have else "wb") as handle:
                    progress(have)
                    while True:
                        block = response.read(CHUNK_BYTES)
                        if not block:
                            break
                        have += len(block)
                        if have > remote.size:
                            break
                        handle.write(block)
                        progress(have)
        except _RangeRefused:
            partial.unlink(missing_ok=True)
            raise
        except VoiceInstallError:
            raise
        except (OSError, http.client.HTTPException) as error:
            # a partial file is kept (hidden, never taken for a model) so a rerun can resume
            raise VoiceInstallError(
                f"{_network_message(address, error, timeout)}; run the same command again to resume"
            ) from None
    size = partial.stat().st_size
    if have < remote.size and size < remote.size:
        # the server closed the connection early (urllib reports that as a plain end of data)
        raise VoiceInstallError(
            f"{address}: the connection broke off after {size} of {remote.size} bytes; "
            "run the same command again to resume"
        )
    if have > remote.size or size != remote.size:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise VoiceInstallError(
            f"{address}: got {max(have, size)} bytes where the catalogue says {remote.size}; "
            "the download was discarded, run the same command again"
        )
    if _md5(partial) != remote.md5:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise VoiceInstallError(
            f"{address}: the MD5 checksum does not match the catalogue's; the download was "
            "discarded, run the same command again"
        )


def _open(address: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> Any:
    request = urllib.request.Request(address, headers={"User-Agent": "rustpunt", **(headers or {})})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 404:
            raise VoiceInstallError(
                f"{address}: not found (HTTP 404); check the voice id and {URL_ENV}"
            ) from None
        if error.code == 416:  # range not satisfiable: the partial file is longer than the file
            raise _RangeRefused(
                f"{address}: the server refused to resume (HTTP 416); the partial download was "
                "discarded, run the same command again"
            ) from None
        raise VoiceInstallError(
            f"{address}: the server answered HTTP {error.code} {error.reason}; try again later"
        ) from None


def _network_message(address: str, error: BaseException, timeout: float) -> str:
    if isinstance(error, (TimeoutError, socket.timeout)) or "timed out" in str(error):
        return f"{address}: no answer within {timeout:g} s; check the internet connection"
    if isinstance(error, http.client.IncompleteRead):
        return f"{address}: the connection broke off mid-download"
    if isinstance(error, urllib.error.URLError):
        return (
            f"{address}: cannot connect ({error.reason}); check the internet connection and proxy"
        )
    return f"{address}: download failed ({' '.join(str(error).split()) or type(error).__name__})"
