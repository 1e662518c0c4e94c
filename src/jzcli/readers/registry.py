"""Which reader reads a file: the reader registry, declared in one place.

A file's soort (declaraties, toewijzingen, contract) comes from its content, not its name
(``detect_soort``), in this order:

1. a ``.toml`` file is a contract;
2. a PDF, an image, a web page, ... is refused, saying what it is (``filetype.foreign_binary``);
3. an XML file is the iJw message it holds (root element, namespace, BerichtCode): a JW323 holds
   declaraties, a JW301 toewijzingen; anything else is refused (``ijw_xml.identify``);
4. a spreadsheet (or CSV) whose header is a tariff table is a contract, one whose header is an
   allocation table holds toewijzingen (``SNIFFERS``, the first that says yes);
5. any other file holds declaraties.

Reading (``prepare``): the soort's reader in ``READERS``, except that an XML file of a soort with an
iJw message goes to that message's reader in ``MESSAGE_READERS`` (also under ``--soort``; a message
of another soort is refused).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jzcli.errors import FileReadError, UsageError
from jzcli.readers import contract, declaraties, ijw_xml, toewijzingen
from jzcli.readers.filetype import foreign_binary
from jzcli.readers.prepared import ImportOptions, Prepared
from jzcli.readers.spreadsheet import read_head, sniff_kind
from jzcli.store.store import Store

Reader = Callable[[Path, ImportOptions, Store], Prepared]

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".txt", ".tsv"}
IMPORT_SUFFIXES = SPREADSHEET_SUFFIXES | {".xml", ".toml"}  # what a folder import picks up

# soort -> the reader of its spreadsheets, CSV and (contract) TOML files; the order --soort lists them in
READERS: dict[str, Reader] = {
    "declaraties": declaraties.prepare_declaraties,
    "contract": contract.prepare_contract,
    "toewijzingen": toewijzingen.prepare_toewijzingen,
}

# iJw message -> its reader; the message says which soort it holds (Bericht.soort)
MESSAGE_READERS: dict[str, Reader] = {
    ijw_xml.JW323.naam: ijw_xml.prepare_jw323,
    ijw_xml.JW301.naam: ijw_xml.prepare_jw301,
}
_MESSAGE_SOORTEN = {ijw_xml.JW323.soort, ijw_xml.JW301.soort}

# A spreadsheet's soort from its header rows: the first sniffer that says yes; none: declaraties.
SNIFFERS: tuple[tuple[str, Callable[[Path], bool]], ...] = (
    ("contract", contract.is_contract),
    ("toewijzingen", toewijzingen.is_toewijzingen),
)


def detect_soort(path: Path) -> str:
    """declaraties, toewijzingen or contract, from the file's content (not its name)."""
    head = read_head(path)
    if path.suffix.lower() == ".toml":
        return "contract"
    foreign = foreign_binary(path, head)  # a PDF, an image, a web page: say what it is
    if foreign:
        raise FileReadError(foreign)
    if sniff_kind(path, head) == "xml":
        return ijw_xml.identify(path).soort
    for soort, sniff in SNIFFERS:
        if sniff(path):
            return soort
    return "declaraties"


def prepare(path: Path, soort: str, opts: ImportOptions, store: Store) -> Prepared:
    """Read a file of this soort with its reader (see the module's docstring)."""
    reader = READERS.get(soort)
    if reader is None:
        raise UsageError(f"--soort {soort}: unknown kind; choose one of {', '.join(READERS)}")
    if soort in _MESSAGE_SOORTEN and ijw_xml.is_xml(path):
        b = ijw_xml.identify(path)
        if b.soort != soort:
            raise FileReadError(
                f"{path.name}: a {b.naam} {b.titel} message holds {b.soort}, not {soort} (--soort {soort}); nothing was stored"
            )
        reader = MESSAGE_READERS[b.naam]
    return reader(path, opts, store)
