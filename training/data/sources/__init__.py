"""Raw data sources: one reader module per published format, and the registry ``SOURCES``.

Every reader is ``read_<name>(path, report) -> Iterator[Dialogue]`` over one file in its real format;
``read_source`` finds a source's files under the data directory (downloading the first one when none
is there) and reads them all. Files that exist are all read (e.g. RuBQ 2.0 dev and test).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from training.data.records import Dialogue
from training.data.sources.base import DataFormatError, SkipReport, SourceUnavailable
from training.data.sources.danetqa import read_danetqa
from training.data.sources.download import DataFile, ensure_file
from training.data.sources.koziev import read_anekdots, read_cornell, read_flibusta
from training.data.sources.parus import read_parus
from training.data.sources.personachat import read_personachat
from training.data.sources.ru_persona_chat import read_ru_persona_chat
from training.data.sources.rubq import read_rubq
from training.data.sources.synthetic_persona_chat import read_synthetic_persona_chat

Reader = Callable[[Path, SkipReport], Iterator[Dialogue]]


@dataclass(frozen=True)
class Source:
    """A raw data source: how to read it, where its files live, where they come from."""

    reader: Reader
    """Reads one of ``files`` into dialogues."""
    files: tuple[DataFile, ...]
    """Files relative to the data directory; all present ones are read, the first is downloaded if none is."""
    licence: str
    """The data set's licence or terms."""
    stand_in: str | None = None
    """Another source used instead when none of this one's files is present locally."""

    @property
    def url(self) -> str | None:
        """The canonical public download URL (of the first file)."""
        return self.files[0].url


_KOZIEV = "https://github.com/Koziev/NLP_Datasets/raw/master/Conversations/Data/"
_RUBQ = "https://raw.githubusercontent.com/vladislavneon/RuBQ/master/RuBQ_2.0/"
_SPC = "https://raw.githubusercontent.com/google-research-datasets/Synthetic-Persona-Chat/main/data/"
_HUMAN = "https://raw.githubusercontent.com/RussianNLP/RussianSuperGLUE/master/HumanBenchmark/"
_RSG = "https://russiansuperglue.com/tasks/download/"


def _superglue(task: str) -> tuple[DataFile, ...]:
    human = DataFile(f"russian_superglue/{task}/assign_{task}.tsv", _HUMAN + f"{task}/assign_{task}.tsv")
    official = (DataFile(f"russian_superglue/{task}/{split}.jsonl", _RSG + task, member=f"{split}.jsonl")
                for split in ("train", "val"))
    return (human, *official)


SOURCES: dict[str, Source] = {
    "ru_persona_chat": Source(
        read_ru_persona_chat,
        (DataFile("ru_persona_chat/dialogues.tsv", "https://tlk.s3.yandex.net/dataset/TlkPersonaChatRus.zip",
                  member="dialogues.tsv"),),
        "Toloka's terms for the data set",
    ),
    "personachat": Source(
        read_personachat,
        (DataFile("personachat/personachat_self_original.json",
                  "https://s3.amazonaws.com/datasets.huggingface.co/personachat/personachat_self_original.json"),),
        "MIT (ParlAI / ConvAI2)",
        stand_in="synthetic_persona_chat",
    ),
    "synthetic_persona_chat": Source(
        read_synthetic_persona_chat,
        tuple(DataFile(f"synthetic_persona_chat/Synthetic-Persona-Chat_{s}.csv", _SPC + f"Synthetic-Persona-Chat_{s}.csv")
              for s in ("valid", "test", "train")),
        "CC BY 4.0",
    ),
    "cornell": Source(read_cornell, (DataFile("koziev/cornell_movie_corpus.tar.xz", _KOZIEV + "cornell_movie_corpus.tar.xz"),), "CC0 1.0"),
    "anekdots": Source(
        read_anekdots,
        (DataFile("koziev/extract_dialogues_from_anekdots.tar.xz", _KOZIEV + "extract_dialogues_from_anekdots.tar.xz"),),
        "CC0 1.0",
    ),
    # No stable direct link is known for the ~400 MB Flibusta archive: the error points to the repository.
    "flibusta": Source(
        read_flibusta,
        (DataFile("koziev/flibusta_dialogues.tar.xz", homepage="https://github.com/Koziev/NLP_Datasets (Conversations)"),),
        "CC0 1.0",
    ),
    "rubq": Source(read_rubq, tuple(DataFile(f"rubq/RuBQ_2.0_{s}.json", _RUBQ + f"RuBQ_2.0_{s}.json") for s in ("dev", "test")),
                   "CC BY-SA 4.0"),
    "danetqa": Source(read_danetqa, _superglue("DaNetQA"), "MIT (RussianSuperGLUE)"),
    "parus": Source(read_parus, _superglue("PARus"), "MIT (RussianSuperGLUE)"),
}


def resolve_source(name: str, data_dir: Path) -> str:
    """``name``, or its stand-in when none of ``name``'s files but some of the stand-in's are present."""
    source = SOURCES[name]
    if source.stand_in and not _present(source, data_dir) and _present(SOURCES[source.stand_in], data_dir):
        return source.stand_in
    return name


def read_source(name: str, data_dir: Path, report: SkipReport, *, max_dialogues: int | None = None) -> Iterator[Dialogue]:
    """Dialogues of every present file of source ``name`` (at most ``max_dialogues``, in file order)."""
    if name not in SOURCES:
        raise KeyError(f"unknown source {name!r}; known: {sorted(SOURCES)}")
    source = SOURCES[name]
    paths = _present(source, data_dir) or [ensure_file(data_dir, source.files[0])]
    dialogues = itertools.chain.from_iterable(source.reader(path, report) for path in paths)
    return itertools.islice(dialogues, max_dialogues)


def _present(source: Source, data_dir: Path) -> list[Path]:
    return [Path(data_dir) / f.path for f in source.files if (Path(data_dir) / f.path).is_file()]


__all__ = [
    "SOURCES", "DataFile", "DataFormatError", "Reader", "SkipReport", "Source", "SourceUnavailable",
    "ensure_file", "read_source", "resolve_source",
]
