"""Finding the header row of a provider's sheet and mapping its column names to canonical fields.

Providers write their own column names. A header cell is normalised (lowercase, accents, spaces and
punctuation removed) and looked up in a synonym table; cells that are not an exact synonym are
tried against a few word rules ("bsn" anywhere → bsn). The user can add ``--map "Kolom=veld"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jzcli.readers.values import normalise_text

# Synonyms per canonical field, as providers and the iJw standard write them. Matching is on the
# normalised text, so "BSN cliënt", "bsn_client" and "Bsn Client" are one entry.
DECLARATIE_SYNONYMS: dict[str, list[str]] = {
    "aanbieder": [
        "aanbieder",
        "zorgaanbieder",
        "agb",
        "agbcode",
        "agbcodeaanbieder",
        "agbaanbieder",
        "afzender",
        "aanbiedercode",
        "codeaanbieder",
        "agbcodezorgaanbieder",
        "zorgaanbiedercode",
        "agbnummer",
        "praktijkcode",
        "instellingscode",
        "aanbiederagb",
    ],
    "gemeente": [
        "gemeente",
        "gemeentecode",
        "woonplaatsgemeente",
        "ontvanger",
        "cbscode",
        "gemeentenaam",
        "verantwoordelijkegemeente",
        "gemeentecbs",
        "cbsgemeentecode",
        "gemeentecodecbs",
        "woongemeente",
        "financierendegemeente",
        "codegemeente",
        "gemeentewoonplaatsbeginsel",
    ],
    "declaratienummer": [
        "declaratienummer",
        "declaratienr",
        "declaratieno",
        "factuurnummer",
        "factuurnr",
        "declaratieid",
        "nummerdeclaratie",
    ],
    "referentienummer": [
        "referentienummer",
        "referentie",
        "referentienr",
        "prestatiereferentie",
        "productreferentie",
        "regelnummer",
        "regelnr",
        "regelid",
        "referentienummerprestatie",
        "kenmerk",
        "prestatienummer",
        "prestatieid",
    ],
    "vorig_referentienummer": [
        "vorigreferentienummer",
        "vorigereferentie",
        "vorigreferentie",
        "vorigereferentienummer",
        "oorspronkelijkreferentienummer",
        "origineelreferentienummer",
        "creditvoor",
        "gecrediteerdreferentienummer",
        "referentiedebet",
        "referentieorigineel",
    ],
    "bsn": [
        "bsn",
        "burgerservicenummer",
        "bsnclient",
        "bsnjeugdige",
        "clientbsn",
        "bsnnummer",
        "burgerservicenummerclient",
        "bsnkind",
        "sofinummer",
    ],
    "toewijzingnummer": [
        "toewijzingnummer",
        "toewijzingsnummer",
        "toewijzingnr",
        "toewijzingsnr",
        "toewijzing",
        "beschikkingsnummer",
        "beschikkingnummer",
        "beschikkingnr",
        "toewijzingid",
        "nummertoewijzing",
    ],
    "productcategorie": [
        "productcategorie",
        "categorie",
        "productcat",
        "prodcat",
        "productcategoriecode",
        "categoriecode",
        "productgroep",
        "productcategorieijw",
    ],
    "productcode": [
        "productcode",
        "prestatiecode",
        "product",
        "code",
        "prodcode",
        "zorgproduct",
        "productcodeijw",
        "codeproduct",
        "codeprestatie",
        "prestatie",
        "zorgcode",
        "artikelcode",
    ],
    "begindatum": [
        "begindatum",
        "van",
        "periodevan",
        "vanaf",
        "startdatum",
        "datumvan",
        "ingangsdatum",
        "begin",
        "periodebegin",
        "begindatumperiode",
        "begindatumproductperiode",
        "productperiodebegindatum",
        "leveringvan",
        "datumbegin",
        "zorgvan",
        "periodestart",
    ],
    "einddatum": [
        "einddatum",
        "tot",
        "totenmet",
        "tm",
        "periodetot",
        "periodetotenmet",
        "datumtot",
        "eind",
        "periodeeind",
        "einddatumperiode",
        "einddatumproductperiode",
        "productperiodeeinddatum",
        "leveringtot",
        "datumeind",
        "zorgtot",
        "totmet",
        "periodeeinde",
        "stopdatum",
    ],
    "periode": [
        "periode",
        "maand",
        "declaratiemaand",
        "declaratieperiode",
        "zorgmaand",
        "leveringsmaand",
        "productperiode",
        "maandjaar",
        "prestatiemaand",
        "periodemaand",
    ],
    "volume": [
        "volume",
        "aantal",
        "geleverdvolume",
        "hoeveelheid",
        "geleverdaantal",
        "aantaleenheden",
        "omvang",
        "aantaluren",
        "aantalminuten",
        "aantaldagen",
        "aantaletmalen",
        "aantaldagdelen",
        "gedeclareerdvolume",
        "ingediendvolume",
        "volumegeleverd",
        "uren",
        "minuten",
    ],
    "eenheid": ["eenheid", "eenheidcode", "tijdseenheid", "eenh", "volume eenheid", "volumeeenheid"],
    "tarief": [
        "tarief",
        "prijspereenheid",
        "producttarief",
        "prijs",
        "eenheidsprijs",
        "tariefpereenheid",
        "tariefeuro",
        "stuksprijs",
        "uurtarief",
        "prijsperstuk",
        "prijsp eenheid",
        "tariefpereenheideuro",
        "bedragpereenheid",
    ],
    "bedrag": [
        "bedrag",
        "totaal",
        "ingediendbedrag",
        "totaalbedrag",
        "bedragtotaal",
        "gedeclareerdbedrag",
        "declaratiebedrag",
        "totaalprijs",
        "regeltotaal",
        "bedrageuro",
        "ingediend",
        "som",
        "totaaleuro",
        "bedragincl",
        "bedraginclbtw",
        "bedragexbtw",
        "totaalregel",
    ],
    "debet_credit": [
        "debetcredit",
        "dc",
        "debitcredit",
        "creditdebet",
        "indicatiedebetcredit",
        "soortregel",
        "debetofcredit",
        "bedragdebetcredit",
    ],
}

# Word rules for cells that are not an exact synonym: (regex on normalised text, field), in order.
_WORD_RULES: list[tuple[str, str]] = [
    (r"vorig.*referentie|referentie.*vorig|oorspronkelijk.*referentie", "vorig_referentienummer"),
    (r"burgerservice|^bsn|bsn$", "bsn"),
    (r"toewijzing|beschikking", "toewijzingnummer"),
    (r"debet.*credit|credit.*debet", "debet_credit"),
    (r"agb", "aanbieder"),
    (r"gemeente", "gemeente"),
    (r"declaratienummer|factuurnummer", "declaratienummer"),
    (r"referentie", "referentienummer"),
    (r"categorie", "productcategorie"),
    (r"productcode|prestatiecode", "productcode"),
    (r"pereenheid|perstuk|peruur|tarief|eenheidsprijs|stuksprijs", "tarief"),
    (r"bedrag|totaal|prijs", "bedrag"),
    (r"begindatum|startdatum|^van|vanaf", "begindatum"),
    (r"einddatum|^tot|totenmet|^tm", "einddatum"),
    (r"maand|periode", "periode"),
    (r"eenheid", "eenheid"),
    (r"aantal|volume", "volume"),
]

# Fields that make a row a declaration header; a header needs several of them.
_ANCHORS = {"bsn", "productcode", "volume", "bedrag", "tarief", "begindatum", "periode"}
MIN_HEADER_MATCHES = 3
HEADER_SCAN_ROWS = 50


def _synonym_index(synonyms: dict[str, list[str]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for fieldname, names in synonyms.items():
        for name in [fieldname, *names]:
            index.setdefault(normalise_text(name), fieldname)
    return index


@dataclass(frozen=True)
class SynonymTable:
    """The header vocabulary of one kind of table (declarations, allocations, tariff sheets).

    ``synonyms`` per field, ``word_rules`` (regex on the normalised cell, field) for cells that are
    not an exact synonym, and what makes a row a header: at least ``min_matches`` distinct fields,
    at least ``min_anchors`` of them in ``anchors``.
    """

    synonyms: dict[str, list[str]]
    word_rules: list[tuple[str, str]]
    anchors: frozenset[str]
    min_matches: int = 3
    min_anchors: int = 2
    date_sides: tuple[str, str] | None = None  # (begin field, end field): see ``date_side``
    index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", _synonym_index(self.synonyms))


DECLARATIES = SynonymTable(
    DECLARATIE_SYNONYMS, _WORD_RULES, frozenset(_ANCHORS), MIN_HEADER_MATCHES, date_sides=("begindatum", "einddatum")
)

# --- the side of a date header: "Periode tot", "Einde periode", "Begin zorgperiode" ------------
# A header about a date or period that names one side is that side's date, whatever else it says:
# the side words win over "periode" (which on its own means a month column). Judged on words, not
# on the joined text: "Totaal" is not "tot", "Eindbedrag" is not "eind".
_BEGIN_WORDS = {"van", "vanaf", "begin", "start", "ingang", "aanvang", "from", "since"}
_END_WORDS = {
    "tot",
    "tm",
    "totenmet",
    "totmet",
    "tem",
    "eind",
    "einde",
    "stop",
    "afloop",
    "end",
    "until",
    "to",
    "through",
}
_BEGIN_STEMS = ("begin", "start", "ingang", "aanvang")
_END_STEMS = ("einde", "eind", "stop", "afloop", "beeindiging", "beeindigd", "tot")
_DATE_ROOTS = ("datum", "periode", "date", "period")
_FILLERS = {
    "zorg",
    "levering",
    "leverings",
    "prestatie",
    "prestaties",
    "product",
    "declaratie",
    "dienst",
    "diensten",
    "behandeling",
    "geleverd",
    "geleverde",
    "de",
    "het",
    "en",
    "met",
    "dd",
    "mm",
    "jjjj",
    "ddmmjjjj",
    "ddmmyyyy",
    "yyyy",
    "jaar",
    "jeugdhulp",
    "hulp",
    "ondersteuning",
    "traject",
    "inzet",
    "geldig",
    "op",
}
_NOT_A_DATE = re.compile(
    r"bedrag|tarief|prijs|totaal|aantal|volume|uren|minuten|eenheid|code|nummer|referentie|bsn|toewijzing|categorie|maand"
)
_TM = re.compile(r"\bt\s*[/.\\]\s*m\b\.?", re.IGNORECASE)
_TEM = re.compile(r"\bt\s*[/.]\s*e\s*[/.]\s*m\b\.?", re.IGNORECASE)


def _words(cell: str) -> list[str]:
    text = _TEM.sub(" tem ", _TM.sub(" tm ", cell))
    return [w for w in (normalise_text(part) for part in re.split(r"[\s/\\.,;:()\[\]_\-–—'\"]+", text)) if w]


def _stem_then_root(word: str, stems: tuple[str, ...]) -> bool:
    """ "begindatum", "ingangsdatum", "eindperiode", "stopdatum": a side stem before a date root."""
    for stem in stems:
        if word.startswith(stem) and len(word) > len(stem):
            rest = word[len(stem) :]
            rest = rest[1:] if rest[:1] in ("s", "e") and not rest.startswith(_DATE_ROOTS) else rest
            if rest.startswith(_DATE_ROOTS) or rest in _FILLERS or rest in ("dat", "dt"):
                return True
    return False


def _root_then_stem(word: str, stems: tuple[str, ...]) -> bool:
    """ "periodeeinde", "zorgperiodebegin", "leveringsstart": a date root or filler, then the side."""
    for stem in stems:
        if word.endswith(stem) and len(word) > len(stem) and stem != "tot":
            head = word[: -len(stem)]
            head = head[:-1] if head.endswith("s") and head[:-1] in _FILLERS else head
            if head.endswith(_DATE_ROOTS) or head in _FILLERS:
                return True
    return False


def date_side(cell: object) -> str | None:
    """ "begin" or "eind" when a header cell is a date of one side of the ProductPeriode, else None.

    The header must be about a date or period (a word with datum/periode/date/period in it, or only
    side words and words such as zorg, levering, prestatie: "Van", "Tm", "Levering tot") and name
    exactly one side: van, vanaf, begin, start, ingang, aanvang → begin; tot, t/m, tm, tot en met,
    eind, einde, stop, afloop → eind (also joined: "Einddatum", "Ingangsdatum", "Periodeeinde").
    A header naming both sides ("Periode van/tot") or none is not a side.
    """
    if cell is None:
        return None
    words = _words(str(cell))
    if not words or any(_NOT_A_DATE.search(w) for w in words):
        return None
    begin = end = False
    dated = False
    for w in words:
        if w in _BEGIN_WORDS:
            begin = True
        elif w in _END_WORDS:
            end = True
        elif _stem_then_root(w, _BEGIN_STEMS) or _root_then_stem(w, _BEGIN_STEMS):
            begin = dated = True
        elif _stem_then_root(w, _END_STEMS) or _root_then_stem(w, _END_STEMS):
            end = dated = True
        elif any(root in w for root in _DATE_ROOTS) or w == "dat":
            dated = True
        elif w not in _FILLERS:
            return None  # another word: "Van Dijk", "Datum van afgifte beschikking" is not ours to guess
    if begin == end or not (dated or begin or end):
        return None
    return "begin" if begin else "eind"


def match_field(cell: object, extra: dict[str, str] | None = None, table: SynonymTable | None = None) -> str | None:
    """The canonical field a header cell stands for, or None.

    ``extra`` maps normalised column names to fields (from ``--map`` or a remembered mapping) and
    wins over the built-in synonyms of ``table`` (default: declarations).
    """
    if cell is None:
        return None
    text = normalise_text(str(cell))
    if not text:
        return None
    if extra and text in extra:
        return extra[text]
    table = table or DECLARATIES
    if text in table.index:
        return table.index[text]
    if table.date_sides is not None:
        side = date_side(cell)
        if side is not None:
            return table.date_sides[0] if side == "begin" else table.date_sides[1]
    for pattern, fieldname in table.word_rules:
        if re.search(pattern, text):
            return fieldname
    return None


@dataclass
class HeaderMatch:
    """Where the header is and which column holds which field."""

    row_index: int  # 0-based index in the sheet's rows
    columns: dict[str, int]  # field -> 0-based column index
    names: list[str]  # the header cells as the provider wrote them (str, '' for empty)
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # field -> extra columns ignored
    unmapped: list[str] = field(default_factory=list)  # non-empty header cells not used


def _map_row(cells: list[object], extra: dict[str, str] | None, table: SynonymTable | None = None) -> HeaderMatch:
    columns: dict[str, int] = {}
    duplicates: dict[str, list[str]] = {}
    unmapped: list[str] = []
    names = ["" if c is None else str(c).strip() for c in cells]
    for i, name in enumerate(names):
        if not name:
            continue
        fieldname = match_field(name, extra, table)
        if fieldname is None:
            unmapped.append(name)
        elif fieldname in columns:
            duplicates.setdefault(fieldname, []).append(name)
        else:
            columns[fieldname] = i
    # A lone "periode" next to begin/end dates adds nothing; begin/end win.
    if "periode" in columns and "begindatum" in columns and "einddatum" in columns:
        unmapped.append(names[columns.pop("periode")])
    return HeaderMatch(0, columns, names, duplicates, unmapped)


def find_header(
    rows: list[list[object]], extra: dict[str, str] | None = None, table: SynonymTable | None = None
) -> HeaderMatch | None:
    """The most header-like row among the first rows of a sheet, or None when there is none.

    A row qualifies when it maps at least ``table.min_matches`` distinct fields, at least
    ``table.min_anchors`` of them anchors (for declarations: bsn, productcode, volume, bedrag, ...).
    Of qualifying rows the one with most fields wins; the first on a tie. ``table`` defaults to
    the declaration vocabulary.
    """
    table = table or DECLARATIES
    best: HeaderMatch | None = None
    for idx, cells in enumerate(rows[:HEADER_SCAN_ROWS]):
        texts = [c for c in cells if isinstance(c, str) and c.strip()]
        if len(texts) < table.min_matches:
            continue
        match = _map_row(cells, extra, table)
        found = set(match.columns)
        if len(found) < table.min_matches or len(found & table.anchors) < table.min_anchors:
            continue
        if best is None or len(found) > len(best.columns):
            match.row_index = idx
            best = match
    return best


def parse_map_options(options: list[str]) -> dict[str, str]:
    """``["Kolomnaam=veld", ...]`` → {normalised column name: field}; unknown fields are an error."""
    from jzcli.errors import UsageError

    valid = set(DECLARATIE_SYNONYMS)
    result: dict[str, str] = {}
    for option in options:
        if "=" not in option:
            raise UsageError(f'--map "{option}": expected "Column name=field", e.g. --map "Cliëntnr=bsn"')
        column, _, fieldname = option.rpartition("=")
        fieldname = fieldname.strip().lower()
        if fieldname not in valid:
            raise UsageError(f'--map "{option}": unknown field "{fieldname}"; fields are: {", ".join(sorted(valid))}')
        if not normalise_text(column):
            raise UsageError(f'--map "{option}": the column name is empty')
        result[normalise_text(column)] = fieldname
    return result
