"""``jzcli check``: what a gemeente would reject, before the provider sends anything.

One implementation, two entry points: ``check`` imports the given contract(s), allocations and
declaration files with the real importer (``importer.import_file``) into a temporary SQLite
store (a file in a temporary folder, deleted afterwards) and judges them with the real
``validate.validate``. The findings are therefore exactly those of ``jzcli import`` +
``jzcli validate`` on the same files in the same order (contracts first, then allocations, then
the declaration files as given); each finding record gets one extra key, ``hint``: what to
change.

Without allocations (no ``--toewijzingen``) the allocation rules are not applied at all
(``validate(skip_families=...)``): nothing is guessed, and the result says which rules were
skipped.

Earlier months (``--eerder``): files or JW323 messages the aanbieder sent before are imported
first and judged as the gemeente judged them (``import_history``); the lines approved are the
history, so a credit of an earlier line finds its debet and TR314/TR389/TR390/TR322/... compare
with them, and a line rejected then is no history (its resubmission is no second debet).
Without them, a credit whose debet is not in the files is "not checkable without the earlier
months" (JZ-H01, a signal), never a rejection, and the result names the rules that compared
only within the files given (``history_rules``).

Hints (``HINTS``) are a small table keyed by rule id. Each entry is a list of cases: a regular
expression over the finding's message (``melding``) whose named groups, together with the
finding's record and its line's values, fill a template ("use {contract} as tarief ..."). The
first matching case wins; a rule without a matching case gets a generic hint from its title. The
rules are never run again for a hint. Everything is vectorised per rule (no loop per finding
except the final record building, as in ``validate.findings_records``).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jzcli.domain.codes import AFGEKEURD, GOEDGEKEURD
from jzcli.domain.findings import RECORD_KEYS
from jzcli.domain.lines import FIELDS
from jzcli.domain.text import mask_bsn
from jzcli.engine.load import load_lines
from jzcli.engine.result import ValidationResult, findings_records
from jzcli.engine.run import validate
from jzcli.errors import FileReadError, UsageError
from jzcli.importer import expand_paths, import_file
from jzcli.readers.prepared import FileResult, ImportOptions
from jzcli.readers.registry import detect_soort
from jzcli.rules.catalog import load_rules
from jzcli.rules.kit import EARLIER_RULE_IDS, signed_amount
from jzcli.rules.registry import rule_sort_key
from jzcli.store.store import Store

ALLOCATION_FAMILY = "allocation"
CHECK_RECORD_KEYS = [*RECORD_KEYS, "hint"]


# ============================================================================ result
@dataclass
class CheckResult:
    """What ``check`` found: the validation result, its records with hints, and the files."""

    result: ValidationResult
    records: list[dict]  # CHECK_RECORD_KEYS, BSNs masked unless show_bsn
    declaraties: list[FileResult]  # one per declaration file (status imported, unchanged or error)
    agreements: list[FileResult]  # contracts and allocations, in import order
    ignored: list[tuple[Path, str]] = field(default_factory=list)  # files in folders that are not declarations
    skipped_families: tuple[str, ...] = ()
    skipped_rules: list[str] = field(default_factory=list)
    eerder: list[FileResult] = field(default_factory=list)  # earlier months, taken as approved history
    history_lines: int = 0  # lines of those files the engine approves: the history
    history_rejected: int = 0  # lines of those files the engine rejects: not history (IV085)
    history_rules: list[str] = field(
        default_factory=list
    )  # without --eerder: rules that compared within these files only

    @property
    def unreadable(self) -> list[FileResult]:
        return [r for r in self.declaraties if r.status == "error"]

    @property
    def lines(self) -> int:
        return self.result.judged

    @property
    def rejected(self) -> int:
        return self.result.rejected if self.result.judged else 0

    @property
    def exit_code(self) -> int:
        """3 when a declaration file could not be read, else 1 when a line would be rejected, else 0."""
        if self.unreadable:
            return 3
        return 1 if self.rejected else 0


# ============================================================================ the store
@contextmanager
def temporary_store() -> Iterator[Store]:
    """A fresh store (DuckDB) in a temporary folder; the folder is deleted afterwards."""
    folder = tempfile.mkdtemp(prefix="jzcli-check-")
    store = None
    try:
        store = Store.open(str(Path(folder) / "check.duckdb"))
        yield store
    finally:
        if store is not None:
            store.close()
        shutil.rmtree(folder, ignore_errors=True)


def import_agreements(
    store: Store, contracts: Sequence[Path], toewijzingen: Sequence[Path], opts: ImportOptions, progress=None
) -> list[FileResult]:
    """Import contracts, then allocations; any file that cannot be read is an error (exit 3):
    judging against half the agreements would report rejections that are not there."""
    results = []
    for soort, paths in (("contract", contracts), ("toewijzingen", toewijzingen)):
        for path in paths:
            path = Path(path)
            if progress:
                progress(f"reading {path}")
            if not path.is_file():
                raise FileReadError(
                    f"{path}: no such file ({'--contract' if soort == 'contract' else '--toewijzingen'})"
                )
            res = import_file(store, path, ImportOptions(soort=soort, aanbieder=opts.aanbieder, gemeente=opts.gemeente))
            if res.status == "error":
                raise FileReadError(res.message)
            results.append(res)
    return results


def import_history(
    store: Store,
    paths: Sequence[Path],
    agreements: Sequence[Path],
    opts: ImportOptions,
    *,
    today=None,
    skip=(),
    progress=None,
) -> tuple[list[FileResult], int, int]:
    """Import the files of earlier months (--eerder; folders expanded) and judge them as the
    gemeente did, with the same engine (their own earlier months unknown: history_complete
    False). The lines approved are the history the declaration files are judged against; a line
    rejected there was rejected by the gemeente too and is not history (IV085), so its corrected
    resubmission is no second debet. Returns (files, lines approved, lines rejected). A file that
    cannot be read is an error (exit 3): a missing month would make correct credits look wrong."""
    files, _ignored = declaration_files(paths, agreements)
    results = []
    for path in files:
        if not Path(path).is_file():
            raise FileReadError(f"{path}: no such file (--eerder)")
        [res] = import_declaraties(store, [path], opts, progress)
        if res.status == "error":
            raise FileReadError(f"{res.message} (--eerder)")
        results.append(res)
    judged = validate(store, today=today, skip_families=skip, progress=progress, history_complete=False)
    return results, judged.approved, judged.rejected


def declaration_files(paths: Sequence[Path], agreements: Sequence[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The declaration files among ``paths`` (folders expanded as ``jzcli import`` does). Files in a
    folder that hold a contract or allocations (or are given as one) are left out with a reason."""
    given = {Path(p).resolve() for p in agreements}
    files: list[Path] = []
    ignored: list[tuple[Path, str]] = []
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            files.append(path)
            continue
        for f in expand_paths([path]):
            if f.resolve() in given:
                continue
            try:
                soort = detect_soort(f)
            except Exception:  # the import of the file will say what is wrong with it
                soort = "declaraties"
            if soort == "declaraties":
                files.append(f)
            else:
                option = "--contract" if soort == "contract" else "--toewijzingen"
                ignored.append((f, f"holds {soort}, not declarations (give it with {option})"))
    return files, ignored


def import_declaraties(store: Store, files: Sequence[Path], opts: ImportOptions, progress=None) -> list[FileResult]:
    """Import every declaration file as its own batch, as ``jzcli import`` does (errors are kept
    in the results, the other files are still imported)."""
    results = []
    for path in files:
        if progress:
            progress(f"reading {path}")
        o = ImportOptions(soort="declaraties", aanbieder=opts.aanbieder, gemeente=opts.gemeente, maps=list(opts.maps))
        if not Path(path).exists():
            results.append(FileResult(path=Path(path), status="error", message=f"{path}: no such file"))
            continue
        results.append(import_file(store, Path(path), o))
    return results


# ============================================================================ check
def check(
    files: Sequence[Path],
    contracts: Sequence[Path],
    toewijzingen: Sequence[Path] = (),
    *,
    aanbieder: str | None = None,
    gemeente: str | None = None,
    maps: Iterable[str] = (),
    today: dt.date | None = None,
    show_bsn: bool = False,
    progress: Callable[[str], None] | None = None,
    eerder: Sequence[Path] = (),
) -> CheckResult:
    """Judge declaration files against the contracts (and allocations) without a user store.

    ``aanbieder``/``gemeente``/``maps`` are the import options for files that do not name them.
    ``today`` is the date the date rules compare with (default: the system date). ``eerder``:
    files or JW323 messages already sent, taken as approved history (see the module docstring).
    """
    opts = ImportOptions(aanbieder=aanbieder, gemeente=gemeente, maps=list(maps))
    skip = () if toewijzingen else (ALLOCATION_FAMILY,)
    with temporary_store() as store:
        agreements = import_agreements(store, list(contracts), list(toewijzingen), opts, progress)
        given = [*contracts, *toewijzingen]
        decl_files, ignored = declaration_files(files, [*given, *eerder])
        checked = {Path(p).resolve() for p in decl_files}
        for p in eerder:
            if not Path(p).is_dir() and Path(p).resolve() in checked:
                raise UsageError(
                    f"{p}: given both to check and with --eerder; a file is either this month's or an earlier month's"
                )
        # the files being checked are never their own history, also when an --eerder folder holds them
        earlier, history_lines, history_rejected = (
            import_history(store, list(eerder), [*given, *decl_files], opts, today=today, skip=skip, progress=progress)
            if eerder
            else ([], 0, 0)
        )
        declaraties = import_declaraties(store, decl_files, opts, progress)
        result = validate(store, today=today, skip_families=skip, progress=progress, history_complete=bool(eerder))
        records = findings_records(result, show_bsn=show_bsn)
        if records:
            ids = result.findings["regel_id"].astype("int64")
            line_frame = load_lines(store).set_index("id").reindex(ids.to_numpy())
            hints = finding_hints(result.findings.reset_index(drop=True), line_frame.reset_index(drop=True))
            bsns = line_frame["bsn"].astype(object).where(line_frame["bsn"].notna(), None).tolist()
            for rec, hint, bsn in zip(records, hints, bsns):
                # hints are built without the bsn; mask it should a message ever carry it
                rec["hint"] = hint if show_bsn or not bsn or bsn not in hint else hint.replace(bsn, mask_bsn(bsn))
    rules = load_rules()
    skipped_rules = [r.id for r in rules.values() if r.family in skip]
    history_rules = [] if eerder else history_rule_ids(skip)
    return CheckResult(
        result=result,
        records=records,
        declaraties=declaraties,
        agreements=agreements,
        ignored=ignored,
        skipped_families=skip,
        skipped_rules=skipped_rules,
        eerder=earlier,
        history_lines=history_lines,
        history_rejected=history_rejected,
        history_rules=history_rules,
    )


def history_rule_ids(skip: Iterable[str] = ()) -> list[str]:
    """The rules that compare a line with earlier months (the stateful ones, TR056, TR318,
    TR333), in rule order, without the skipped families and JZ-H01 itself."""
    rules = load_rules()
    ids = [
        r.id
        for r in sorted(rules.values(), key=rule_sort_key)
        if (r.stateful or r.id in EARLIER_RULE_IDS) and r.family not in set(skip)
    ]
    return [i for i in ids if i != "JZ-H01"]


def amounts(result: ValidationResult) -> dict[str, int]:
    """Σ debet − Σ credit (cents) of all judged lines, and of the approved and rejected ones."""
    v = result.verdicts
    if v.empty:
        return {"total": 0, GOEDGEKEURD: 0, AFGEKEURD: 0}
    signed = signed_amount(v)
    return {
        "total": int(signed.sum()),
        GOEDGEKEURD: int(signed[v["status"] == GOEDGEKEURD].sum()),
        AFGEKEURD: int(signed[v["status"] == AFGEKEURD].sum()),
    }


# ============================================================================ hints
@dataclass(frozen=True)
class Case:
    """One way a rule's message can read, and the hint for it.

    ``pattern``: a regular expression searched in the finding's message (None = always);
    ``template``: the hint, with {name} fields from the pattern's named groups, the record
    (kolom, waarde) and the line (productcode, begindatum, volume, tarief as '€ 79,80', ...);
    ``when``: an optional vectorised condition over those values (frame → bool Series).
    """

    pattern: str | None
    template: str
    when: Callable[[pd.DataFrame], pd.Series] | None = None


_MONEY = r"€ -?[\d.]+,\d\d"
_DATE = r"\d{4}-\d{2}-\d{2}"
_UNIT = r"\d\d \([^)]*\)"

# Cases every rule shares, tried first: a value that could not be read, and the pointer findings
# of a rejected iJw message.
COMMON: list[Case] = [
    Case(
        r"^(?P<veld>\w+) could not be read \('(?P<raw>[^']*)'(?: in column '(?P<col>[^']*)')?\): (?P<why>.+)$",
        "correct the {veld} value '{raw}' in the file ({why})",
    ),
    Case(
        r"^(?P<kind>message|declaration) rejected: (?P<rule>\S+) on line (?P<line>\d+)",
        "nothing wrong on this line itself: fix line {line} ({rule}); until then the whole {kind} is rejected",
    ),
]

HINTS: dict[str, list[Case]] = {
    # --- line rules
    "JZ-I01": [
        Case(r"aanbieder \(AGB code\) is missing", "add an AGB-code column, or give the AGB code with --aanbieder"),
    ],
    "JZ-I03": [
        Case(r"read as (?P<unit>\d\d) ", "nothing to change; write eenheid {unit} instead of 'stuks' to be explicit")
    ],
    "CS002": [
        Case(r"bsn is missing", "fill in the client's BSN"),
        Case(
            r"fails the 11-proef",
            "correct the BSN: it fails the 11-proef (often a typing error such as two swapped digits); copy it from the toewijzing",
        ),
    ],
    "CS337": [
        Case(r"(?P<what>begindatum|einddatum) is missing", "fill in the {what}"),
        Case(
            r"^ProductPeriode (?P<period>\S+) is not within one calendar month",
            "correct the dates: einddatum {einddatum} is before begindatum {begindatum}",
            when=lambda v: v["einddatum"] < v["begindatum"],
        ),
        Case(
            r"^ProductPeriode (?P<period>\S+) is not within one calendar month",
            "split the line into one line per calendar month: a ProductPeriode lies within one month (IV090)",
        ),
    ],
    "CS100": [Case(None, "care before 2021-01-01 cannot be declared in iJw 3.2: remove the line")],
    "TR134": [
        Case(r"is after today", "begindatum {begindatum} is in the future: declare care only after it was delivered")
    ],
    "TR137": [
        Case(r"is before begindatum", "einddatum must be on or after begindatum {begindatum}"),
        Case(r"is after today", "einddatum {einddatum} is in the future: declare the month after it has ended"),
    ],
    "TR319": [
        Case(
            r"after the DeclaratiePeriode (?P<periode>\S+)$",
            "declare this line in the declaration of its own month or a later one, not in the one of {periode}",
        ),
    ],
    "TR335": [Case(None, "einddatum {einddatum} is more than 5 years ago: this care can no longer be declared")],
    "TR346": [
        Case(r"^volume is missing", "fill in the volume"),
        Case(r"^bedrag is missing", "fill in the bedrag"),
        Case(
            rf"= (?P<expected>{_MONEY}) \(minutes on an hourly",
            "bedrag must be {expected}: uurtarief × minutes / 60, rounded half up (IV081)",
        ),
        Case(
            rf"≠ volume (?P<volume>\d+) × tarief (?P<tarief>{_MONEY}) = (?P<expected>{_MONEY})",
            "bedrag must be {expected} ({volume} × {tarief}), or correct volume or tarief",
        ),
    ],
    "CS339": [
        Case(r"^volume is missing", "fill in the volume: with eenheid 83 it is the amount in cents"),
        Case(r"^bedrag is missing", "fill in the bedrag"),
        Case(
            r"bedrag .* ≠ volume",
            "with eenheid 83 (Euro's) the volume is the amount in cents: make volume and bedrag the same amount",
        ),
    ],
    "CD087": [
        Case(r"^tarief is missing", "fill in the tarief: the contract tariff per eenheid"),
        Case(r"given with eenheid 83", "leave the tarief empty: with eenheid 83 (Euro's) there is no tarief"),
    ],
    "TR378": [
        Case(r"gemeente is missing", "fill in the gemeente (CBS code or name), or give it with --gemeente"),
        Case(
            r"is not in the CBS list",
            "use the 4-digit CBS code of the gemeente responsible for the client (e.g. 0406 for Huizen)",
        ),
    ],
    "JZ-G01": [
        Case(
            r": judged as (?P<new>.+?) \(its contracts and allocations",
            "nothing to change in this line; use gemeente {new} from now on",
        ),
        Case(
            r"no single successor",
            "declare on the gemeente responsible for the client: this code was split over several gemeenten",
        ),
        Case(r"period is from before that", "nothing to change: the code was still in use for this period"),
    ],
    "TR358": [
        Case(
            rf"states a total of (?P<stated>{_MONEY}), but its (?P<n>\d+) lines add up to (?P<sum>{_MONEY})",
            "make the total {sum} (Σ debet − Σ credit of the {n} lines), or correct the lines so they add up to {stated}",
        ),
    ],
    # --- contract rules
    "TR418": [
        Case(
            rf"contracttarief (?P<hourly>{_MONEY}) per uur / 60 = (?P<minute>{_MONEY}) per minute",
            "use {minute} as tarief per minute (the contract's {hourly} per uur / 60, rounded half up)",
        ),
        Case(
            rf"contracttarief (?P<contract>{_MONEY}) for (?P<code>\S+) on (?P<date>{_DATE})",
            "use {contract} as tarief (the contract tariff of {code} on {date}); bedrag = volume × {contract}",
        ),
    ],
    "JZ-C01": [
        Case(r"^productcode is missing", "fill in the productcode"),
        Case(
            r"^gemeente (?P<gem>.+?) has no contract in the store",
            "give the contract of gemeente {gem} with --contract (every line is checked against its own gemeente's contract)",
        ),
        Case(
            r"^productcode (?P<code>\S+) is not in any contract of gemeente (?P<gem>.+)$",
            "use a productcode from the contract of gemeente {gem}: {code} is not contracted there (a typing error?)",
        ),
        Case(
            r"is contracted by gemeente (?P<gem>.+?), but not with aanbieder (?P<agb>\d+)",
            "{productcode} is not contracted with AGB {agb}: check the AGB code, or agree the product with gemeente {gem} first",
        ),
        Case(
            rf"has a tariff for (?P<code>\S+) on (?P<date>{_DATE}) \(tariff periods: (?P<spans>.*)\)$",
            "the contract has no tariff for {code} on {date} (tariff periods: {spans}): check the begindatum",
        ),
    ],
    "JZ-C02": [
        Case(
            rf"eenheid is missing; the contract's eenheid for (?P<code>\S+) is (?P<unit>{_UNIT})",
            "fill in eenheid {unit}, the contract's eenheid for {code}",
        ),
        Case(
            rf"≠ the contract's eenheid (?P<unit>{_UNIT}) for (?P<code>\S+)",
            "declare {code} in eenheid {unit}, the contract's (convert volume and tarief)",
        ),
    ],
    "TR381": [
        Case(
            r"belongs to productcategorie (?P<cat>.+?) in the contract",
            "use productcategorie {cat} for {productcode}",
        ),
    ],
    "JZ-C03": [
        Case(
            None,
            "do not declare {productcode} per client: a taakgericht product is paid as a lump sum outside the declarations",
        )
    ],
    # --- allocation rules
    "TR338": [
        Case(
            r"toewijzingnummer (?P<nr>\S+) not found for gemeente (?P<gem>\S+) \(it exists for gemeente (?P<other>\S+)\)",
            "toewijzing {nr} is one of gemeente {other}: declare it to gemeente {other}",
        ),
        Case(
            r"toewijzingnummer (?P<nr>\S+) not found for gemeente (?P<gem>\S+)",
            "check toewijzingnummer {nr}: gemeente {gem} gave no allocation with that number",
        ),
        Case(
            r"is for another aanbieder \((?P<agb>\d+)\)",
            "this toewijzing was given to aanbieder {agb}: only that aanbieder can declare on it (check your AGB code and the toewijzingnummer)",
        ),
        Case(
            r"ambiguous: toewijzingen (?P<nrs>.+?) fit equally well",
            "add the toewijzingnummer to the line: toewijzingen {nrs} fit it equally well",
        ),
        Case(
            r"no allocation for this product covers the period \(toewijzing (?P<runs>.+)\)$",
            "the period lies outside the allocation (toewijzing {runs}): declare only days within it, or ask the gemeente to extend it",
        ),
        Case(
            r"allocations are for other products: (?P<products>.+)$",
            "this client's allocations are for {products}: declare one of those, or ask the gemeente for an allocation for {productcode}",
        ),
        Case(
            r"has no allocation from this gemeente to this aanbieder",
            "there is no allocation for this client from gemeente {gemeente} to you: ask the gemeente for one (or check bsn and gemeente)",
        ),
        Case(
            r"bsn, aanbieder or gemeente is missing",
            "fill in bsn, aanbieder and gemeente so the line can be matched to its allocation",
        ),
        Case(
            None, "put the toewijzingnummer of the allocation on the line, or ask the gemeente for an allocation first"
        ),
    ],
    "TR304": [
        Case(
            r"^toewijzing (?P<nr>\S+)",
            "toewijzing {nr} is another client's: use this client's own toewijzingnummer, or correct the bsn",
        ),
    ],
    "TR384": [
        Case(
            r"^toewijzing (?P<nr>\S+)",
            "toewijzing {nr} was withdrawn by the gemeente: declare on the allocation that replaced it, or ask the gemeente",
        ),
    ],
    "TR307": [
        Case(
            rf"before the allocation's ingangsdatum (?P<start>{_DATE})",
            "the allocation starts on {start}, after this ProductPeriode: nothing can be declared on it for this period",
            when=lambda v: v["einddatum"] < v["start"],
        ),
        Case(
            rf"before the allocation's ingangsdatum (?P<start>{_DATE})",
            "ProductPeriode must begin on {start}, the allocation's ingangsdatum",
        ),
    ],
    "TR308": [
        Case(
            rf"after the allocation's einddatum (?P<stop>{_DATE})",
            "the allocation ended on {stop}, before this ProductPeriode begins ({begindatum}): ask the gemeente to extend it "
            "or for a new allocation, and declare on that",
            when=lambda v: v["begindatum"] > v["stop"],
        ),
        Case(
            rf"after the allocation's einddatum (?P<stop>{_DATE})",
            "ProductPeriode must end on {stop}, the allocation's einddatum",
        ),
    ],
    "JZ-P01": [
        Case(
            r"= the (?P<what>ingangsdatum|einddatum) of toewijzing (?P<nr>\S+)",
            "nothing to change: your month is declared as {waarde}, to fit the {what} of toewijzing {nr}; "
            "write Begindatum and Einddatum columns to say it yourself",
        )
    ],
    "TR387": [Case(rf"; expected (?P<expected>{_DATE}) \((?P<why>[^)]*)\)", "begindatum must be {expected}, {why}")],
    "TR388": [Case(rf"; expected (?P<expected>{_DATE}) \((?P<why>[^)]*)\)", "einddatum must be {expected}, {why}")],
    "TR339": [Case(r"≠ the allocation's (?P<theirs>\S+)$", "use productcategorie {theirs}, the allocation's")],
    "TR340": [
        Case(
            r"productcode (?P<mine>\S+) ≠ the allocation's (?P<theirs>\S+)$",
            "use productcode {theirs}, the allocation's (declaring {mine} needs an allocation for {mine})",
        ),
    ],
    "TR341": [
        Case(
            rf"does not fit the allocation's eenheid (?P<unit>{_UNIT})",
            "declare in eenheid {unit}, the allocation's (convert the volume)",
        ),
        Case(
            rf"does not fit the contract's eenheid (?P<unit>{_UNIT})",
            "declare in eenheid {unit}, the contract's (convert the volume)",
        ),
    ],
    "TR321": [
        Case(
            r"exceeds (?P<limit>.+?) allowed: (?P<why>.+)$",
            "at most {limit}: {why}; declare no more than that for this period (more needs a larger allocation)",
        ),
    ],
    "TR322": [
        Case(
            r"exceeds (?P<limit>.+?) allowed: (?P<why>.+?) \(approved earlier (?P<earlier>.+?), this batch",
            "the allocation allows {limit} in total ({why}) and {earlier} is approved already: lower the volume so the "
            "total stays within {limit}, or ask the gemeente for a new allocation",
        ),
    ],
    "TR369": [
        Case(
            rf"exceeds its budget (?P<budget>{_MONEY}) \(approved earlier (?P<earlier>{_MONEY})",
            "the budget is {budget} and {earlier} is approved already: lower the bedrag so the total stays within "
            "{budget}, or ask the gemeente for more budget",
        ),
    ],
    # --- history rules
    "TR314": [
        Case(
            r"^referentienummer (?P<ref>\S+) was already used",
            "give this line a referentienummer never used before ({ref} is taken); a correction is a credit of the old "
            "line plus a new debet with a new number",
        ),
    ],
    "CD060": [
        Case(
            r"on a debet line",
            "remove the vorig_referentienummer from this debet line (only a credit refers to the line it cancels)",
        ),
        Case(
            r"credit line without",
            "fill in vorig_referentienummer: the referentienummer of the debet this credit cancels",
        ),
    ],
    "TR416": [
        Case(
            r" as (?P<first>(?:sheet '[^']*' )?row \d+)$",
            "remove this line or combine it with {first} into one line: one line per allocation, product and period",
        ),
    ],
    "TR389": [
        Case(
            r"approved earlier and not credited: (?P<where>.+)$",
            "this period was declared and approved before ({where}): remove the line, or credit that line first and then "
            "declare the corrected one",
        ),
    ],
    "TR323": [
        Case(
            r"no approved debet with referentienummer (?P<ref>\S+)",
            "{ref} is not an approved debet: use the referentienummer of the approved line this credit cancels (a typing error?)",
        ),
        Case(
            r"no approved debet of the same client",
            "a credit copies an approved debet exactly (client, product, period and bedrag): correct the credit, or remove it",
        ),
    ],
    "TR390": [Case(None, "remove this credit: that debet was credited already")],
    "JZ-H01": [
        Case(
            None,
            "nothing to change if the debet was approved in an earlier month; to check it, give the files or JW323 messages "
            "already sent with --eerder",
        ),
    ],
    "TR333": [
        Case(r"^declaratienummer (?P<nr>\S+) was already used", "use a new declaratienummer ({nr} was used before)")
    ],
}

_FIELD = re.compile(r"\{(\w+)\}")
HINT_LINE_FIELDS = [f for f in FIELDS if f != "bsn"]  # no bsn: a hint never holds one


def _fill(template: str, values: pd.DataFrame) -> pd.Series:
    """The template with every {name} replaced by that column's text, for all rows at once."""
    parts = _FIELD.split(template)
    out = pd.Series(parts[0], index=values.index, dtype=object)
    for i in range(1, len(parts), 2):
        col = values[parts[i]] if parts[i] in values.columns else pd.Series("", index=values.index)
        out = out + col.astype(object).where(col.notna(), "").astype(str) + parts[i + 1]
    return out


def _line_values(lines: pd.DataFrame) -> pd.DataFrame:
    """The line's values as display text (dates ISO, money '€ 79,80')."""
    from jzcli.rules.kit import date_text, euro_text, text_of

    out = pd.DataFrame(index=lines.index)
    for c in HINT_LINE_FIELDS:
        s = lines[c] if c in lines.columns else pd.Series(None, index=lines.index, dtype=object)
        if c in ("begindatum", "einddatum"):
            out[c] = date_text(s)
        elif c in ("tarief", "bedrag"):
            out[c] = euro_text(s)
        else:
            out[c] = text_of(s)
    return out


def finding_hints(findings: pd.DataFrame, lines: pd.DataFrame) -> list[str]:
    """What to change, per finding (aligned with ``findings``; ``lines`` = each finding's line,
    aligned by position). See ``HINTS``."""
    n = len(findings)
    if n == 0:
        return []
    base = _line_values(lines.reset_index(drop=True))
    base["kolom"] = findings["kolom"].astype(object).where(findings["kolom"].notna(), "").astype(str).to_numpy()
    base["waarde"] = findings["waarde"].astype(object).where(findings["waarde"].notna(), "").astype(str).to_numpy()
    melding = pd.Series(
        findings["melding"].astype(object).where(findings["melding"].notna(), "").astype(str).to_numpy()
    )
    regel = pd.Series(findings["regel"].astype(str).to_numpy())
    hints = pd.Series([None] * n, dtype=object)
    for rule_id, idx in regel.groupby(regel).groups.items():
        todo = pd.Index(idx)
        for case in COMMON + HINTS.get(rule_id, []):
            if todo.empty:
                break
            values = base.loc[todo]
            if case.pattern is None:
                hit = pd.Series(True, index=todo)
            else:
                with warnings.catch_warnings():  # "has match groups": the groups are extracted below
                    warnings.simplefilter("ignore", UserWarning)
                    hit = melding.loc[todo].str.contains(case.pattern, regex=True)
                if re.compile(case.pattern).groups:
                    groups = melding.loc[todo].str.extract(case.pattern)
                    values = pd.concat(
                        [values.drop(columns=[c for c in groups.columns if c in values.columns]), groups], axis=1
                    )
            if case.when is not None and hit.any():
                chosen = hit.index[hit.to_numpy()]
                cond = case.when(values.loc[chosen]).fillna(False).astype(bool)
                hit.loc[chosen] = cond.reindex(chosen, fill_value=False).to_numpy()
            if hit.any():
                chosen = todo[hit.to_numpy()]
                hints.loc[chosen] = _fill(case.template, values.loc[chosen]).to_numpy()
                todo = todo[~hit.to_numpy()]
        if len(todo):
            hints.loc[todo] = generic_hint(rule_id)
    return hints.astype(str).tolist()


def generic_hint(rule_id: str) -> str:
    """The hint for a finding no case of ``HINTS`` matches (tests use it to spot drift)."""
    r = load_rules().get(rule_id)
    titel = r.titel if r is not None else rule_id
    return "make the line meet the rule: " + titel[:1].lower() + titel[1:]


def records_frame(records: list[dict]) -> pd.DataFrame:
    """The check records as a frame (CSV/xlsx output), CHECK_RECORD_KEYS columns."""
    if not records:
        return pd.DataFrame(columns=CHECK_RECORD_KEYS, dtype=object)
    frame = pd.DataFrame.from_records(records, columns=CHECK_RECORD_KEYS)
    return frame.astype(object).where(frame.notna(), None)


__all__ = [
    "CheckResult",
    "check",
    "temporary_store",
    "import_agreements",
    "import_history",
    "import_declaraties",
    "declaration_files",
    "history_rule_ids",
    "finding_hints",
    "generic_hint",
    "HINTS",
    "COMMON",
    "Case",
    "CHECK_RECORD_KEYS",
    "records_frame",
    "amounts",
]
