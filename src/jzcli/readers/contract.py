"""Contracts: which products a gemeente buys, in which unit, at what tariff, in which variant.

Two ways to write one, read into the same stored rows:

* TOML (``[contract]`` with naam, gemeenten, aanbieders; one ``[[product]]`` per tariff period);
* a tariff sheet (xlsx/csv): key/value rows ``naam``, ``gemeenten``, ``aanbieders`` (on a sheet of
  their own or above the product table) and a product table with the columns productcategorie,
  productcode, omschrijving, eenheid, tarief, uitvoeringsvariant, geldig_van, geldig_tot (header
  synonyms as for declarations: "Categorie", "Prijs per eenheid", "Geldig vanaf", ...).

A contract is refused as a whole when anything in it cannot be read or contradicts itself
(unknown gemeente, eenheid or variant, bad dates, geldig_tot before geldig_van, overlapping tariff
periods of one product code and eenheid): a contract decides which declarations are paid, so it
is never stored half-understood. Tariffs are exact eurocents (Decimal, never float arithmetic).

Versions: every import of a contract is kept as its own batch; for a contract naam the newest
import is the valid one (see ``jzcli.store.agreements.contract_products``).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jzcli import refdata
from jzcli.domain.agreements import PRODUCT_FIELDS
from jzcli.errors import FileReadError
from jzcli.readers import values as V
from jzcli.readers.headers import HeaderMatch, SynonymTable, match_field
from jzcli.readers.prepared import FileResult, ImportOptions, Prepared
from jzcli.readers.spreadsheet import RawSheet, read_bounded, read_sheets
from jzcli.readers.tables import (
    Problems,
    find_table,
    map_unique,
    most_text_row,
    raw_text,
    sheet_heads,
    table_body,
)
from jzcli.store.schema import contracten, contractproducten
from jzcli.store.store import Store

REQUIRED_PRODUCT_FIELDS = ["productcategorie", "productcode", "eenheid", "tarief", "uitvoeringsvariant", "geldig_van"]
CONTRACT_KEYS = ["naam", "gemeenten", "aanbieders"]

UITVOERINGSVARIANTEN = ("inspanningsgericht", "outputgericht", "taakgericht")
_VARIANT_NAMES = {
    "inspanningsgericht": "inspanningsgericht",
    "inspanning": "inspanningsgericht",
    "outputgericht": "outputgericht",
    "output": "outputgericht",
    "taakgericht": "taakgericht",
    "taak": "taakgericht",
}

MAX_TARIEF = 99_999_999  # iJw ProductTarief: at most 8 digits of eurocents

CONTRACT_SYNONYMS: dict[str, list[str]] = {
    "productcategorie": [
        "categorie",
        "productcategorie",
        "productcat",
        "prodcat",
        "categoriecode",
        "productcategoriecode",
        "productgroep",
    ],
    "productcode": ["productcode", "product code", "code", "product", "prestatiecode", "prodcode", "codeproduct"],
    "omschrijving": [
        "omschrijving",
        "productomschrijving",
        "productnaam",
        "naam",
        "beschrijving",
        "benaming",
        "naamproduct",
        "omschrijvingproduct",
    ],
    "eenheid": ["eenheid", "eenheidcode", "tariefeenheid", "tijdseenheid", "eenh", "eenheidtarief"],
    "tarief": [
        "tarief",
        "prijspereenheid",
        "prijs",
        "tariefpereenheid",
        "eenheidsprijs",
        "uurtarief",
        "tariefeuro",
        "producttarief",
        "bedragpereenheid",
        "prijspereenheideuro",
        "tariefineuro",
        "contracttarief",
    ],
    "uitvoeringsvariant": [
        "uitvoeringsvariant",
        "variant",
        "bekostigingsvariant",
        "uitvoeringsvorm",
        "financieringsvariant",
    ],
    "geldig_van": [
        "geldigvan",
        "geldigvanaf",
        "ingangsdatum",
        "ingang",
        "vanaf",
        "van",
        "begindatum",
        "startdatum",
        "datumvan",
        "datumingang",
        "ingangsdatumtarief",
    ],
    "geldig_tot": [
        "geldigtot",
        "geldigtotenmet",
        "geldigtm",
        "einddatum",
        "tot",
        "totenmet",
        "tm",
        "einde",
        "datumtot",
        "datumeinde",
        "einddatumtarief",
        "geldigtotmet",
    ],
}
_CONTRACT_WORD_RULES: list[tuple[str, str]] = [
    (r"categorie", "productcategorie"),
    (r"omschrijving|benaming", "omschrijving"),
    (r"variant", "uitvoeringsvariant"),
    (r"geldigtot|einddatum|^tot|totenmet|^tm$|^eind", "geldig_tot"),
    (r"geldigvan|ingang|begindatum|startdatum|^van|vanaf", "geldig_van"),
    (r"tarief|prijs|pereenheid", "tarief"),
    (r"eenheid", "eenheid"),
    (r"productcode|prestatiecode", "productcode"),
]
CONTRACT_TABLE = SynonymTable(
    CONTRACT_SYNONYMS,
    _CONTRACT_WORD_RULES,
    frozenset({"productcode", "tarief", "geldig_van", "eenheid", "productcategorie"}),
    min_matches=3,
    min_anchors=2,
)

# Key/value rows of a tariff sheet ("naam | Jeugdhulp Twente 2025").
_KEY_NAMES = {
    "naam": ["naam", "contractnaam", "contract", "naamcontract", "titel"],
    "gemeenten": ["gemeenten", "gemeente", "gemeentecodes", "gemeentecode", "cbscodes"],
    "aanbieders": ["aanbieders", "aanbieder", "agb", "agbcode", "agbcodes", "zorgaanbieder", "zorgaanbieders"],
}
_KEY_INDEX = {V.normalise_text(n): k for k, names in _KEY_NAMES.items() for n in names}
_LIST_SPLIT = re.compile(r"\s*[,;\n|]\s*")
_PRODUCT_LINE = re.compile(r"^[ \t]*\[\[[ \t]*product[ \t]*\]\]", re.MULTILINE)


@dataclass
class ContractData:
    naam: str
    gemeenten: list[str]
    aanbieders: list[str] | None
    products: pd.DataFrame  # PRODUCT_FIELDS; tarief in cents, dates datetime64
    sheets: list[str] = field(default_factory=list)
    rows_read: int = 0
    skipped: list[dict] = field(default_factory=list)
    where: list[str] = field(default_factory=list)  # where each product came from


# ------------------------------------------------------------------------------------ values


def _variant(x: object) -> str:
    text = raw_text(x).strip()
    found = _VARIANT_NAMES.get(V.normalise_text(text))
    if found is None:
        raise ValueError(f"unknown uitvoeringsvariant {text!r} (valid: {', '.join(UITVOERINGSVARIANTEN)})")
    return found


def parse_products(raw: pd.DataFrame, where: pd.Series, labels: dict[str, str], problems: Problems) -> pd.DataFrame:
    """Raw product cells (a column per field present) → typed products; problems are recorded."""
    index = raw.index
    out = pd.DataFrame(index=index)

    def col(f: str) -> pd.Series:
        return raw[f] if f in raw else pd.Series(None, index=index, dtype=object)

    def empty(s: pd.Series) -> pd.Series:
        return s.isna() | s.map(lambda v: isinstance(v, str) and not v.strip())

    for f in REQUIRED_PRODUCT_FIELDS:
        problems.add_mask(empty(col(f)), where, f"{f} is missing", labels.get(f, f))

    cat = col("productcategorie")
    out["productcategorie"] = problems.add_parsed(V.parse_code(cat, 2), cat, where, labels.get("productcategorie", ""))
    known = refdata.codelijst("productcategorie")
    unknown = out["productcategorie"].notna() & ~out["productcategorie"].isin(list(known))
    problems.add_mask(
        unknown, where, "unknown productcategorie (not in the iJw list JZ020)", labels.get("productcategorie"), cat
    )

    code = col("productcode")
    out["productcode"] = problems.add_parsed(V.parse_text(code, max_len=20), code, where, labels.get("productcode", ""))
    text = col("omschrijving")
    out["omschrijving"] = problems.add_parsed(
        V.parse_text(text, max_len=500), text, where, labels.get("omschrijving", "")
    )
    unit = col("eenheid")
    out["eenheid"] = problems.add_parsed(V.parse_eenheid(unit), unit, where, labels.get("eenheid", ""))

    price = col("tarief")
    tarief = problems.add_parsed(V.parse_money(price), price, where, labels.get("tarief", "")).astype("Int64")
    problems.add_mask(tarief < 0, where, "tarief cannot be negative", labels.get("tarief"), price)
    problems.add_mask(
        tarief > MAX_TARIEF, where, "tarief above € 999.999,99 (the iJw maximum)", labels.get("tarief"), price
    )
    out["tarief"] = tarief

    variant = col("uitvoeringsvariant")
    out["uitvoeringsvariant"] = problems.add_parsed(
        map_unique(variant, _variant), variant, where, labels.get("uitvoeringsvariant", "")
    )

    for f in ("geldig_van", "geldig_tot"):
        out[f] = problems.add_parsed(V.parse_date(col(f)), col(f), where, labels.get(f, ""))
    backwards = out["geldig_tot"].notna() & out["geldig_van"].notna() & (out["geldig_tot"] < out["geldig_van"])
    problems.add_mask(
        backwards,
        where,
        lambda r: (
            f"geldig_tot {out.at[r, 'geldig_tot']:%Y-%m-%d} is before geldig_van {out.at[r, 'geldig_van']:%Y-%m-%d}"
        ),
        labels.get("geldig_tot"),
    )
    return out[PRODUCT_FIELDS]


def _check_overlaps(products: pd.DataFrame, where: pd.Series, problems: Problems) -> None:
    """Two tariff periods of one product code and eenheid may not overlap within one contract."""
    keys = ["productcode", "eenheid"]
    p = products[products[[*keys, "geldig_van"]].notna().all(axis=1)]  # unreadable rows are reported already
    p = p.sort_values([*keys, "geldig_van"], kind="stable")
    end = p["geldig_tot"].fillna(pd.Timestamp.max)
    before = end.groupby([p[k] for k in keys]).cummax().groupby([p[k] for k in keys]).shift()
    overlap = p["geldig_van"] <= before
    for r in p.index[overlap.fillna(False)]:  # only the offending products (few)
        row = p.loc[r]
        same = p[(p["productcode"] == row["productcode"]) & (p["eenheid"] == row["eenheid"]) & (p.index != r)]
        other = same[
            (same["geldig_van"] <= row["geldig_van"])
            & (same["geldig_tot"].fillna(pd.Timestamp.max) >= row["geldig_van"])
        ]
        tot = "open" if pd.isna(row["geldig_tot"]) else f"{row['geldig_tot']:%Y-%m-%d}"
        problems.add(
            where[r],
            f"tariff period {row['geldig_van']:%Y-%m-%d}..{tot} of {row['productcode']} (eenheid {row['eenheid']}) "
            f"overlaps {where[other.index[0]] if len(other) else 'another period'}; "
            "end the earlier period (geldig_tot) the day before the new tariff starts",
            order=(problems.part, r),
        )


def parse_gemeenten(values: list[object], where: str, problems: Problems) -> list[str]:
    """CBS gemeente codes (or names) → codes, each once."""

    def problem(raw: object, code: str, error: str | None) -> str | None:
        if error:
            return error
        if refdata.gemeente_naam(code) is None:
            return f"unknown gemeente code {raw_text(raw)!r} (not a CBS gemeente code)"
        return None

    return _unique_codes(values, V.parse_gemeente, problem, where, problems)


def parse_aanbieders(values: list[object], where: str, problems: Problems) -> list[str]:
    """AGB codes → codes, each once."""
    return _unique_codes(
        values, V.parse_agb, lambda raw, _code, error: f"{error}: {raw_text(raw)!r}" if error else None, where, problems
    )


def _unique_codes(values: list[object], parser, problem, where: str, problems: Problems) -> list[str]:
    """The codes ``parser`` reads from the listed values, each once in order of first mention;
    ``problem(raw, code, error)`` says what is wrong with a value (None: nothing)."""
    parts = _split(values)
    parsed = parser(pd.Series(parts, dtype=object))
    codes: list[str] = []
    for raw, code, error in zip(parts, parsed.values, parsed.errors):
        reason = problem(raw, code, error)
        if reason:
            problems.add(where, reason)
        elif code not in codes:
            codes.append(code)
    return codes


def _split(values: list[object]) -> list[object]:
    """Cells or TOML values → single items; text is split on , ; | and newlines."""
    out: list[object] = []
    for v in values:
        if isinstance(v, str):
            out.extend(p for p in _LIST_SPLIT.split(v.strip()) if p)
        elif v is not None:
            out.append(v)
    return out


# ------------------------------------------------------------------------------------ TOML


# [contract] gemeenten = [...] is three levels; nothing in a contract needs more than a few.
MAX_TOML_DEPTH = 8


def _line_numbers(text: str, offsets) -> list[int]:
    """The 1-based line of each offset (ascending), counting each stretch of text once: counting
    from the start for every [[product]] made 100,000 products take minutes."""
    numbers, line, pos = [], 1, 0
    for offset in offsets:
        line += text.count("\n", pos, offset)
        pos = offset
        numbers.append(line)
    return numbers


def _nesting(data: object) -> tuple[int, str | None]:
    """How deep tables and arrays nest in parsed TOML (iteratively: no recursion of our own), and
    the first text (key or value) holding a NUL character, if any."""
    deepest, nul, stack = 0, None, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if nul is None and "\x00" in value:
                nul = value
        elif isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_TOML_DEPTH:  # deeper than the limit: known to be refused, stop looking
                items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
                stack.extend((v, depth + 1) for v in items)
    return deepest, nul


def read_contract_toml(path: Path, opts: ImportOptions) -> ContractData:
    """A contract written as TOML: [contract] (naam, gemeenten, aanbieders) and one [[product]]
    per product and tariff period. Every problem is collected; any one refuses the file."""
    text, data = _load_toml(path)
    problems = Problems(path)
    head = _contract_table(path, data, problems)
    naam = head.get("naam")
    if naam is not None and not (isinstance(naam, str)):
        problems.add("[contract] naam", "naam must be text")
        naam = None
    naam = (naam or "").strip() or path.stem
    gemeenten = _list_value(head, "gemeenten", problems)
    aanbieders = _list_value(head, "aanbieders", problems)
    gemeente_codes = parse_gemeenten(gemeenten, "[contract] gemeenten", problems) if gemeenten else []
    if aanbieders is not None and not _split(aanbieders):
        problems.add("[contract] aanbieders", "is empty; leave the key out when the contract holds for all aanbieders")
    aanbieder_codes = parse_aanbieders(aanbieders, "[contract] aanbieders", problems) if aanbieders else None

    raw, where = _toml_products(path, text, data, problems)
    if raw.empty:
        problems.add("the file", "no products: add one [[product]] per product and tariff period")
    parsed = parse_products(raw, where, {f: f for f in PRODUCT_FIELDS}, problems)
    _check_overlaps(parsed, where, problems)
    if not gemeenten:
        gemeente_codes = _default_gemeente(
            opts, problems, "the file", 'add gemeenten = ["0406", "Laren"] (CBS codes or names) under [contract]'
        )
    problems.raise_if_any("contract")
    return ContractData(naam, gemeente_codes, aanbieder_codes, parsed, [], len(raw), [], where.tolist())


def _load_toml(path: Path) -> tuple[str, dict]:
    """The file's text and its parsed TOML; refused when it is not UTF-8, not TOML, nested too
    deeply or holds a NUL character."""
    try:
        raw = read_bounded(path)
        text = raw.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FileReadError(f"{path.name}: line {line}: not UTF-8 text; save the file as UTF-8") from None
    except OSError as exc:
        raise FileReadError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileReadError(f"{path.name}: not valid TOML: {exc}") from None
    except RecursionError:  # the parser recurses per level of [ or {
        raise FileReadError(
            f"{path.name}: refused: arrays or inline tables nested too deeply (a contract nests at most "
            f"{MAX_TOML_DEPTH} levels)"
        ) from None
    depth, nul = _nesting(data)
    if nul is not None:
        raise FileReadError(
            f"{path.name}: refused: the text {nul!r} holds a NUL character (\\u0000), which the store cannot hold"
        )
    if depth > MAX_TOML_DEPTH:
        raise FileReadError(
            f"{path.name}: refused: arrays or inline tables nested more than {MAX_TOML_DEPTH} levels deep "
            "(a contract needs three)"
        )
    return text, data


def _contract_table(path: Path, data: dict, problems: Problems) -> dict:
    """The [contract] table; unknown keys at the top level or in it are problems."""
    unknown = [k for k in data if k not in ("contract", "product")]
    if unknown:
        hint = " (write each product as [[product]])" if any(k in ("producten", "products") for k in unknown) else ""
        problems.add(
            "top level", f"unknown key(s) {', '.join(map(repr, unknown))}; expected [contract] and [[product]]{hint}"
        )
    head = data.get("contract", {})
    if not isinstance(head, dict):
        raise FileReadError(f"{path.name}: 'contract' must be a table: [contract]")
    for key in head:
        if key not in CONTRACT_KEYS:
            problems.add("[contract]", f"unknown key {key!r} (keys: {', '.join(CONTRACT_KEYS)})")
    return head


def _toml_products(path: Path, text: str, data: dict, problems: Problems) -> tuple[pd.DataFrame, pd.Series]:
    """The [[product]] tables as raw cells (a column per field, numbered from 1) and where each
    one is ("[[product]] 2 (line 14)"); unknown keys and lists or tables as values are problems."""
    products = data.get("product", [])
    if isinstance(products, dict):
        products = [products]
    if not isinstance(products, list) or not all(isinstance(p, dict) for p in products):
        raise FileReadError(f"{path.name}: 'product' must be a list of tables: write each product as [[product]]")
    lines = _line_numbers(text, (m.start() for m in _PRODUCT_LINE.finditer(text)))
    if len(lines) != len(products):
        lines = [None] * len(products)
    index = pd.RangeIndex(1, len(products) + 1)
    where = pd.Series(
        [f"[[product]] {n}" + (f" (line {line})" if line else "") for n, line in zip(index, lines)],
        index=index,
        dtype=object,
    )
    cleaned = [_product_values(product, where[n], n, problems) for n, product in zip(index, products)]
    raw = pd.DataFrame(
        {f: pd.Series([p[f] for p in cleaned], index=index, dtype=object) for f in PRODUCT_FIELDS}, index=index
    )
    return raw, where


def _product_values(product: dict, where: str, n: int, problems: Problems) -> dict:
    """One [[product]]'s value per field (None when absent, or a list or table)."""
    extra = [k for k in product if k not in PRODUCT_FIELDS]
    if extra:
        problems.add(
            where, f"unknown key(s) {', '.join(map(repr, extra))} (keys: {', '.join(PRODUCT_FIELDS)})", order=(0, n)
        )
    values = {}
    for k in PRODUCT_FIELDS:
        v = product.get(k)
        if isinstance(v, (list, dict)):
            problems.add(
                where,
                f"{k} must be a single value, not a {'list' if isinstance(v, list) else 'table'}",
                k,
                order=(0, n),
            )
            v = None
        values[k] = v
    return values


def _list_value(head: dict, key: str, problems: Problems) -> list[object] | None:
    if key not in head:
        return None
    value = head[key]
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        return value
    problems.add(f"[contract] {key}", 'must be a list of codes or names, e.g. ["0406", "Laren"]')
    return []


def _default_gemeente(opts: ImportOptions, problems: Problems, where: str, hint: str) -> list[str]:
    """--gemeente for a contract that names no gemeenten; without it the contract is refused."""
    if opts.gemeente:
        return [opts.gemeente]
    problems.add(where, f"no gemeenten: a contract must say for which gemeenten it holds; {hint} (or give --gemeente)")
    return []


# ------------------------------------------------------------------------------- tariff sheet


def _label(sheet: RawSheet) -> str:
    return f"sheet '{sheet.name}' " if sheet.name is not None else ""


def _key_values(sheet: RawSheet, upto: int) -> list[tuple[str, list[object], int]]:
    """("naam"|"gemeenten"|"aanbieders", values, Excel row) from key/value rows of a sheet."""
    found = []
    for rij, row in sheet.cells.iloc[:upto].iterrows():
        cells = [c for c in row.tolist() if c is not None and c == c and not (isinstance(c, str) and not c.strip())]
        if not cells or not isinstance(cells[0], str):
            continue
        first = cells[0]
        key = _KEY_INDEX.get(V.normalise_text(first))
        values = cells[1:]
        if key is None and ":" in first:  # "Naam: Jeugdhulp Twente 2025" in one cell
            name, _, rest = first.partition(":")
            key = _KEY_INDEX.get(V.normalise_text(name))
            values = ([rest] if rest.strip() else []) + cells[1:]
        if key is not None:
            found.append((key, values, int(rij)))
    return found


def read_contract_sheets(path: Path, sheets: list[RawSheet], opts: ImportOptions) -> ContractData:
    """A tariff spreadsheet: product tables (on one sheet or more), and naam, gemeenten and
    aanbieders in key/value rows above a table or on a sheet of their own."""
    problems = Problems(path)
    tables, keys = _tables_and_keys(path, sheets, problems)
    products, wheres, skipped, rows_read = _read_product_tables(path, tables, problems)
    naam_values, _ = keys.get("naam", ([], ""))
    naam = " ".join(raw_text(v).strip() for v in naam_values[:1]).strip() or path.stem
    gemeenten = keys.get("gemeenten")
    gemeente_codes = parse_gemeenten(gemeenten[0], gemeenten[1], problems) if gemeenten and _split(gemeenten[0]) else []
    aanbieders = keys.get("aanbieders")
    aanbieder_codes = (
        parse_aanbieders(aanbieders[0], aanbieders[1], problems) if aanbieders and _split(aanbieders[0]) else None
    )
    if not gemeente_codes and not (gemeenten and _split(gemeenten[0])):
        gemeente_codes = _default_gemeente(
            opts,
            problems,
            "the file",
            "add a row 'gemeenten' with CBS codes or names (e.g. 'gemeenten | 0406; Laren') above the "
            "product table or on a sheet of its own",
        )
    problems.raise_if_any("contract")
    return ContractData(
        naam, gemeente_codes, aanbieder_codes, products, [s.name or "" for s, _ in tables], rows_read, skipped, wheres
    )


def _tables_and_keys(
    path: Path, sheets: list[RawSheet], problems: Problems
) -> tuple[list[tuple[RawSheet, HeaderMatch]], dict[str, tuple[list[object], str]]]:
    """The sheets with a product table (and its header), and the key/value rows above the tables
    (key -> values, where); a key given twice with other values is a problem. Refused without a
    product table, naming the most header-like row found."""
    tables: list[tuple[RawSheet, HeaderMatch]] = []
    keys: dict[str, tuple[list[object], str]] = {}
    diagnosis: list[str] = []
    for sheet in sheets:
        header = find_table(sheet, CONTRACT_TABLE)
        if header is None and not sheet.cells.empty:
            best = most_text_row(sheet)
            if len(best) > len(diagnosis):
                diagnosis = best
        upto = header.row_index if header is not None else min(len(sheet.cells), 200)
        for key, values, rij in _key_values(sheet, upto):
            where = f"{_label(sheet)}row {rij}".strip()
            if key in keys and [raw_text(v) for v in keys[key][0]] != [raw_text(v) for v in values]:
                problems.add(where, f"{key} is given twice with different values (also at {keys[key][1]})")
            keys.setdefault(key, (values, where))
        if header is not None:
            tables.append((sheet, header))
    if not tables:
        headers = ", ".join(repr(h) for h in diagnosis[:20]) or "none"
        raise FileReadError(
            f"{path.name}: no product table found (looked for columns productcategorie, productcode, "
            f"omschrijving, eenheid, tarief, uitvoeringsvariant, geldig_van, geldig_tot). Headers found: {headers}"
        )
    return tables, keys


def _read_product_tables(
    path: Path, tables: list[tuple[RawSheet, HeaderMatch]], problems: Problems
) -> tuple[pd.DataFrame, list[str], list[dict], int]:
    """Every table's products (typed), where each came from, the skipped rows and the rows read;
    tariff periods may not overlap, also across sheets."""
    frames, wheres, skipped, rows_read = [], [], [], 0
    for part, (sheet, header) in enumerate(tables):
        problems.part = part + 1
        names = {f: header.names[i] for f, i in header.columns.items()}
        missing = [f for f in REQUIRED_PRODUCT_FIELDS if f not in header.columns]
        if missing:
            row = sheet.cells.index[header.row_index]
            raise FileReadError(
                f"{path.name}: {_label(sheet)}row {row}: required columns not found: {', '.join(missing)}. "
                f"Headers found: {', '.join(repr(n) for n in header.names if n)}"
            )
        body = table_body(sheet, header, ["productcode"])
        skipped.extend(body.skipped)
        rows_read += body.rows_read
        where = pd.Series([f"{_label(sheet)}row {r}" for r in body.raw.index], index=body.raw.index, dtype=object)
        frames.append(parse_products(body.raw, where, names, problems))
        wheres.extend(where.tolist())
    problems.part = 0
    products = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PRODUCT_FIELDS)
    _check_overlaps(products, pd.Series(wheres, index=products.index, dtype=object), problems)  # across sheets too
    if products.empty and not problems:
        problems.add(f"{_label(tables[0][0])}".strip() or "the file", "the product table has no products")
    return products, wheres, skipped, rows_read


# ---------------------------------------------------------------------------------- importer


def prepare_contract(path: Path, opts: ImportOptions, store: Store) -> Prepared:
    if path.suffix.lower() == ".toml":
        data = read_contract_toml(path, opts)
    else:
        data = read_contract_sheets(path, read_sheets(path), opts)
    products = data.products
    reasons: dict[str, int] = {}
    for s in data.skipped:
        reasons[s["reden"]] = reasons.get(s["reden"], 0) + 1
    result = FileResult(
        path=path,
        status="imported",
        soort="contract",
        sheets=data.sheets,
        rows=data.rows_read,
        stored=len(products),
        skipped=len(data.skipped),
        skipped_reasons=reasons,
        message=f"contract '{data.naam}': {len(products)} product tariffs for gemeenten {', '.join(data.gemeenten)}",
    )
    details = {
        "contract": {"naam": data.naam, "gemeenten": data.gemeenten, "aanbieders": data.aanbieders},
        "producten": len(products),
        "bladen": data.sheets,
        "overgeslagen_rijen": data.skipped,
    }

    def write(store: Store, conn, batch_id: int) -> None:
        contract_id = conn.execute(
            contracten.insert()
            .values(
                batch=batch_id,
                naam=data.naam,
                gemeenten=json.dumps(data.gemeenten),
                aanbieders=None if data.aanbieders is None else json.dumps(data.aanbieders),
            )
            .returning(contracten.c.id)
        ).scalar_one()
        frame = products.copy()
        frame.insert(0, "contract", contract_id)
        store.insert_frame(conn, contractproducten, frame)

    return Prepared("contract", result, write, details)


def is_contract(path: Path) -> bool:
    """A .toml file, or a spreadsheet with a product table (productcode, tarief, geldig_van) and
    no declaration columns (bsn, volume, bedrag) and no toewijzingnummer."""
    if path.suffix.lower() == ".toml":
        return True
    for sheet in sheet_heads(path):
        header = find_table(sheet, CONTRACT_TABLE)
        if header is None or not {"productcode", "tarief", "geldig_van"} <= set(header.columns):
            continue
        # Columns the tariff-sheet vocabulary does not know, read as declaration columns.
        declaration = {match_field(n) for n in header.unmapped}
        if not declaration & {"bsn", "volume", "bedrag", "toewijzingnummer"}:
            return True
    return False
