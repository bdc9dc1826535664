"""What `lass separate` is given when it separates many files: folders (recursive), glob patterns,
lists of files and manifests (CSV or JSONL rows of ``path`` and optionally ``query``, ``mode``,
``output``), made into jobs whose outputs mirror the inputs in one output folder. The separating is
:mod:`models.many_files`'s.
"""

from __future__ import annotations

import csv
import glob
import json
from collections.abc import Callable
from pathlib import Path

import soundfile as sf

from models.config import MODES
from models.errors import UserError
from models.many_files import Job  # nothing heavy at import: the lass parser asks is_batch before torch loads
from models.queries import parse_query

AUDIO_SUFFIXES = frozenset("." + name.lower() for name in sf.available_formats())
GLOB_CHARACTERS = frozenset("*?[")
MANIFEST_SUFFIXES = (".csv", ".jsonl")
MANIFEST_FIELDS = ("path", "query", "mode", "output")


def is_manifest(name: str) -> bool:
    return Path(name).suffix.lower() in MANIFEST_SUFFIXES


def is_batch(inputs: list[str]) -> bool:
    """Several inputs, a folder, a glob pattern or a manifest: the output is a folder."""
    return len(inputs) > 1 or any(Path(name).is_dir() or GLOB_CHARACTERS & set(name) or is_manifest(name) for name in inputs)


def collect_jobs(
    inputs: list[str], out_dir: Path, name_outputs: Callable[[Path], list[Path]], inputs_anywhere: bool = False,
) -> list[Job]:
    """The files behind ``inputs`` and where their outputs go: a folder's files (recursively, audio
    extensions only) keep their path below it, a file or a glob match goes to the top of ``out_dir``.
    ``name_outputs`` turns one output path into one per query. A manifest's inputs stay inside its
    folder unless ``inputs_anywhere``; every output stays inside ``out_dir``.

    Raises :class:`UserError`, before any work, for an input that names nothing, an ``out_dir`` that is,
    or lies inside, an input folder (the outputs would become inputs), an output that would replace
    an input, and two inputs that would write the same output."""
    for name in inputs:
        if Path(name).is_dir() and _inside(out_dir, Path(name)):
            raise UserError(
                f"-o {out_dir} is inside the input folder {name}: the outputs would mix with the inputs "
                "(and be taken as inputs by the next run); write them to a folder outside it"
            )
    jobs, owners = [], {}
    for name in inputs:
        rows = _manifest_jobs(Path(name), out_dir, name_outputs, inputs_anywhere) if is_manifest(name) else [
            Job(source, tuple(name_outputs(out_dir / relative))) for source, relative in _files(name)
        ]
        for job in rows:
            for output in job.outputs:
                if output in owners:
                    raise UserError(f"{job.source} and {owners[output]} would both write {output}: give them different names")
                owners[output] = job.source
            jobs.append(job)
    sources = {job.source.resolve(): job.source for job in jobs}
    for output, owner in owners.items():
        if output.resolve() in sources:
            raise UserError(f"the output of {owner} would replace the input {sources[output.resolve()]}: write to another folder with -o")
    return jobs


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (links resolved)."""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def _manifest_jobs(
    manifest: Path, out_dir: Path, name_outputs: Callable[[Path], list[Path]], inputs_anywhere: bool,
) -> list[Job]:
    """A manifest's rows as jobs: ``path`` (relative to the manifest's folder), and optionally ``query``
    (one output of that query), ``mode``, and ``output`` (relative to ``out_dir``; default: ``path``'s
    below the manifest's folder)."""
    jobs = []
    for number, row in enumerate(_manifest_rows(manifest), 1):
        where = f"{manifest}, row {number}"
        try:
            source, default_output = _row_source(manifest, row["path"], inputs_anywhere)
            output = _row_output(out_dir, row.get("output") or default_output)
            query = parse_query(row["query"]) if row.get("query") else None
        except UserError as error:
            raise UserError(f"{where}: {error}") from None
        jobs.append(Job(source, (output,) if query is not None else tuple(name_outputs(output)), query, row.get("mode") or None))
    return jobs


def _manifest_rows(manifest: Path) -> list[dict[str, str | None]]:
    """The rows of a CSV (with a header) or JSONL manifest, each checked to hold a ``path`` and only
    text in the known fields."""
    if not manifest.is_file():
        raise UserError(f"manifest not found: {manifest}")
    try:
        if manifest.suffix.lower() == ".csv":
            with open(manifest, newline="") as handle:
                rows = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError, RecursionError) as error:
        raise UserError(f"{manifest} is not a readable manifest: {error}") from None
    except OSError as error:
        raise UserError(f"cannot read the manifest {manifest}: {error.strerror}") from None
    for number, row in enumerate(rows, 1):
        where = f"{manifest}, row {number}"
        if not isinstance(row, dict):
            raise UserError(f"{where}: a row is an object of path, query, mode, output, not {type(row).__name__}")
        if None in row:
            raise UserError(f"{where}: more fields than the header names ({len(row) - 1 + len(row[None])}); quote values that hold commas")
        unknown = set(row) - set(MANIFEST_FIELDS)
        if unknown:
            raise UserError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}; a row has {', '.join(MANIFEST_FIELDS)}")
        wrong = [name for name, value in row.items() if value is not None and not isinstance(value, str)]
        if wrong:
            raise UserError(f"{where}: {wrong[0]} must be text, not {json.dumps(row[wrong[0]])}")
        if not row.get("path"):
            raise UserError(f"{where}: every row needs a 'path'")
        if row.get("mode") and row["mode"] not in MODES:
            raise UserError(f"{where}: mode must be isolate or remove, not {row['mode']!r}")
    return rows


def _row_source(manifest: Path, path: str, inputs_anywhere: bool) -> tuple[Path, Path]:
    """A row's input file, and its default output path below ``-o``: its path below the manifest's
    folder, or its name for a file elsewhere. Outside that folder only with ``inputs_anywhere``."""
    folder = manifest.parent
    source = folder / path  # an absolute path stays itself
    if _inside(source, folder):
        return source, source.resolve().relative_to(folder.resolve())
    if not inputs_anywhere:
        raise UserError(
            f"input {path} is outside the manifest's folder {folder}; inputs are refused there unless "
            "you pass --inputs-anywhere"
        )
    return source, Path(source.name)


def _row_output(out_dir: Path, output: str | Path) -> Path:
    """A row's output below ``out_dir``; refused if it would be written anywhere else."""
    target = out_dir / output
    if Path(output).is_absolute() or not _inside(target, out_dir) or target.resolve() == out_dir.resolve():
        raise UserError(f"output {output} is not a file inside -o {out_dir}; give a path relative to it, without ..")
    return target


def _files(name: str) -> list[tuple[Path, Path]]:
    """``(file, its path below the output folder)`` for one input argument."""
    path = Path(name)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        return [(p, p.relative_to(path)) for p in found]
    if GLOB_CHARACTERS & set(name):
        matches = sorted(Path(p) for p in glob.glob(name, recursive=True) if Path(p).is_file())
        if not matches:
            raise UserError(f"no files match {name}")
        return [(p, Path(p.name)) for p in matches]
    if not path.is_file():
        raise UserError(f"input not found: {path}")
    return [(path, Path(path.name))]
