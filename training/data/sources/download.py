"""Fetch a missing source file from its public URL (with a progress bar), or explain where to get it."""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from training.data.sources.base import SourceUnavailable


@dataclass(frozen=True)
class DataFile:
    """One file of a source, relative to the data directory, and where it is published."""

    path: str
    """Location under the data directory, e.g. ``ru_persona_chat/dialogues.tsv``."""
    url: str | None = None
    """Direct download URL; None when there is none (the error then points to ``homepage``)."""
    member: str | None = None
    """When ``url`` is a zip archive: the file name (any folder inside it) to extract to ``path``."""
    homepage: str | None = None
    """Where a person can get the file by hand."""


def ensure_file(data_dir: Path, data_file: DataFile, *, timeout: float = 30.0) -> Path:
    """The local path of ``data_file``, downloading it first when it is missing."""
    target = Path(data_dir) / data_file.path
    if target.is_file():
        return target
    where = data_file.url or data_file.homepage or "its publisher"
    if data_file.url is None:
        raise SourceUnavailable(f"{target} is missing and has no download URL; get it from {where} and put it there")
    try:
        _download(data_file, target, timeout)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise SourceUnavailable(
            f"{target} is missing and downloading it from {data_file.url} failed ({exc}); "
            f"download it by hand and put it at {target}"
        ) from exc
    return target


def _download(data_file: DataFile, target: Path, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fetched = Path(tmp) / "download"
        with urllib.request.urlopen(data_file.url, timeout=timeout) as response, fetched.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {target.name}") as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        if data_file.member is not None:
            with zipfile.ZipFile(fetched) as archive, archive.open(_member(archive, data_file.member)) as src:
                with (Path(tmp) / "member").open("wb") as dst:
                    shutil.copyfileobj(src, dst)
            fetched = Path(tmp) / "member"
        # Only a complete file ever appears at the target path.
        fetched.replace(target)


def _member(archive: zipfile.ZipFile, name: str) -> str:
    for candidate in archive.namelist():
        if Path(candidate).name == name:
            return candidate
    raise KeyError(f"the archive has no {name}")
