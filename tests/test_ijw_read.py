"""Reading iJw XML: JW323 declarations and JW301 allocations through ``jzcli import`` (level 1:
hardened parsing and the XSD), and the standard's levels in ``jzcli validate`` for lines that came
from a message (level 2 rejects the whole message with 0001, the Header's level-3/4 rules with
their code, TR333/TR318 the declaration, other rules the line).

Every message is built by ``ijw_builders`` from the XSD's structure; the store is SQLite and
PostgreSQL (``db_url``)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from lxml import etree

from ijw_builders import (
    AGB,
    BAD_BSN,
    BSN,
    BSN2,
    GEM,
    MARCH,
    build_jw323,
    build_message,
    client,
    credit,
    jw323,
    make_header,
    prestatie,
    toegewezen_product,
    write_bytes,
    write_jw301,
    write_jw323,
    write_message,
)
from jzcli import ijw
from jzcli.engine.run import validate
from jzcli.importer import import_paths
from jzcli.readers.prepared import ImportOptions
from jzcli.readers.registry import detect_soort
from jzcli.store.agreements import toewijzingen_actueel
from jzcli.store.schema import batches, berichten, declaratieregels, toewijzingen
from jzcli.store.store import Store
from validate_kit import CONTRACT, TODAY

JAN = (dt.date(2025, 1, 1), dt.date(2025, 1, 31))
FEB = (dt.date(2025, 2, 1), dt.date(2025, 2, 28))
APRIL = (dt.date(2025, 4, 1), dt.date(2025, 4, 30))
LINE_COLUMNS = [
    "bron",
    "blad",
    "rij",
    "aanbieder",
    "gemeente",
    "declaratienummer",
    "referentienummer",
    "vorig_referentienummer",
    "bsn",
    "toewijzingnummer",
    "productcategorie",
    "productcode",
    "begindatum",
    "einddatum",
    "volume",
    "eenheid",
    "tarief",
    "bedrag",
    "debet_credit",
]


# ============================================================================ helpers
def prestatie_lines(data: bytes) -> list[int]:
    """Line numbers of the <Prestatie> start tags in a built message."""
    return [n for n, text in enumerate(data.decode().splitlines(), 1) if text.strip().startswith("<Prestatie>")]


def flat(text: str) -> str:
    """Terminal output with the line wrapping undone."""
    return " ".join(text.split())


def count(store: Store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def nothing_stored(store: Store) -> bool:
    return all(count(store, t) == 0 for t in (batches, declaratieregels, berichten, toewijzingen))


def import_one(store: Store, path: Path, **opts):
    [result] = import_paths(store, [path], ImportOptions(**opts))
    return result


def stored_lines(store: Store) -> list[dict]:
    frame = store.declaraties(["id", *LINE_COLUMNS])
    records = []
    for rec in frame.to_dict("records"):
        out = {}
        for k, v in rec.items():
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
                out[k] = None
            elif k in ("begindatum", "einddatum"):
                out[k] = pd.Timestamp(v).date()
            elif k in ("volume", "tarief", "bedrag", "rij", "id"):
                out[k] = int(v)
            else:
                out[k] = v
        records.append(out)
    return records


def allocations_and_contract(store: Store, tmp_path: Path) -> None:
    """The validate kit's contract and JW301 allocations: 1001 (BSN, 45A48), 1002 (BSN2, 45A48),
    1003 (BSN, 45E01 in euro's), all 2025, frequentie 6 with room to spare."""
    (tmp_path / "contract.toml").write_text(CONTRACT, encoding="utf-8")
    assert import_one(store, tmp_path / "contract.toml").status == "imported"
    a1 = write_jw301(
        tmp_path / "toewijzing_1.xml",
        bsn=BSN,
        header={"identificatie": "TW1"},
        producten=[
            toegewezen_product(1001, volume=1000, frequentie="6"),
            toegewezen_product(1003, productcode="45E01", volume=99_999_999, eenheid="83", frequentie="6"),
        ],
    )
    a2 = write_jw301(
        tmp_path / "toewijzing_2.xml",
        bsn=BSN2,
        header={"identificatie": "TW2"},
        producten=[toegewezen_product(1002, volume=1000, frequentie="6")],
    )
    for path in (a1, a2):
        result = import_one(store, path)
        assert result.status == "imported", result.message


def good_clients() -> list[dict]:
    """Three lines that pass every rule against ``allocations_and_contract`` on TODAY."""
    return [
        client(BSN, [prestatie("R1"), prestatie("R2", begindatum=FEB[0], einddatum=FEB[1], volume=5)]),
        client(BSN2, [prestatie("R3", 1002, volume=8)]),
    ]


def judged(store: Store, batch: int) -> tuple[dict[int, str], pd.DataFrame]:
    """(rij → status, findings) of one batch after validate."""
    result = validate(store, today=TODAY)
    v = result.verdicts[result.verdicts["batch"] == batch]
    f = result.findings[result.findings["batch"] == batch]
    return {int(r): s for r, s in zip(v["rij"], v["status"])}, f


# ============================================================================ JW323 → lines
def test_valid_jw323_imports_line_exact(tmp_path, db_url):
    debet = prestatie("R0")
    data = build_jw323(
        header={"identificatie": "ZF2025-04A"},
        declaratienummer="ZF202504",
        periode=APRIL,
        dagtekening=dt.date(2025, 5, 2),
        clients=[
            client(BSN, [prestatie("R1", "0001001", *APRIL, volume=12), credit(debet, "R2")]),
            client(BSN2, [prestatie("R3", 1003, *APRIL, volume=45678, productcode="45E01", eenheid="83")]),
        ],
    )
    path = write_bytes(tmp_path / "declaratie.jw323", data)  # not .xml: recognised by content
    assert detect_soort(path) == "declaraties"
    store = Store.open(db_url)
    result = import_one(store, path)
    assert result.status == "imported" and result.soort == "declaraties" and result.stored == 3 and result.rows == 3
    rij = prestatie_lines(data)
    common = {
        "bron": "declaratie.jw323",
        "blad": None,
        "aanbieder": AGB,
        "gemeente": GEM,
        "declaratienummer": "ZF202504",
        "productcategorie": "45",
    }
    expected = [
        {
            **common,
            "rij": rij[0],
            "referentienummer": "R1",
            "vorig_referentienummer": None,
            "bsn": BSN,
            "toewijzingnummer": "1001",
            "productcode": "45A48",
            "begindatum": APRIL[0],
            "einddatum": APRIL[1],
            "volume": 12,
            "eenheid": "04",
            "tarief": 7980,
            "bedrag": 95760,
            "debet_credit": "D",
        },
        {
            **common,
            "rij": rij[1],
            "referentienummer": "R2",
            "vorig_referentienummer": "R0",
            "bsn": BSN,
            "toewijzingnummer": "1001",
            "productcode": "45A48",
            "begindatum": MARCH[0],
            "einddatum": MARCH[1],
            "volume": 10,
            "eenheid": "04",
            "tarief": 7980,
            "bedrag": 79800,
            "debet_credit": "C",
        },
        {
            **common,
            "rij": rij[2],
            "referentienummer": "R3",
            "vorig_referentienummer": None,
            "bsn": BSN2,
            "toewijzingnummer": "1003",
            "productcode": "45E01",
            "begindatum": APRIL[0],
            "einddatum": APRIL[1],
            "volume": 45678,
            "eenheid": "83",
            "tarief": None,
            "bedrag": 45678,
            "debet_credit": "D",
        },
    ]
    assert [{k: v for k, v in r.items() if k != "id"} for r in stored_lines(store)] == expected

    with store.engine.connect() as conn:
        [row] = conn.execute(sa.select(berichten)).mappings().all()
        details = json.loads(conn.execute(sa.select(batches.c.details)).scalar())
    row = dict(row)
    for k in ("dagtekening", "declaratieperiode_begin", "declaratieperiode_eind", "declaratie_dagtekening"):
        row[k] = pd.Timestamp(row[k]).date()
    assert row == {
        "batch": result.batch,
        "berichtcode": "490",
        "berichtversie": "3",
        "berichtsubversie": "2",
        "afzender": AGB,
        "ontvanger": GEM,
        "identificatie": "ZF2025-04A",
        "dagtekening": dt.date(2025, 4, 2),
        "xsd_versie": "|".join(ijw.xsd_versions("JW323")),
        "declaratienummer": "ZF202504",
        "declaratieperiode_begin": APRIL[0],
        "declaratieperiode_eind": APRIL[1],
        "declaratie_dagtekening": dt.date(2025, 5, 2),
        "totaal_ingediend": 95760 - 79800 + 45678,
        "totaal_debet_credit": "D",
    }
    assert details["bericht"]["clienten"] == 2 and details["bericht"]["prestaties"] == 3
    assert details["sheets"] == [{"blad": None, "vermeld_totaal": 61638, "rijen": 3, "regels": 3}]


def test_credit_total_is_signed_and_compact_xml_lines_are_numbered(tmp_path, embedded_url):
    debet = prestatie("R0")
    data = build_message("JW323", jw323(clients=[client(BSN, [credit(debet, "R9")])]), pretty=False)
    store = Store.open(embedded_url)
    assert import_one(store, write_bytes(tmp_path / "credit.xml", data)).status == "imported"
    with store.engine.connect() as conn:
        total, dc = conn.execute(sa.select(berichten.c.totaal_ingediend, berichten.c.totaal_debet_credit)).one()
    assert (total, dc) == (79800, "C")
    [line] = stored_lines(store)
    assert line["rij"] == prestatie_lines(data)[0] == 3  # compact: one line per Client and per Prestatie


def test_message_options_must_match_or_be_left_out(tmp_path, embedded_url):
    path = write_jw323(tmp_path / "m.xml", clients=good_clients())
    store = Store.open(embedded_url)
    wrong = import_one(store, path, aanbieder="98009996")
    assert (
        wrong.status == "error" and "--aanbieder 98009996 differs from the message's AGB code 98001101" in wrong.message
    )
    assert nothing_stored(store)
    assert import_one(store, path, aanbieder=AGB, gemeente=GEM).status == "imported"


# ============================================================================ JW301 → allocations
def test_jw301_versions_newest_wins_and_deletion(tmp_path, db_url):
    store = Store.open(db_url)
    first = write_jw301(
        tmp_path / "301_a.xml",
        header={"identificatie": "A"},
        producten=[
            toegewezen_product(
                2001,
                dt.date(2025, 1, 1),
                dt.date(2025, 6, 30),
                volume=3,
                eenheid="04",
                frequentie="2",
                toewijzingsdatum=dt.date(2024, 12, 15),
                toewijzingstijd=dt.time(9, 30, 5),
            ),
            toegewezen_product(
                2002, dt.date(2025, 1, 1), dt.date(2025, 12, 31), productcode=None, volume=None, budget=250_000_00
            ),
        ],
    )
    second = write_jw301(
        tmp_path / "301_b.xml",
        header={"identificatie": "B"},
        producten=[
            # same number, later the same day: extended
            toegewezen_product(
                2001,
                dt.date(2025, 1, 1),
                dt.date(2025, 12, 31),
                volume=3,
                eenheid="04",
                frequentie="2",
                toewijzingsdatum=dt.date(2024, 12, 15),
                toewijzingstijd=dt.time(14, 0),
                reden_wijziging="01",
            ),
            # deleted: Einddatum = Ingangsdatum with RedenWijziging 13
            toegewezen_product(
                2002,
                dt.date(2025, 1, 1),
                dt.date(2025, 1, 1),
                productcode=None,
                volume=None,
                budget=250_000_00,
                toewijzingsdatum=dt.date(2025, 2, 1),
                reden_wijziging="13",
            ),
        ],
    )
    assert detect_soort(first) == "toewijzingen"
    for path in (first, second):
        result = import_one(store, path)
        assert result.status == "imported" and result.soort == "toewijzingen" and result.stored == 2, result.message
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(toewijzingen).order_by(toewijzingen.c.id)).mappings()]
    assert len(rows) == 4
    a = rows[0]
    assert (a["bron"], a["blad"], a["toewijzingnummer"], a["bsn"], a["gemeente"], a["aanbieder"]) == (
        "301_a.xml",
        None,
        "2001",
        BSN,
        GEM,
        AGB,
    )
    assert (a["productcategorie"], a["productcode"], a["volume"], a["eenheid"], a["frequentie"], a["budget"]) == (
        "45",
        "45A48",
        3,
        "04",
        "2",
        None,
    )
    assert pd.Timestamp(a["toewijzingsdatum"]) == pd.Timestamp("2024-12-15 09:30:05")
    assert a["rij"] == prestatie_tag_line(first, "ToegewezenProduct", 1)
    b = rows[1]
    assert (b["productcode"], b["volume"], b["eenheid"], b["budget"]) == (None, None, None, 250_000_00)
    current = toewijzingen_actueel(store).set_index("toewijzingnummer")
    assert pd.Timestamp(current.loc["2001", "einddatum"]).date() == dt.date(2025, 12, 31)
    assert current.loc["2001", "bron"] == "301_b.xml" and current.loc["2001", "reden_wijziging"] == "01"
    assert bool(current.loc["2002", "verwijderd"]) and not bool(current.loc["2001", "verwijderd"])
    with store.engine.connect() as conn:
        msgs = conn.execute(
            sa.select(berichten.c.berichtcode, berichten.c.afzender, berichten.c.ontvanger, berichten.c.identificatie)
        ).all()
    assert sorted(tuple(m) for m in msgs) == [("436", GEM, AGB, "A"), ("436", GEM, AGB, "B")]


def prestatie_tag_line(path: Path, local: str, n: int) -> int:
    lines = [
        i for i, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if t.strip().startswith(f"<{local}>")
    ]
    return lines[n - 1]


def test_jw301_that_contradicts_itself_is_refused(tmp_path, embedded_url):
    path = write_jw301(
        tmp_path / "301.xml", bsn=BAD_BSN, producten=[toegewezen_product(1, dt.date(2025, 3, 1), dt.date(2025, 2, 1))]
    )
    store = Store.open(embedded_url)
    result = import_one(store, path)
    assert result.status == "error" and nothing_stored(store)
    assert "Client Bsn *****0398 fails the 11-proef" in result.message
    assert "ToegewezenProduct 1: einddatum 2025-02-01 is before ingangsdatum 2025-03-01" in result.message
    assert BAD_BSN not in result.message


def test_soort_option_must_fit_the_message(tmp_path, embedded_url):
    store = Store.open(embedded_url)
    path = write_jw323(tmp_path / "m.xml", clients=good_clients())
    result = import_one(store, path, soort="toewijzingen")
    assert (
        result.status == "error" and "a JW323 Declaratie message holds declaraties, not toewijzingen" in result.message
    )
    assert nothing_stored(store)


# ============================================================================ refusals (level 1 and hardening)
XXE = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE Bericht [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<Bericht xmlns="{ijw.bericht("JW323").namespace}"><Header><BerichtCode>&xxe;</BerichtCode></Header></Bericht>
"""
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + f']>\n<Bericht xmlns="{ijw.bericht("JW323").namespace}"><Header><BerichtCode>&lol9;</BerichtCode></Header></Bericht>\n'
)


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("xxe.xml", XXE, "refused: the XML has a DOCTYPE declaration with entity definitions (line 2)"),
        ("laughs.xml", LAUGHS, "refused: the XML has a DOCTYPE declaration with entity definitions (line 2)"),
        (
            "doctype.xml",
            '<?xml version="1.0"?>\n<!-- x -->\n<!DOCTYPE Bericht SYSTEM "http://example.org/x.dtd">\n<Bericht/>\n',
            "DOCTYPE declaration (line 3)",
        ),
    ],
)
def test_dtd_entities_are_refused_before_parsing(tmp_path, db_url, cli, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    r = cli("import", path, "--db", db_url)
    assert r.exit_code == 3
    assert expected in flat(r.stderr) and "XXE" in flat(r.stderr) and "nothing was read or stored" in flat(r.stderr)
    assert "root:" not in r.output  # /etc/passwd was never read
    assert nothing_stored(Store.open(db_url))


def _with(data: bytes, change) -> bytes:
    """A built message changed with lxml (to break what the builder keeps right)."""
    root = etree.fromstring(data)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _swap_categorie_and_code(root) -> None:
    ns = {"m": ijw.bericht("JW323").namespace}
    p = root.find(".//m:Client[2]/m:Prestaties/m:Prestatie", ns)
    cat, code = p.find("m:ProductCategorie", ns), p.find("m:ProductCode", ns)
    p.remove(code)
    cat.addprevious(code)


def test_xsd_invalid_messages_are_refused_with_path_and_line(tmp_path, db_url, cli):
    good = build_jw323(clients=good_clients())
    store = Store.open(db_url)
    # element order: ProductCode before ProductCategorie in the second client's Prestatie
    swapped = write_bytes(tmp_path / "order.xml", _with(good, _swap_categorie_and_code))
    r = cli("import", swapped, "--db", db_url)
    line = next(
        n
        for n, t in enumerate(swapped.read_text().splitlines(), 1)
        if "<ProductCode>" in t and n > prestatie_lines(swapped.read_bytes())[2]
    )
    assert r.exit_code == 3
    assert "does not conform to JW323.xsd (level 1, 1 error)" in flat(r.stderr)
    assert (
        f"line {line}, /Bericht/Declaratie/Clienten/Client[2]/Prestaties/Prestatie[1]/ProductCode: Element 'ProductCode': This element is not expected. Expected is ( ProductCategorie )"
        in flat(r.stderr)
    )
    # a 10-digit BSN (masked in the message) and an 8-digit one
    bad_bsn = build_jw323(clients=[client("9999000061", [prestatie("R1")]), client("99990006", [prestatie("R2")])])
    path = write_bytes(tmp_path / "bsn.xml", bad_bsn)
    r = cli("import", path, "--db", db_url)
    bsn_lines = [n for n, t in enumerate(bad_bsn.decode().splitlines(), 1) if "<Bsn>" in t]
    assert r.exit_code == 3 and "level 1, 3 errors" in flat(r.stderr)
    assert (
        f"line {bsn_lines[0]}, /Bericht/Declaratie/Clienten/Client[1]/Bsn: Element 'Bsn': [facet 'maxLength']"
        in flat(r.stderr)
    )
    assert (
        f"line {bsn_lines[1]}, /Bericht/Declaratie/Clienten/Client[2]/Bsn: Element 'Bsn': [facet 'pattern'] The value '****0006'"
        in flat(r.stderr)
    )
    assert "9999000061" not in r.output and "99990006" not in r.output
    # amounts are integer cents: a decimal amount is not
    decimal = write_bytes(
        tmp_path / "decimal.xml",
        build_jw323(clients=[client(BSN, [prestatie("R1", tarief="79.80", bedrag="798.00")])], totaal=79800),
    )
    r = cli("import", decimal, "--db", db_url)
    assert (
        r.exit_code == 3
        and "/Prestatie[1]/ProductTarief: Element 'ProductTarief': '79.80' is not a valid value of the atomic type 'ijw:LDT_Bedrag'"
        in flat(r.stderr)
    )
    # CS319 is also an XSD pattern on DeclaratieNummer
    dash = write_bytes(tmp_path / "dash.xml", build_jw323(clients=good_clients(), declaratienummer="ZF-2025"))
    r = cli("import", dash, "--db", db_url)
    assert r.exit_code == 3 and "/Bericht/Declaratie/DeclaratieNummer: Element 'DeclaratieNummer'" in flat(r.stderr)
    assert nothing_stored(store)


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda d: d.replace(b"ijw/3_2/jw323/schema", b"ijw/3_1/jw323/schema"),
            "root element 'Bericht' in iJw 3.1 JW323 (http://www.istandaarden.nl/ijw/3_1/jw323/schema); expected 'Bericht' in the namespace of JW323",
        ),
        (
            lambda d: d.replace(b"<BerichtCode>490</BerichtCode>", b"<BerichtCode>491</BerichtCode>"),
            "BerichtCode 491 (the code of JW325) does not match the JW323 namespace, whose BerichtCode is 490",
        ),
        (
            lambda d: d.replace(b"<Bericht ", b"<Declaratiebericht ").replace(b"</Bericht>", b"</Declaratiebericht>"),
            "root element 'Declaratiebericht' in the JW323 namespace; an iJw message has root 'Bericht'",
        ),
        (
            lambda d: b'<?xml version="1.0"?>\n<Invoice xmlns="urn:example"><Total>5</Total></Invoice>\n',
            "not an iJw 3.2 message jzcli reads: root element 'Invoice' in urn:example",
        ),
        (
            lambda d: d.replace(b"ijw/3_2/jw323/schema", b"ijw/3_2/jw305/schema"),
            "an iJw JW305 message (Start zorg); jzcli imports JW323 declarations and JW301 allocations only",
        ),
        (lambda d: d.replace(b"</Clienten>", b"</Clienten"), "not well-formed XML at line"),
    ],
)
def test_wrong_message_kinds_are_refused_clearly(tmp_path, db_url, cli, change, expected):
    path = write_bytes(tmp_path / "bericht.xml", change(build_jw323(clients=good_clients())))
    r = cli("import", path, "--db", db_url)
    assert r.exit_code == 3 and expected in flat(r.stderr), r.stderr
    assert nothing_stored(Store.open(db_url))


def test_a_jw325_is_not_imported(tmp_path, embedded_url, cli):
    answer = build_message(
        "JW325",
        {
            "Header": make_header(
                "JW325",
                DeclaratieIdentificatie={"Identificatie": "BERICHT1", "Dagtekening": dt.date(2025, 4, 2)},
                XsdVersieDeclaratie={"BasisschemaXsdVersie": "0.1.0", "BerichtXsdVersie": "0.1.0"},
                RetourCodes={"RetourCode": ["0200"]},
            )
        },
    )
    assert ijw.validate_xsd(answer, "JW325") == []
    r = cli("import", write_bytes(tmp_path / "antwoord.xml", answer), "--db", embedded_url)
    assert (
        r.exit_code == 3
        and "a JW325 Declaratie-antwoord message (what jzcli retour writes); it cannot be imported" in flat(r.stderr)
    )


def test_validate_xsd_on_trees_and_bytes():
    good = build_jw323(clients=good_clients())
    assert ijw.validate_xsd(good, "JW323") == []
    tree = etree.ElementTree(etree.fromstring(_with(good, _swap_categorie_and_code)))
    [error] = ijw.validate_xsd(tree, "JW323")
    assert error.pad == "/Bericht/Declaratie/Clienten/Client[2]/Prestaties/Prestatie[1]/ProductCode" and error.regel > 0
    with pytest.raises(Exception, match="DOCTYPE"):
        ijw.validate_xsd(XXE.encode(), "JW323")


# ============================================================================ levels in validate
def _setup(tmp_path, db_url, *messages: bytes) -> tuple[Store, list[int]]:
    store = Store.open(db_url)
    allocations_and_contract(store, tmp_path)
    ids = []
    for n, data in enumerate(messages, 1):
        result = import_one(store, write_bytes(tmp_path / f"declaratie_{n}.xml", data))
        assert result.status == "imported", result.message
        ids.append(result.batch)
    return store, ids


def test_a_valid_message_is_approved_line_by_line(tmp_path, db_url):
    data = build_jw323(clients=good_clients())
    store, [batch] = _setup(tmp_path, db_url, data)
    statuses, found = judged(store, batch)
    assert statuses == dict.fromkeys(prestatie_lines(data), "goedgekeurd") and found.empty


def test_a_line_level_rule_rejects_only_its_line(tmp_path, db_url):
    clients = good_clients()
    clients[1]["Prestaties"]["Prestatie"][0] = prestatie("R3", 1002, volume=8, tarief=8000)  # not the contract's 79,80
    data = build_jw323(clients=clients)
    store, [batch] = _setup(tmp_path, db_url, data)
    statuses, found = judged(store, batch)
    rij = prestatie_lines(data)
    assert statuses == {rij[0]: "goedgekeurd", rij[1]: "goedgekeurd", rij[2]: "afgekeurd"}
    assert list(zip(found["rij"], found["regel"], found["retourcode"])) == [(rij[2], "TR418", "0611")]


def _level2_cases():
    good = good_clients
    bsn_lines = [prestatie("R1"), prestatie("R2", begindatum=FEB[0], einddatum=FEB[1], volume=5)]

    def with_line(p):
        c = good()
        c[1]["Prestaties"]["Prestatie"].append(p)
        return c

    return [
        # (rule, jw323 keyword arguments, index of the breaking Prestatie(s) in message order)
        ("CS002", dict(clients=[client(BSN, bsn_lines), client(BAD_BSN, [prestatie("R3", 1002, volume=8)])]), [2]),
        (
            "TR101",
            dict(
                clients=[
                    client(BSN, bsn_lines[:1]),
                    client(BSN2, [prestatie("R3", 1002, volume=8)]),
                    client(BSN, bsn_lines[1:]),
                ]
            ),
            [2],
        ),
        ("TR101", dict(clients=with_line(prestatie("R3", 1002, *FEB, volume=2))), [3]),
        ("TR134", dict(clients=with_line(prestatie("R4", 1002, dt.date(2025, 4, 3), dt.date(2025, 4, 30)))), [3]),
        (
            "TR137",
            dict(clients=with_line(prestatie("R4", 1002, dt.date(2025, 3, 20), dt.date(2025, 3, 10), volume=1))),
            [3],
        ),
        (
            "TR315",
            dict(
                clients=with_line(credit(prestatie("R0"), "R8"))
                + [client("999900031", [credit(prestatie("R0"), "R9")])]
            ),
            [4],
        ),
        ("TR316", dict(clients=with_line(credit(prestatie("R3", 1002, volume=8), "R9"))), [3]),
        # a credit whose VorigReferentieNummer is its own ReferentieNummer: the XSLT rejects the message too
        (
            "TR316",
            dict(
                clients=with_line(prestatie("R4", 1002, *FEB, volume=1, debet_credit="C", vorig_referentienummer="R4"))
            ),
            [3],
        ),
        ("TR358", dict(clients=good(), totaal=12345), [0, 1, 2]),
        ("TR416", dict(clients=with_line(prestatie("R4", 1002, volume=1))), [3]),
        (
            "CS325",
            dict(clients=with_line(prestatie("R4", 1002, volume=0, debet_credit="C", vorig_referentienummer="R0"))),
            [3],
        ),
        ("CS340", dict(clients=good(), periode=(dt.date(2025, 3, 2), dt.date(2025, 3, 31))), [0, 1, 2]),
        ("CS100", dict(clients=good(), periode=(dt.date(2020, 12, 1), dt.date(2020, 12, 31))), [0, 1, 2]),
        (
            "TR335",
            dict(
                clients=with_line(prestatie("R4", 1002, dt.date(2021, 3, 1), dt.date(2021, 3, 31), volume=1)),
                DeclaratieDagtekening=dt.date(2026, 6, 1),
            ),
            [3],
        ),
        ("CD060", dict(clients=with_line(prestatie("R4", 1002, *FEB, volume=1, vorig_referentienummer="R0"))), [3]),
        ("CD087", dict(clients=with_line(prestatie("R4", 1002, *FEB, volume=1, tarief=None, bedrag=7980))), [3]),
        (
            "CS339",
            dict(
                clients=with_line(
                    prestatie("R4", 1003, *FEB, volume=500, productcode="45E01", eenheid="83", bedrag=600)
                )
            ),
            [3],
        ),
        ("TR378", dict(clients=good(), header={"ontvanger": "9999"}), [0, 1, 2]),
        ("TR135", dict(clients=good(), header={"dagtekening": dt.date(2025, 4, 16)}), [0, 1, 2]),
    ]


@pytest.mark.parametrize(
    "rule, kwargs, breaking", _level2_cases(), ids=[f"{c[0]}-{n}" for n, c in enumerate(_level2_cases())]
)
def test_a_message_level_rule_rejects_the_whole_message(tmp_path, db_url, rule, kwargs, breaking):
    data = build_jw323(**kwargs)
    store, [batch] = _setup(tmp_path, db_url, data)
    statuses, found = judged(store, batch)
    rij = prestatie_lines(data)
    code = {"TR378": "S300", "TR135": "8848"}.get(rule, "0001")
    assert statuses == dict.fromkeys(rij, "afgekeurd")
    # every line has the code; the breaking line(s) the rule's own finding, the others one pointing at it
    assert set(found["retourcode"]) == {code} and set(found["rij"]) == set(rij)
    own = found[(found["regel"] == rule) & ~found["melding"].str.startswith("message rejected")]
    assert set(own["rij"]) == {rij[i] for i in breaking}
    pointers = found[found["melding"].str.startswith("message rejected")]
    assert set(pointers["rij"]) == set(rij) - {rij[i] for i in breaking}
    first = min(rij[i] for i in breaking)
    assert all(m.startswith(f"message rejected: {rule} on line {first}") for m in pointers["melding"])
    # not processed further: no line-level rule ran on the message
    assert set(found["regel"]) <= {rule, "TR134", "TR137", "TR101", "CD060", "CS100", "TR335", "TR416", "TR358"}
    assert BAD_BSN not in " ".join(found["melding"])


def test_tr358_message_names_the_message_total(tmp_path, embedded_url):
    data = build_jw323(clients=good_clients(), totaal=-12345)
    store, [batch] = _setup(tmp_path, embedded_url, data)
    _statuses, found = judged(store, batch)
    assert set(found["melding"]) == {
        "the message (TotaalIngediendBedrag) states a total of € -123,45, but its 3 lines add up to € 1.835,40 (Σ debet − Σ credit)"
    }


def test_tr056_rejects_a_reused_berichtidentificatie(tmp_path, db_url):
    first = build_jw323(clients=good_clients(), header={"identificatie": "ZF1"})
    again = build_jw323(
        clients=[client(BSN, [prestatie("R7", begindatum=FEB[0], einddatum=FEB[1], volume=1)])],
        header={"identificatie": "ZF1"},
        declaratienummer="D2",
    )
    store, [b1, b2] = _setup(tmp_path, db_url, first, again)
    result = validate(store, today=TODAY)
    v = result.verdicts.set_index("regel_id")
    assert set(v.loc[v["batch"] == b1, "status"]) == {"goedgekeurd"} and set(v.loc[v["batch"] == b2, "status"]) == {
        "afgekeurd"
    }
    f = result.findings[result.findings["batch"] == b2]
    assert list(zip(f["regel"], f["retourcode"])) == [("TR056", "9056")]
    assert (
        f.iloc[0]["melding"]
        == f"BerichtIdentificatie ZF1 of aanbieder {AGB} was already used for a JW323 in batch {b1} (declaratie_1.xml)"
    )


def test_cs319_rejects_a_stored_declaratienummer_with_other_characters(tmp_path, embedded_url):
    data = build_jw323(clients=good_clients())
    store, [batch] = _setup(tmp_path, embedded_url, data)
    with store.transaction() as conn:  # the XSD refuses it at import; the rule holds for any stored message
        conn.execute(berichten.update().values(declaratienummer="ZF-1"))
    statuses, found = judged(store, batch)
    assert (
        set(statuses.values()) == {"afgekeurd"}
        and set(found["regel"]) == {"CS319"}
        and set(found["retourcode"]) == {"0001"}
    )


def test_tr333_rejects_the_declaration_with_9333(tmp_path, db_url):
    first = build_jw323(clients=good_clients(), header={"identificatie": "M1"}, declaratienummer="ZF202503")
    # a new message, same DeclaratieNummer, lines that would also break TR314 (reused references)
    again = build_jw323(
        clients=[
            client(
                BSN2, [prestatie("R3", 1002, *FEB, volume=1), prestatie("R9", 1002, JAN[0], JAN[1], volume=2, tarief=1)]
            )
        ],
        header={"identificatie": "M2"},
        declaratienummer="ZF202503",
    )
    store, [b1, b2] = _setup(tmp_path, db_url, first, again)
    result = validate(store, today=TODAY)
    v = result.verdicts
    assert set(v.loc[v["batch"] == b1, "status"]) == {"goedgekeurd"} and set(v.loc[v["batch"] == b2, "status"]) == {
        "afgekeurd"
    }
    f = result.findings[result.findings["batch"] == b2]
    assert (
        set(zip(f["regel"], f["retourcode"])) == {("TR333", "9333")} and len(f) == 2
    )  # no TR314, no TR418: not processed
    assert (
        f["melding"].str.contains(f"declaratienummer ZF202503 was already used by aanbieder {AGB} in batch {b1}").all()
    )


def test_tr318_a_declaration_may_not_go_back_a_month(tmp_path, db_url):
    march = build_jw323(
        clients=[client(BSN, [prestatie("R1", 1001, volume=1)])], header={"identificatie": "M1"}, declaratienummer="D1"
    )
    again = build_jw323(
        clients=[client(BSN, [prestatie("R3", 1001, *JAN, volume=2)]), client(BSN2, [prestatie("R2", 1002, volume=2)])],
        header={"identificatie": "M2"},
        declaratienummer="D2",
    )
    february = build_jw323(
        clients=[client(BSN2, [prestatie("R4", 1002, *FEB, volume=1), prestatie("R5", 1002, *JAN, volume=1)])],
        periode=FEB,
        header={"identificatie": "M3"},
        declaratienummer="D3",
    )
    store, [b1, b2, b3] = _setup(tmp_path, db_url, march, again, february)
    result = validate(store, today=TODAY)
    status = result.verdicts.groupby("batch")["status"].agg(set).to_dict()
    # repeating the last month (with a late January line) is fine; going back to February is not
    assert status == {b1: {"goedgekeurd"}, b2: {"goedgekeurd"}, b3: {"afgekeurd"}}
    f = result.findings[result.findings["batch"] == b3]
    assert set(zip(f["regel"], f["retourcode"])) == {("TR318", "8214")} and len(f) == 2
    assert f.iloc[0]["melding"].startswith(
        f"DeclaratiePeriode 2025-02 is before 2025-03, already declared by aanbieder {AGB} to gemeente {GEM} (declaratie D2, batch {b2}"
    )


def test_a_rejected_message_counts_as_not_sent(tmp_path, embedded_url):
    """A rejected message is not sent: a later message may resubmit its references."""
    bad = build_jw323(clients=good_clients(), totaal=1, header={"identificatie": "M1"}, declaratienummer="X1")
    good = build_jw323(clients=good_clients(), header={"identificatie": "M2"}, declaratienummer="X2")
    store, [b1, b2] = _setup(tmp_path, embedded_url, bad, good)
    result = validate(store, today=TODAY)
    status = result.verdicts.groupby("batch")["status"].agg(set).to_dict()
    assert status == {b1: {"afgekeurd"}, b2: {"goedgekeurd"}}


def test_a_message_rejected_at_level_2_may_be_resent_with_its_declaratienummer(tmp_path, db_url):
    """TR333 / OP286 / IV087: the corrected resend of a message rejected at level 2 (0001) uses the
    same DeclaratieNummer, ReferentieNummers, lines and period: nothing of the rejected one counts
    as sent (only TR056 counts every message: the resend has a new BerichtIdentificatie)."""
    bad = build_jw323(clients=good_clients(), totaal=1, header={"identificatie": "M1"}, declaratienummer="ZF202503")
    fixed = build_jw323(clients=good_clients(), header={"identificatie": "M2"}, declaratienummer="ZF202503")
    store, [b1, b2] = _setup(tmp_path, db_url, bad, fixed)
    result = validate(store, today=TODAY)
    status = result.verdicts.groupby("batch")["status"].agg(set).to_dict()
    assert status == {b1: {"afgekeurd"}, b2: {"goedgekeurd"}}
    assert set(result.findings.loc[result.findings["batch"] == b1, "retourcode"]) == {"0001"}
    assert result.findings[result.findings["batch"] == b2].empty
    # a third message with that number: now the number was used by an approved declaration
    third = build_jw323(
        clients=[client(BSN2, [prestatie("R8", 1002, *FEB, volume=1)])],
        header={"identificatie": "M3"},
        declaratienummer="ZF202503",
    )
    b3 = import_one(store, write_bytes(tmp_path / "declaratie_3.xml", third)).batch
    result = validate(store, today=TODAY)
    f = result.findings
    assert set(f["batch"]) == {b3} and set(zip(f["regel"], f["retourcode"])) == {("TR333", "9333")}
    assert f.iloc[0]["melding"].startswith(
        f"declaratienummer ZF202503 was already used by aanbieder {AGB} in batch {b2} "
    )


def test_a_resend_in_a_later_round_is_not_blocked_by_the_rejected_message(tmp_path, db_url):
    """The rejected message was judged in an earlier run; the resend arrives a week later."""
    bad = build_jw323(
        clients=good_clients(),
        header={"identificatie": "M1"},
        declaratienummer="ZF202503",
        periode=(dt.date(2025, 3, 2), dt.date(2025, 3, 31)),
    )
    store, [b1] = _setup(tmp_path, db_url, bad)
    first = validate(store, today=TODAY)
    assert set(first.verdicts["status"]) == {"afgekeurd"} and set(first.findings["regel"]) == {"CS340"}
    fixed = build_jw323(clients=good_clients(), header={"identificatie": "M2"}, declaratienummer="ZF202503")
    b2 = import_one(store, write_bytes(tmp_path / "declaratie_2.xml", fixed)).batch
    second = validate(store, today=TODAY)
    assert set(second.verdicts["batch"]) == {b2} and set(second.verdicts["status"]) == {"goedgekeurd"}, second.findings[
        ["regel", "melding"]
    ]
    # judged again from scratch (--opnieuw), the verdicts are the same
    again = validate(store, today=TODAY, opnieuw=True)
    assert again.verdicts.groupby("batch")["status"].agg(set).to_dict() == {b1: {"afgekeurd"}, b2: {"goedgekeurd"}}


def test_a_message_with_rejected_lines_was_sent_its_number_stays_used(tmp_path, db_url):
    """Only a message rejected as a whole counts as not sent: one with a rejected line was processed."""
    clients = good_clients()
    clients[1]["Prestaties"]["Prestatie"][0] = prestatie("R3", 1002, volume=8, tarief=8000)  # TR418 on the line
    first = build_jw323(clients=clients, header={"identificatie": "M1"}, declaratienummer="ZF202503")
    again = build_jw323(
        clients=[client(BSN2, [prestatie("R8", 1002, *FEB, volume=1)])],
        header={"identificatie": "M2"},
        declaratienummer="ZF202503",
    )
    store, [b1, b2] = _setup(tmp_path, db_url, first, again)
    result = validate(store, today=TODAY)
    f = result.findings[result.findings["batch"] == b2]
    assert set(zip(f["regel"], f["retourcode"])) == {("TR333", "9333")}


# ============================================================================ a 25 MB message
def _write_large(path: Path, prestaties: int) -> int:
    """A compact JW323 with ``prestaties`` lines, two per client (generated, streamed)."""
    per_client = 2

    def clients():
        k = 0
        for c in range(prestaties // per_client):
            ps = []
            for j in range(per_client):
                ps.append(prestatie(f"R{k:08d}", 100000 + c, volume=10 + j))
                k += 1
            yield client(BSN if c % 2 == 0 else BSN2, ps)

    total = (prestaties // per_client) * sum(10 + j for j in range(per_client)) * 7980
    write_message(path, "JW323", jw323(clients=clients(), totaal=total), pretty=False)
    return total


MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from jzcli.importer import import_paths
    from jzcli.readers.prepared import ImportOptions
    from jzcli.store.store import Store

    def peak_kb():
        # VmHWM is this program's own peak; ru_maxrss also counts the RSS of the process it was
        # forked from (a pytest worker that grew), which Linux carries across exec
        try:
            with open("/proc/self/status") as fh:
                return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
        except (OSError, StopIteration):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    store = Store.open(sys.argv[1])
    before = peak_kb()
    start = time.perf_counter()
    [r] = import_paths(store, [Path(sys.argv[2])], ImportOptions())
    print(json.dumps({"status": r.status, "stored": r.stored, "message": r.message[:400], "before_kb": before,
                      "peak_kb": peak_kb(), "seconds": time.perf_counter() - start}))
    """
)


def test_a_25_mb_message_streams_within_a_few_hundred_mb(tmp_path):
    path = tmp_path / "groot.xml"
    _write_large(path, 45_000)
    size = path.stat().st_size
    assert 24_000_000 < size <= 25 * 1024 * 1024  # the iJw maximum (OP179)
    url = "sqlite:///" + str(tmp_path / "store.db")
    out = subprocess.run([sys.executable, "-c", MEASURE, url, str(path)], capture_output=True, text=True, check=True)
    m = json.loads(out.stdout)
    assert m["status"] == "imported" and m["stored"] == 45_000
    peak_mb, read_mb = m["peak_kb"] / 1024, (m["peak_kb"] - m["before_kb"]) / 1024
    print(
        f"\n25 MB JW323 ({size / 1e6:.1f} MB, 45,000 Prestaties): peak RSS {peak_mb:.0f} MB "
        f"(+{read_mb:.0f} MB for reading and storing), {m['seconds']:.1f} s"
    )
    assert peak_mb < 400
    store = Store.open(url)
    lines = store.declaraties(["rij", "referentienummer", "bedrag"])
    assert lines["rij"].is_monotonic_increasing and lines["rij"].iloc[-1] > 65535  # line numbers beyond 16 bits
    assert lines["referentienummer"].iloc[-1] == "R00044999"

    # an invalid message of that size: refused, the error located (the file is parsed whole)
    data = path.read_bytes()
    at = data.rfind(b"<ToewijzingNummer>")
    broken = tmp_path / "groot_fout.xml"
    broken.write_bytes(data[:at] + b"<ToewijzingNummer>-5" + data[at + len(b"<ToewijzingNummer>") + 6 :])
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, "sqlite:///" + str(tmp_path / "other.db"), str(broken)],
        capture_output=True,
        text=True,
        check=True,
    )
    m = json.loads(out.stdout)
    assert m["status"] == "error" and "level 1, 1 error" in m["message"]
    assert "/Bericht/Declaratie/Clienten/Client[22500]/Prestaties/Prestatie[2]/ToewijzingNummer" in m["message"]
    print(f"invalid 25 MB JW323: peak RSS {m['peak_kb'] / 1024:.0f} MB to locate the error, {m['seconds']:.1f} s")
    assert m["peak_kb"] / 1024 < 600
