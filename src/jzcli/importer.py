"""``jzcli import``: files and folders → one batch per file, each in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jzcli.errors import FileReadError, JzError, StoreError, UsageError
from jzcli.readers.declaraties import Context, read_declaraties
from jzcli.readers.headers import parse_map_options
from jzcli.readers.spreadsheet import check_input_file, read_head, read_sheets, sniff_kind
from jzcli.store.store import Store, declaratieregels, importbevindingen

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".txt", ".tsv"}
IMPORT_SUFFIXES = SPREADSHEET_SUFFIXES | {".xml", ".toml"}
SOORTEN = ("declaraties", "toewijzingen", "contract")


@dataclass
class FileResult:
    """What happened to one file; ``status`` is imported, unchanged or error."""

    path: Path
    status: str
    soort: str | None = None
    batch: int | None = None
    sheets: list[str] = field(default_factory=list)
    rows: int = 0
    stored: int = 0
    skipped: int = 0
    findings: int = 0
    message: str = ""
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    hidden_sheets: list[str] = field(default_factory=list)  # sheets read that are hidden in Excel
    hidden_rows: int = 0  # hidden Excel rows that were read
    refused: list[dict] = field(default_factory=list)  # allocation deletions refused by TR385

    @property
    def sheet_labels(self) -> list[str]:
        """Sheet names for the summary, hidden ones marked "(hidden)"."""
        return [f"{s} (hidden)" if s in self.hidden_sheets else s for s in self.sheets if s]

    def as_dict(self) -> dict:
        return {
            "file": str(self.path),
            "status": self.status,
            "soort": self.soort,
            "batch": self.batch,
            "sheets": self.sheets,
            "rows": self.rows,
            "stored": self.stored,
            "skipped": self.skipped,
            "skipped_reasons": self.skipped_reasons,
            "hidden_sheets": self.hidden_sheets,
            "hidden_rows": self.hidden_rows,
            "findings": self.findings,
            "message": self.message,
            "refused_deletions": self.refused,
        }


@dataclass
class ImportOptions:
    soort: str | None = None  # None = detect
    aanbieder: str | None = None
    gemeente: str | None = None
    maps: list[str] = field(default_factory=list)


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


# A reader for one kind of file. It reads and checks everything *before* the store is touched and
# returns a function that writes it inside the batch's transaction.
Writer = Callable[[Store, object, int], FileResult]
KIND_READERS: dict[str, Callable[[Path, ImportOptions, Store], Prepared]] = {}


@dataclass
class Prepared:
    soort: str
    result: FileResult
    write: Callable[[Store, object, int], None]  # (store, connection, batch id)
    details: dict = field(default_factory=dict)
    aanbieder: str | None = None
    versions: pd.DataFrame | None = None  # allocation files: the versions to store (bron, blad, rij, fields)


def detect_soort(path: Path) -> str:
    """declaraties, toewijzingen or contract, from the file's content (not its name)."""
    head = read_head(path)
    if path.suffix.lower() == ".toml":
        return "contract"
    from jzcli.readers.filetype import foreign_binary

    foreign = foreign_binary(path, head)  # a PDF, an image, a web page: say what it is
    if foreign:
        raise FileReadError(foreign)
    kind = sniff_kind(path, head)
    if kind == "xml":
        detector = KIND_DETECTORS.get("xml")
        if detector:
            return detector(path)
        raise FileReadError(f"{path.name}: iJw XML messages cannot be imported by this version of jzcli")
    for name, detector in KIND_DETECTORS.items():
        if name != "xml" and detector(path):
            return name
    return "declaraties"


# Extra detectors registered by other readers: name -> fn(path) -> bool (or -> soort for "xml").
KIND_DETECTORS: dict[str, Callable] = {}


def prepare_declaraties(path: Path, opts: ImportOptions, store: Store) -> Prepared:
    mapping = parse_map_options(opts.maps)
    # A mapping remembered for this aanbieder applies to its next files (explicit --map wins).
    known = store.remembered_mapping(opts.aanbieder) if opts.aanbieder else {}
    ctx = Context(aanbieder=opts.aanbieder, gemeente=opts.gemeente, mapping={**known, **mapping})
    sheets = read_sheets(path)
    results, skipped_sheets = read_declaraties(path, sheets, ctx)
    aanbieders = pd.concat([r.lines["aanbieder"] for r in results]).dropna().unique()
    if len(aanbieders) == 1 and not opts.aanbieder:
        remembered = store.remembered_mapping(str(aanbieders[0]))
        extra = {k: v for k, v in remembered.items() if k not in mapping}
        if extra:
            ctx.mapping = {**extra, **mapping}
            results, skipped_sheets = read_declaraties(path, sheets, ctx)
    # One sheet (every CSV): its lines as they are (already numbered from 0), not a concatenated copy.
    lines = results[0].lines if len(results) == 1 else pd.concat([r.lines for r in results], ignore_index=True)
    findings = (
        pd.concat([r.findings for r in results if not r.findings.empty], ignore_index=True)
        if any(not r.findings.empty for r in results)
        else None
    )
    skipped = [s for r in results for s in r.skipped]
    if lines.empty:
        where = ", ".join(
            f"sheet '{r.sheet}' row {r.header_row}" if r.sheet else f"row {r.header_row}" for r in results
        )
        raise FileReadError(f"{path.name}: no declaration lines under the header ({where})")

    reasons: dict[str, int] = {}
    for s in skipped:
        key = s["reden"].split(" (")[0]
        reasons[key] = reasons.get(key, 0) + 1
    result = FileResult(
        path=path,
        status="imported",
        soort="declaraties",
        sheets=[r.sheet or "" for r in results],
        rows=sum(r.rows_read for r in results),
        stored=len(lines),
        skipped=len(skipped),
        findings=0 if findings is None else len(findings),
        skipped_reasons=reasons,
        hidden_sheets=[r.sheet for r in results if r.hidden and r.sheet],
        hidden_rows=sum(len(r.hidden_rows) for r in results),
    )
    details = {
        "sheets": [
            {
                "blad": r.sheet,
                "kopregel": r.header_row,
                "kolommen": r.columns,
                "rijen": r.rows_read,
                "regels": len(r.lines),
                "vermeld_totaal": r.stated_total,
                "verborgen": r.hidden,
                "verborgen_rijen": _ranges(r.hidden_rows),
                "kopregels": r.header_rows,
                "dubbele_kolommen": r.duplicates,
            }
            for r in results
        ],
        "overgeslagen_bladen": skipped_sheets,
        "overgeslagen_rijen": skipped,
    }

    def write(store: Store, conn, batch_id: int) -> None:
        first = store.next_id(conn, declaratieregels)
        frame = lines.copy(deep=False)  # only columns are added: sharing the data saves 0.3 s per 1M lines
        frame.insert(0, "id", range(first, first + len(frame)))
        frame.insert(1, "batch", batch_id)
        store.insert_frame(conn, declaratieregels, frame)
        if findings is not None:
            f = findings.copy()
            if frame["blad"].notna().any():
                # (sheet, row) -> line id for all findings at once (a lookup per finding took
                # ~7 µs: 0.7 s for 100 000 findings); a finding without its line gets NA (NULL).
                key = frame.set_index(["blad", "rij"])["id"]
                wanted = pd.MultiIndex.from_arrays([f["blad"], f["rij"]])
                f["regel_id"] = key.reindex(wanted).astype("Int64").to_numpy()
            else:
                f["regel_id"] = f["rij"].map(frame.set_index("rij")["id"])
            f.insert(0, "batch", batch_id)
            store.insert_frame(
                conn,
                importbevindingen,
                f[["batch", "regel_id", "bron", "blad", "rij", "kolom", "veld", "waarde", "regel", "melding"]],
            )
        if mapping and len(aanbieders) == 1:
            store.remember_mapping(conn, str(aanbieders[0]), mapping)

    return Prepared(
        "declaraties", result, write, details, aanbieder=str(aanbieders[0]) if len(aanbieders) == 1 else None
    )


KIND_READERS["declaraties"] = prepare_declaraties


def _ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 9] → "3-5, 9" (hidden rows in the batch details)."""
    parts: list[str] = []
    numbers = sorted(set(numbers))
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        parts.append(str(numbers[i]) if i == j else f"{numbers[i]}-{numbers[j]}")
        i = j + 1
    return ", ".join(parts)


def import_file(store: Store, path: Path, opts: ImportOptions) -> FileResult:
    """Import one file as one batch. Errors leave the store exactly as it was."""
    try:
        check_input_file(path)  # a FIFO, a device or a file too large is refused before it is opened
        sha, size = sha256_of(path)
        existing = store.batch_by_sha(sha)
        if existing:
            return FileResult(
                path=path,
                status="unchanged",
                soort=existing["soort"],
                batch=existing["id"],
                message=f"already imported as batch {existing['id']} (byte-identical); nothing changed",
            )
        soort = opts.soort or detect_soort(path)
        reader = KIND_READERS.get(soort)
        if reader is None:
            raise UsageError(f"--soort {soort}: unknown kind; choose one of {', '.join(KIND_READERS)}")
        prepared = reader(path, opts, store)
        # Re-check the file did not change while we read it.
        sha_after, _ = sha256_of(path)
        if sha_after != sha:
            raise FileReadError(f"{path.name}: the file changed while it was being read; import it again")
        refused = _refused_deletions(store, prepared)
        with store.transaction() as conn:
            if store.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE batches IN SHARE ROW EXCLUSIVE MODE")
            res = prepared.result
            existing = store.batch_by_sha(sha, conn)
            if existing:  # another process imported the same file while we were reading it
                return FileResult(
                    path=path,
                    status="unchanged",
                    soort=existing["soort"],
                    batch=existing["id"],
                    message=f"already imported as batch {existing['id']} (byte-identical); nothing changed",
                )
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
                store.insert_frame(
                    conn,
                    importbevindingen,
                    f[["batch", "regel_id", "bron", "blad", "rij", "kolom", "veld", "waarde", "regel", "melding"]],
                )
        res.batch = batch_id
        if refused:
            res.refused = [
                {k: r[k] for k in ("bron", "blad", "rij", "toewijzingnummer", "gemeente", "regels", "melding")}
                for r in refused
            ]
            res.findings += len(refused)
            n = len(refused)
            res.message = (res.message + "; " if res.message else "") + (
                f"{n} deletion{'s' if n != 1 else ''} refused (TR385, 9385): the allocation has approved declaration lines; the previous version stays current"
            )
        return res
    except StoreError:
        raise
    except JzError as exc:
        return FileResult(path=path, status="error", message=str(exc))
    except OSError as exc:  # the file vanished or became unreadable while it was being read
        reason = exc.strerror or str(exc) or type(exc).__name__
        return FileResult(
            path=path, status="error", message=f"{path.name}: cannot be read ({reason}); nothing was stored"
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


from jzcli.readers import contract, ijw_xml, toewijzingen  # noqa: E402,F401  (register kind readers; ijw_xml last: it wraps the others)
