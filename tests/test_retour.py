"""jzcli retour: JW325 answers to JW323 messages (built, imported, judged and answered for real,
then read back and checked against the XSD and TR337/TR342/TR366/TR367/TR371/TR376) and the
feedback workbook for spreadsheet declarations (reopened with openpyxl)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
from lxml import etree

from jzcli.engine.run import validate
from jzcli.output.feedback_xlsx import REJECTED_COLUMNS, SUMMARY_COLUMNS
from jzcli.output.xlsx import COUNT_FORMAT, DATE_FORMAT, EURO_FORMAT
from jzcli.output.xlsx import header as label
from jzcli.retour import build_feedback, retour
from validate_kit import AGB, BSNS, GEM, OTHER_AGB, TODAY, allocation_rows, declaration, import_files, line, setup

FORMULA = "=cmd|' /C calc'!A0"


# ============================================================================ feedback workbook
def _spreadsheets(tmp_path, db_url):
    """Two judged files of AGB (one with two rejected lines, one clean), one of OTHER_AGB (not
    contracted: every line rejected) and a third AGB file imported after validate (unjudged)."""
    first = [
        line(BSNS[0], ref="R-1"),  # row 2 approved
        line(BSNS[1], ref="FORMULA", tarief=95.00),  # row 3: TR418 (tariff), provider text "=cmd..."
        line(BSNS[2], ref="R-3"),  # row 4 approved
        line(BSNS[3], ref="R-4", dc="C", vorig="NOPE"),  # row 5: credit of an unknown debet (TR323)
    ]
    second = [line(BSNS[4], ref="R-5", decl="D2")]
    other = [line(BSNS[5], ref="O-1", agb=OTHER_AGB), line(BSNS[6], ref="O-2", agb=OTHER_AGB)]
    store = setup(db_url, tmp_path, extra_allocations=allocation_rows([*first, *second, *other]))
    files = [declaration(tmp_path / f"declaratie_{n}.xlsx", rows) for n, rows in enumerate((first, second, other), 1)]
    _text_cells(files[0], {"FORMULA": FORMULA})
    for path in files:  # batches 3, 4, 5
        import_files(store, path)
    validate(store, today=TODAY)
    import_files(store, declaration(tmp_path / "later.xlsx", [line(BSNS[7], ref="L-1", decl="D3")]))
    return store


def _text_cells(path: Path, texts: dict[str, str]) -> None:
    """Rewrite cells holding placeholder text as literal text cells (as Excel stores typed text)."""
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value in texts:
                    cell.value = texts[cell.value]
                    cell.data_type = "s"
    wb.save(path)


def _sheet_rows(ws) -> list[dict]:
    """Rows keyed by column key (the sheet's headers are the Dutch labels of those keys)."""
    from jzcli.output.xlsx import header as label

    keys = {label(k): k for k in [*SUMMARY_COLUMNS, *REJECTED_COLUMNS]}
    header = [keys.get(c.value, c.value) for c in ws[1]]
    return [dict(zip(header, row)) for row in ws.iter_rows(min_row=2)]


def test_feedback_workbook_per_aanbieder(tmp_path, db_url):
    store = _spreadsheets(tmp_path, db_url)
    out = tmp_path / "retour"
    result = retour(store, out, today=dt.date(2025, 4, 20))
    assert result.answers == [] and result.errors == []
    assert sorted(p.name for p in out.iterdir()) == [
        "feedback_98001101_2025-04-20.xlsx",
        "feedback_98009996_2025-04-20.xlsx",
    ]
    # the file imported after validate is skipped with a reason, never answered half
    assert [(s.bestand, s.reason) for s in result.skipped] == [
        ("later.xlsx", "1 of its lines are not judged yet: run jzcli validate first")
    ]

    wb = openpyxl.load_workbook(out / "feedback_98001101_2025-04-20.xlsx")
    assert wb.sheetnames == ["Samenvatting", "Afgekeurde regels", "Toelichting"]
    ws = wb["Samenvatting"]
    assert [c.value for c in ws[1]] == [label(c) for c in SUMMARY_COLUMNS]
    assert all(c.font.b for c in ws[1]) and ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:I3"  # the data rows; the total row below it
    rows = _sheet_rows(ws)
    # file 1: 4 lines, € 798,00 × 3 debet (one at € 950,00) − € 798,00 credit
    assert [r["bestand"].value for r in rows] == ["declaratie_1.xlsx", "declaratie_2.xlsx", "Totaal"]
    assert [r["regels"].value for r in rows] == [4, 1, 5]
    assert [r["ingediend"].value for r in rows] == [1748, 798, 2546]
    assert [r["goedgekeurd"].value for r in rows] == [1596, 798, 2394]
    assert [r["afgekeurd"].value for r in rows] == [152, 0, 152]  # 950 debet − 798 credit
    assert [r["afgekeurd_regels"].value for r in rows] == [2, 0, 2]
    assert all(r["ingediend"].number_format == EURO_FORMAT and r["ingediend"].data_type == "n" for r in rows)
    assert all(r["regels"].number_format == COUNT_FORMAT for r in rows)
    assert rows[-1]["bestand"].font.b and rows[0]["gemeente"].value == GEM

    ws = wb["Afgekeurde regels"]
    assert [c.value for c in ws[1]] == [label(c) for c in REJECTED_COLUMNS]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{ws.cell(row=1, column=ws.max_column).column_letter}3"
    rejected = _sheet_rows(ws)
    assert [(r["bestand"].value, r["blad"].value, r["rij"].value) for r in rejected] == [
        ("declaratie_1.xlsx", "Declaratie", 3),
        ("declaratie_1.xlsx", "Declaratie", 5),
    ]
    tariff, credit = rejected
    # the provider's own text stays text, never a formula
    assert tariff["referentienummer"].value == FORMULA and tariff["referentienummer"].data_type == "s"
    assert tariff["bsn"].value == BSNS[1] and tariff["bsn"].data_type == "s"  # in full: the file is for the provider
    assert (tariff["retourcode"].value, tariff["regel"].value) == ("0611", "TR418")
    assert tariff["omschrijving"].value.startswith("Het ingediende tarief komt niet overeen")
    assert "€ 95,00" in tariff["melding"].value and "€ 79,80" in tariff["melding"].value
    assert tariff["tarief"].value == 95 and tariff["tarief"].number_format == EURO_FORMAT
    assert tariff["bedrag"].value == 950 and tariff["debet_credit"].value == "D"
    assert tariff["begindatum"].value == dt.datetime(2025, 3, 1) and tariff["begindatum"].number_format == DATE_FORMAT
    assert tariff["einddatum"].value == dt.datetime(2025, 3, 31)
    assert tariff["volume"].value == 10 and tariff["eenheid"].value == "04" and tariff["productcode"].value == "45A48"
    assert tariff["melding"].alignment.wrap_text
    assert (credit["retourcode"].value, credit["regel"].value, credit["debet_credit"].value) == ("8017", "TR323", "C")
    assert credit["vorig_referentienummer"].value == "NOPE"

    notes = {r[0].value: r[1].value for r in wb["Toelichting"].iter_rows()}
    assert notes["Aanbieder"] == AGB and notes["Afgekeurde regels"] == 2

    # the other provider: every line rejected by jzcli's own contract code, one row per line
    wb = openpyxl.load_workbook(out / "feedback_98009996_2025-04-20.xlsx")
    rejected = _sheet_rows(wb["Afgekeurde regels"])
    assert [r["rij"].value for r in rejected] == [2, 3]
    assert all("JZ-C01" in r["regel"].value.split("\n") for r in rejected)
    summary = _sheet_rows(wb["Samenvatting"])
    assert (summary[0]["regels"].value, summary[0]["goedgekeurd_regels"].value, summary[0]["afgekeurd"].value) == (
        2,
        0,
        1596,
    )


def test_feedback_filters(tmp_path, db_url):
    store = _spreadsheets(tmp_path, db_url)
    feedback, _ = build_feedback(store, aanbieder=[OTHER_AGB])
    assert [f.aanbieder for f in feedback] == [OTHER_AGB]
    feedback, skipped = build_feedback(store, batch=[4])
    assert [(f.aanbieder, list(f.summary["batch"])) for f in feedback] == [(AGB, [4])] and skipped == []
    feedback, _ = build_feedback(store, gemeente=["0376"])
    assert feedback == []


def test_cli_retour_feedback_and_nothing_to_answer(tmp_path, db_url, cli):
    store = _spreadsheets(tmp_path, db_url)
    store.close()
    out = tmp_path / "antwoorden" / "2025-03"
    r = cli("retour", "-o", out, "--db", db_url)
    assert r.exit_code == 0, r.output
    today = dt.date.today().isoformat()
    assert f"feedback_{AGB}_{today}.xlsx" in r.stdout and f"feedback_{OTHER_AGB}_{today}.xlsx" in r.stdout
    assert "later.xlsx" in r.stderr and "not judged yet" in r.stderr
    assert "wrote 2 files" in r.stderr
    for bsn in BSNS:
        assert bsn not in r.output  # BSNs never in terminal output
    assert (out / f"feedback_{AGB}_{today}.xlsx").exists()

    # nothing in scope: says so, exit 0, no folder created
    empty = tmp_path / "leeg"
    r = cli("retour", "-o", empty, "--gemeente", "Blaricum", "--db", db_url)
    assert r.exit_code == 0 and "Nothing to answer" in r.stderr and not empty.exists()

    # -o names a file: exit 3
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    r = cli("retour", "-o", afile, "--db", db_url)
    assert r.exit_code == 3 and "is a file" in r.stderr
    r = cli("retour", "-o", out, "--aanbieder", "12ab", "--db", db_url)
    assert r.exit_code == 2


# ============================================================================ JW325 answers
NS = {
    "a": "http://www.istandaarden.nl/ijw/3_2/jw325/schema",
    "d": "http://www.istandaarden.nl/ijw/3_2/jw323/schema",
    "ijw": "http://www.istandaarden.nl/ijw/3_2/basisschema/schema",
}
ANSWER_DAY = dt.date(2025, 4, 20)


def _allocations(clients: list[tuple[str, str]]):
    """Kit allocation rows for (bsn, productcode) pairs: toewijzingnummer 900001, 900002, ... in order."""
    return allocation_rows([line(bsn, code) for bsn, code in clients])


def _xml_messages(tmp_path, db_url):
    """Five JW323 messages built from the XSD by tests/ijw_builders.py, imported for real:
    A all approved, B line rejections, C a DeclaratieNummer used before (9333), D a BSN that fails
    the 11-proef (level 2, 0001); E is imported after validate (not judged)."""
    from ijw_builders import BAD_BSN, client, credit, prestatie, write_jw323

    pairs = [
        (BSNS[0], "45A48"),
        (BSNS[1], "45A48"),
        (BSNS[2], "45A48"),
        (BSNS[3], "45A49"),
        (BSNS[4], "45E01"),
        (BSNS[5], "54M01"),
        (BSNS[6], "45A48"),
    ]
    store = setup(db_url, tmp_path, extra_allocations=_allocations(pairs))
    t = {bsn: 900001 + i for i, (bsn, _c) in enumerate(pairs)}
    files = {}
    files["A"] = write_jw323(
        tmp_path / "a.xml",
        header={"identificatie": "MSG-A"},
        declaratienummer="DA",
        clients=[
            client(BSNS[0], [prestatie("A1", t[BSNS[0]])]),
            client(BSNS[1], [prestatie("A2", t[BSNS[1]], volume=4)]),
        ],
    )
    files["B"] = write_jw323(
        tmp_path / "b.xml",
        header={"identificatie": "MSG-B"},
        declaratienummer="DB",
        clients=[
            # client 0: one approved, one at the wrong tariff (TR418 → 0611)
            client(
                BSNS[0],
                [
                    prestatie("B1", t[BSNS[0]], dt.date(2025, 2, 1), dt.date(2025, 2, 28)),
                    prestatie("B2", t[BSNS[0]], volume=3, tarief=9500),
                ],
            ),
            # client 2: approved only → not in the answer
            client(BSNS[2], [prestatie("B3", t[BSNS[2]])]),
            # client 3: a credit of a debet never approved (TR323 → 8017)
            client(BSNS[3], [credit(prestatie("X9", t[BSNS[3]], productcode="45A49", tarief=5200), "B4")]),
            # client 4: eenheid 83 (no ProductTarief) on another client's allocation (TR304 → 8187, ...)
            client(BSNS[4], [prestatie("B5", t[BSNS[0]], productcode="45E01", eenheid="83", volume=12345)]),
            # client 5: a product with a tariff but out of the contract's validity for this gemeente: jzcli's own code
            client(
                BSNS[5],
                [
                    prestatie(
                        "B6",
                        t[BSNS[5]],
                        productcategorie="54",
                        productcode="54M01",
                        tarief=8730,
                        begindatum=dt.date(2024, 12, 1),
                        einddatum=dt.date(2024, 12, 31),
                    )
                ],
            ),
        ],
    )
    files["C"] = write_jw323(
        tmp_path / "c.xml",
        header={"identificatie": "MSG-C"},
        declaratienummer="DA",
        clients=[client(BSNS[6], [prestatie("C1", t[BSNS[6]])])],
    )
    files["D"] = write_jw323(
        tmp_path / "d.xml",
        header={"identificatie": "MSG-D"},
        declaratienummer="DD",
        clients=[
            client(BSNS[1], [prestatie("D1", t[BSNS[1]], volume=2)]),
            client(BAD_BSN, [prestatie("D2", t[BSNS[1]], volume=1)]),
        ],
    )
    for key in "ABCD":  # batches 3, 4, 5, 6
        import_files(store, files[key])
    validate(store, today=TODAY)
    files["E"] = write_jw323(
        tmp_path / "e.xml",
        header={"identificatie": "MSG-E"},
        declaratienummer="DE",
        clients=[client(BSNS[6], [prestatie("E1", t[BSNS[6]], volume=1)])],
    )
    import_files(store, files["E"])
    return store, files


def _leaves(el, prefix: str = "") -> list[tuple[str, str]]:
    """(path of local names, text) of every leaf below ``el``, in document order."""
    out = []
    for child in el:
        name = prefix + "/" + etree.QName(child).localname
        if len(child):
            out += _leaves(child, name)
        else:
            out.append((name, (child.text or "").strip()))
    return out


def _signed(el) -> int:
    amount = int(el[0].text)
    return -amount if el[1].text == "C" else amount


def _check_answer(path: Path, source: Path) -> tuple:
    """Everything that must hold for every answer; returns (root 325, root 323)."""
    from jzcli import ijw

    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n')
    assert data.count(b"\n") == data.count(b"\r\n")  # CR/LF line ends only (OP192)
    assert ijw.validate_xsd(path, "JW325") == []
    a = etree.parse(str(path)).getroot()
    d = etree.parse(str(source)).getroot()
    h = a.find("a:Header", NS)
    assert [
        h.findtext(f"a:{k}", namespaces=NS)
        for k in ("BerichtCode", "BerichtVersie", "BerichtSubversie", "Afzender", "Ontvanger")
    ] == ["491", "3", "2", GEM, AGB]
    ident = h.findtext("a:BerichtIdentificatie/ijw:Identificatie", namespaces=NS)
    assert 1 <= len(ident) <= 12
    assert h.findtext("a:BerichtIdentificatie/ijw:Dagtekening", namespaces=NS) == ANSWER_DAY.isoformat()
    assert [
        h.findtext(f"a:XsdVersie/ijw:{k}", namespaces=NS) for k in ("BasisschemaXsdVersie", "BerichtXsdVersie")
    ] == list(ijw.xsd_versions("JW325"))
    # TR337: DeclaratieIdentificatie = the 323's BerichtIdentificatie; TR371: XsdVersieDeclaratie = its XsdVersie
    dh = d.find("d:Header", NS)
    assert _leaves(h.find("a:DeclaratieIdentificatie", NS)) == _leaves(dh.find("d:BerichtIdentificatie", NS))
    assert _leaves(h.find("a:XsdVersieDeclaratie", NS)) == _leaves(dh.find("d:XsdVersie", NS))
    da = a.find("a:DeclaratieAntwoord", NS)
    if da is None:
        return a, d
    decl = d.find("d:Declaratie", NS)
    # TR376: the declaration answered; TotaalIngediendBedrag copied
    assert da.findtext("a:DeclaratieNummer", namespaces=NS) == decl.findtext("d:DeclaratieNummer", namespaces=NS)
    assert _leaves(da.find("a:TotaalIngediendBedrag", NS)) == _leaves(decl.find("d:TotaalIngediendBedrag", NS))
    # TR366/TR367: every answered Prestatie exists in the 323 under the same client, all values equal
    sent = {}
    for c in decl.iterfind("d:Clienten/d:Client", NS):
        for p in c.iterfind("d:Prestaties/d:Prestatie", NS):
            sent[
                (
                    c.findtext("d:Bsn", namespaces=NS),
                    p.findtext("d:ProductReferentie/ijw:ReferentieNummer", namespaces=NS),
                )
            ] = _leaves(p)
    rejected = 0
    for c in da.iterfind("a:Clienten/a:Client", NS):
        assert [x.text for x in c.iterfind("a:RetourCodes/a:RetourCode", NS)] == ["0200"]
        for p in c.iterfind("a:Prestaties/a:Prestatie", NS):
            key = (
                c.findtext("a:Bsn", namespaces=NS),
                p.findtext("a:ProductReferentie/ijw:ReferentieNummer", namespaces=NS),
            )
            assert key in sent, key
            assert [leaf for leaf in _leaves(p) if not leaf[0].startswith("/RetourCodes")] == sent[key]
            codes = [x.text for x in p.iterfind("a:RetourCodes/a:RetourCode", NS)]
            assert codes and len(codes) == len(set(codes))
            rejected += _signed(p.find("a:IngediendBedrag", NS))
    # TR342: Σ rejected D − Σ rejected C = TotaalIngediend − TotaalToegekend (signed)
    ingediend = _signed(da.find("a:TotaalIngediendBedrag", NS))
    toegekend = _signed(da.find("a:TotaalToegekendBedrag", NS))
    codes = [x.text for x in da.iterfind("a:RetourCodes/a:RetourCode", NS)]
    if codes in (["0200"], ["8001"]):
        assert rejected == ingediend - toegekend
    else:
        assert toegekend == 0 and da.find("a:Clienten", NS) is None
    return a, d


def _codes(el, where: str) -> list[str]:
    return [x.text for x in el.iterfind(where + "/a:RetourCodes/a:RetourCode", NS)]


def test_jw325_for_every_case(tmp_path, db_url):
    store, files = _xml_messages(tmp_path, db_url)
    out = tmp_path / "retour"
    result = retour(store, out, today=ANSWER_DAY)
    assert result.errors == [] and result.feedback == []
    assert [(s.bestand, s.reason) for s in result.skipped] == [
        ("e.xml", "1 of its lines are not judged yet: run jzcli validate first")
    ]
    by_decl = {a.bestand: a for a in result.answers}
    assert sorted(by_decl) == ["a.xml", "b.xml", "c.xml", "d.xml"]
    assert len({a.identificatie for a in result.answers}) == 4  # unique per sender
    assert sorted(p.name for p in out.iterdir()) == sorted(a.filename for a in result.answers)
    roots = {}
    for name, answer in by_decl.items():
        assert answer.path == out / answer.filename
        assert answer.filename == f"JW325_{GEM}_{AGB}_{answer.declaratienummer}_{answer.identificatie}.xml"
        roots[name] = _check_answer(answer.path, files[name[0].upper()])[0]

    # A: everything approved → 0200 / 8001, toegekend = ingediend, no Clienten
    a = roots["a.xml"]
    assert _codes(a, "a:Header") == ["0200"] and _codes(a, "a:DeclaratieAntwoord") == ["8001"]
    assert a.find("a:Header/a:XsltVersie", NS) is None
    da = a.find("a:DeclaratieAntwoord", NS)
    assert _leaves(da.find("a:TotaalToegekendBedrag", NS)) == _leaves(da.find("a:TotaalIngediendBedrag", NS))
    assert da.find("a:Clienten", NS) is None
    assert (by_decl["a.xml"].goedgekeurd, by_decl["a.xml"].afgekeurd, by_decl["a.xml"].toegekend) == (2, 0, 14 * 7980)

    # B: line rejections → 0200 / 0200, only clients with a rejected line, each Prestatie with its codes
    b = roots["b.xml"]
    assert _codes(b, "a:Header") == ["0200"] and _codes(b, "a:DeclaratieAntwoord") == ["0200"]
    clients = b.findall("a:DeclaratieAntwoord/a:Clienten/a:Client", NS)
    assert [c.findtext("a:Bsn", namespaces=NS) for c in clients] == [BSNS[0], BSNS[3], BSNS[4], BSNS[5]]
    per_ref = {
        p.findtext("a:ProductReferentie/ijw:ReferentieNummer", namespaces=NS): p
        for c in clients
        for p in c.iterfind("a:Prestaties/a:Prestatie", NS)
    }
    assert sorted(per_ref) == ["B2", "B4", "B5", "B6"]
    assert "0611" in _codes(per_ref["B2"], ".")
    assert "8017" in _codes(per_ref["B4"], ".")
    assert per_ref["B4"].findtext("a:ProductReferentie/ijw:VorigReferentieNummer", namespaces=NS) == "X9"
    assert per_ref["B4"].findtext("a:IngediendBedrag/ijw:DebetCredit", namespaces=NS) == "C"
    assert "8187" in _codes(per_ref["B5"], ".") and per_ref["B5"].find("a:ProductTarief", NS) is None
    assert all(len(code) == 4 for p in per_ref.values() for code in _codes(p, "."))  # never a JZ- code
    ingediend = 10 * 7980 + 10 * 7980 + 3 * 9500 - 10 * 5200 + 12345 + 10 * 8730
    answer = by_decl["b.xml"]
    assert answer.ingediend == ingediend and answer.afgekeurd == 4 and answer.goedgekeurd == 2
    assert answer.toegekend == 20 * 7980  # B1 and B3
    toegekend = b.find("a:DeclaratieAntwoord/a:TotaalToegekendBedrag", NS)
    assert (int(toegekend[0].text), toegekend[1].text) == (20 * 7980, "D")

    # C: DeclaratieNummer used before (TR333) → 0200 / 9333, toegekend 0 D
    c = roots["c.xml"]
    assert _codes(c, "a:Header") == ["0200"] and _codes(c, "a:DeclaratieAntwoord") == ["9333"]
    toegekend = c.find("a:DeclaratieAntwoord/a:TotaalToegekendBedrag", NS)
    assert (toegekend[0].text, toegekend[1].text) == ("0", "D")
    assert (by_decl["c.xml"].goedgekeurd, by_decl["c.xml"].afgekeurd) == (0, 1)

    # D: a level-2 rule (CS002) → Header 0001 only, XsltVersie, no DeclaratieAntwoord
    d = roots["d.xml"]
    assert _codes(d, "a:Header") == ["0001"]
    assert d.findtext("a:Header/a:XsltVersie", namespaces=NS)
    assert d.find("a:DeclaratieAntwoord", NS) is None
    assert (by_decl["d.xml"].goedgekeurd, by_decl["d.xml"].afgekeurd, by_decl["d.xml"].toegekend) == (0, 2, 0)

    # the same verdicts give the same answers (stable identification), narrowed by --batch/--aanbieder
    again = retour(store, tmp_path / "again", batch=[3], today=ANSWER_DAY)
    assert [a.identificatie for a in again.answers] == [by_decl["a.xml"].identificatie]
    assert (tmp_path / "again" / by_decl["a.xml"].filename).read_bytes() == by_decl["a.xml"].path.read_bytes()
    assert retour(store, tmp_path / "none", aanbieder=[OTHER_AGB], today=ANSWER_DAY).answers == []


def test_cli_retour_jw325(tmp_path, db_url, cli):
    store, _files = _xml_messages(tmp_path, db_url)
    store.close()
    out = tmp_path / "antwoorden"
    r = cli("retour", "-o", out, "--gemeente", "Huizen", "--db", db_url)
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 4 and all(n.startswith(f"JW325_{GEM}_{AGB}_") for n in names)
    for n in names:
        assert n in r.stdout
    assert (
        "8001 volledig toegekend" in r.stdout
        and "9333 declaratie afgekeurd" in r.stdout
        and "0001 bericht afgekeurd" in r.stdout
    )
    assert "e.xml" in r.stderr and "not judged yet" in r.stderr
    from ijw_builders import BAD_BSN

    for bsn in [*BSNS, BAD_BSN]:
        assert bsn not in r.output


def test_jw325_header_code_of_a_level_4_rule(tmp_path, db_url):
    """An unknown gemeente in the header (TR378, level 4) → Header with S300 only, no DeclaratieAntwoord."""
    from ijw_builders import client, prestatie, write_jw323
    from jzcli import ijw

    store = setup(db_url, tmp_path, extra_allocations=_allocations([(BSNS[0], "45A48")]))
    path = write_jw323(
        tmp_path / "f.xml",
        header={"identificatie": "MSG-F", "ontvanger": "9999"},
        declaratienummer="DF",
        clients=[client(BSNS[0], [prestatie("F1", 900001)])],
    )
    import_files(store, path)
    validate(store, today=TODAY)
    result = retour(store, tmp_path / "out", today=ANSWER_DAY)
    (answer,) = result.answers
    assert (answer.uitkomst, answer.header_codes, answer.toegekend) == ("header afgekeurd", ["S300"], 0)
    assert answer.filename.startswith("JW325_9999_98001101_DF_")
    assert ijw.validate_xsd(answer.path, "JW325") == []
    root = etree.parse(str(answer.path)).getroot()
    assert _codes(root, "a:Header") == ["S300"]
    assert root.find("a:Header/a:XsltVersie", NS) is None and root.find("a:DeclaratieAntwoord", NS) is None
    assert root.findtext("a:Header/a:Afzender", namespaces=NS) == "9999"


def test_xml_codes_and_identification():
    import pandas as pd

    from jzcli.retour import identificatie_325, max_retourcodes, retourcodes_325, xml_codes

    codes = pd.Series(["0611", "JZ-C01", "JZ-C02", "JZ-C03", "JZ-I01", "JZ-X99", "S329"])
    assert xml_codes(codes).tolist() == ["0611", "0611", "9341", "9338", "0233", "0233", "S329"]
    assert {"0001", "0200", "0233", "8001", "9333", "S300"} <= retourcodes_325()
    assert max_retourcodes() is None  # JW325.xsd: RetourCode maxOccurs="unbounded"
    assert identificatie_325(12, 3) == "JZ12R3"
    long = identificatie_325(123_456_789, 12)
    assert long == "JZ21I3V9RC" and len(long) <= 12


def test_cli_retour_invalid_answer_is_not_written(tmp_path, db_url, cli, monkeypatch):
    store, _files = _xml_messages(tmp_path, db_url)
    store.close()
    monkeypatch.setattr("jzcli.retour.validate_325", lambda tree: ["line 3, /Bericht/Header: broken on purpose"])
    out = tmp_path / "antwoorden"
    r = cli("retour", "-o", out, "--db", db_url)
    assert r.exit_code == 3
    assert (
        "does not validate against JW325.xsd and was not written: line 3, /Bericht/Header: broken on purpose"
        in r.stderr
    )
    assert not list(out.glob("*.xml")) and not list(out.glob(".*.tmp"))
