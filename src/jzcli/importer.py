"""``jzcli import``: files and folders → one batch per file, each in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from jzcli.errors import FileReadError, JzError, StoreError, UsageError
from jzcli.readers.declaraties import STORED_FINDING_COLUMNS
from jzcli.readers.prepared import FileResult, ImportOptions, Prepared
from jzcli.readers.registry import IMPORT_SUFFIXES, detect_soort, prepare
from jzcli.readers.spreadsheet import check_input_file
from jzcli.store.schema import importbevindingen
from jzcli.store.store import Store


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and for folders every importable file below them (sorted, no hidden files)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in IMPORT_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and not p.name.startswith("~$")
            )
            files.extend(found)
        else:
            files.append(path)
    return files


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise FileReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return digest.hexdigest(), size


def import_file(store: Store, path: Path, opts: ImportOptions) -> FileResult:
    """Import one file as one batch. Errors leave the store exactly as it was."""
    try:
        return _import(store, path, opts)
    except StoreError:
        raise
    except JzError as exc:
        return FileResult(path=path, status="error", message=str(exc))
    except OSError as exc:  # the file vanished or became unreadable while it was being read
        reason = exc.strerror or str(exc) or type(exc).__name__
        return FileResult(
            path=path, status="error", message=f"{path.name}: cannot be read ({reason}); nothing was stored"
        )


def _import(store: Store, path: Path, opts: ImportOptions) -> FileResult:
    """Read the file whole (unless it is stored already), then store it in one transaction."""
    check_input_file(path)  # a FIFO, a device or a file too large is refused before it is opened
    sha, size = sha256_of(path)
    existing = store.batch_by_sha(sha)
    if existing:
        return _unchanged(path, existing)
    prepared = prepare(path, opts.soort or detect_soort(path), opts, store)
    # Re-check the file did not change while we read it.
    sha_after, _ = sha256_of(path)
    if sha_after != sha:
        raise FileReadError(f"{path.name}: the file changed while it was being read; import it again")
    refused = _refused_deletions(store, prepared)
    res = prepared.result
    with store.transaction() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("LOCK TABLE batches IN SHARE ROW EXCLUSIVE MODE")
        existing = store.batch_by_sha(sha, conn)
        if existing:  # another process imported the same file while we were reading it
            return _unchanged(path, existing)
        batch_id = store.add_batch(
            conn,
            soort=prepared.soort,
            bestand=path.name,
            pad=str(path.resolve()),
            sha256=sha,
            grootte=size,
            rijen_gelezen=res.rows,
            rijen_opgeslagen=res.stored,
            rijen_overgeslagen=res.skipped,
            bevindingen=res.findings + len(refused),
            details=prepared.details,
        )
        prepared.write(store, conn, batch_id)
        if refused:
            f = pd.DataFrame(refused)
            f.insert(0, "batch", batch_id)
            f["regel_id"] = None
            store.insert_frame(conn, importbevindingen, f[STORED_FINDING_COLUMNS])
    res.batch = batch_id
    if refused:
        _note_refused(res, refused)
    return res


def _unchanged(path: Path, existing: dict) -> FileResult:
    """A byte-identical file was imported before: nothing changes."""
    return FileResult(
        path=path,
        status="unchanged",
        soort=existing["soort"],
        batch=existing["id"],
        message=f"already imported as batch {existing['id']} (byte-identical); nothing changed",
    )


def _note_refused(res: FileResult, refused: list[dict]) -> None:
    """The refused allocation deletions in the file's result: listed, counted as findings, said."""
    res.refused = [
        {k: r[k] for k in ("bron", "blad", "rij", "toewijzingnummer", "gemeente", "regels", "melding")} for r in refused
    ]
    res.findings += len(refused)
    n = len(refused)
    res.message = (res.message + "; " if res.message else "") + (
        f"{n} deletion{'s' if n != 1 else ''} refused (TR385, 9385): the allocation has approved declaration lines; the previous version stays current"
    )


def _refused_deletions(store: Store, prepared: Prepared) -> list[dict]:
    """TR385 (9385, OP362) for an allocation file: deletions (reden wijziging 13) of allocations
    that have approved, not credited declaration lines (``validate.deletion_conflicts``)."""
    if prepared.soort != "toewijzingen" or prepared.versions is None or prepared.versions.empty:
        return []
    from jzcli.engine.facts import deletion_conflicts  # a stage of its own: imported only when needed

    return deletion_conflicts(store, prepared.versions)


def import_paths(store: Store, paths: list[Path], opts: ImportOptions, progress=None) -> list[FileResult]:
    files = expand_paths(paths)
    if not files:
        raise UsageError("no importable files found in " + ", ".join(str(p) for p in paths))
    results = []
    for path in files:
        if progress:
            progress(path)
        results.append(import_file(store, path, opts))
    return results
