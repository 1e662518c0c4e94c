"""jzcli export jw323: spreadsheet lines → JW323 messages that pass the XSD and the level-2 rules
when read back, with the provider's own or stable generated references."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from lxml import etree

from jzcli import ijw
from jzcli.domain.lines import FIELDS
from jzcli.engine.load import load_lines
from jzcli.engine.run import validate
from jzcli.importer import import_paths
from jzcli.readers.prepared import ImportOptions
from jzcli.store.store import Store
from validate_kit import ALLOCATION_HEADER, BAD_BSN, BSNS, CONTRACT, allocation_rows, declaration, line, write_xlsx

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
HUIZEN_03 = SAMPLES / "huizen_zorgfirst_2025-03.xlsx"
DAG = "2025-04-02"
NS = ijw.bericht("JW323").namespace
X = {"m": NS, "ijw": ijw.BASIS_NS}


def _xml(path: Path) -> etree._Element:
    return etree.parse(str(path)).getroot()


def _messages(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.xml"))


def _prestaties(root) -> list[dict]:
    out = []
    for client in root.iterfind("m:Declaratie/m:Clienten/m:Client", X):
        bsn = client.findtext("m:Bsn", namespaces=X)
        for p in client.iterfind("m:Prestaties/m:Prestatie", X):
            out.append(
                {
                    "bsn": bsn,
                    "ref": p.findtext("m:ProductReferentie/ijw:ReferentieNummer", namespaces=X),
                    "vorig": p.findtext("m:ProductReferentie/ijw:VorigReferentieNummer", namespaces=X),
                    "nummer": p.findtext("m:ToewijzingNummer", namespaces=X),
                    "begin": p.findtext("m:ProductPeriode/ijw:Begindatum", namespaces=X),
                    "tarief": p.findtext("m:ProductTarief", namespaces=X),
                    "bedrag": int(p.findtext("m:IngediendBedrag/ijw:Bedrag", namespaces=X)),
                    "dc": p.findtext("m:IngediendBedrag/ijw:DebetCredit", namespaces=X),
                }
            )
    return out


def _total(root) -> int:
    amount = int(root.findtext("m:Declaratie/m:TotaalIngediendBedrag/ijw:TotaalBedrag", namespaces=X))
    return (
        -amount
        if root.findtext("m:Declaratie/m:TotaalIngediendBedrag/ijw:DebetCredit", namespaces=X) == "C"
        else amount
    )


def _contract(tmp_path: Path) -> Path:
    path = tmp_path / "contract.toml"
    path.write_text(CONTRACT, encoding="utf-8")
    return path


# ============================================================================ the sample
def test_the_huizen_sample_becomes_one_valid_march_message(tmp_path, cli):
    out = tmp_path / "berichten"
    r = cli("export", "jw323", HUIZEN_03, "-o", out, "--dagtekening", DAG, "-q")
    assert r.exit_code == 0, r.output
    files = _messages(out)
    assert [f.name for f in files] == ["JW323_98001101_0406_202503_ZF202503.xml"]
    data = files[0].read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n')
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")  # CR/LF only (OP192)
    assert ijw.validate_xsd(files[0], "JW323") == []

    root = _xml(files[0])
    h = lambda p: root.findtext(p, namespaces=X)  # noqa: E731
    assert (h("m:Header/m:BerichtCode"), h("m:Header/m:BerichtVersie"), h("m:Header/m:BerichtSubversie")) == (
        "490",
        "3",
        "2",
    )
    assert (h("m:Header/m:Afzender"), h("m:Header/m:Ontvanger")) == ("98001101", "0406")
    assert (
        h("m:Header/m:XsdVersie/ijw:BasisschemaXsdVersie"),
        h("m:Header/m:XsdVersie/ijw:BerichtXsdVersie"),
    ) == ijw.xsd_versions("JW323")
    ident = h("m:Header/m:BerichtIdentificatie/ijw:Identificatie")
    assert re.fullmatch(r"[A-Z0-9]{1,12}", ident)
    assert h("m:Header/m:BerichtIdentificatie/ijw:Dagtekening") == DAG == h("m:Declaratie/m:DeclaratieDagtekening")
    assert h("m:Declaratie/m:DeclaratieNummer") == "ZF202503"  # the provider's own
    assert (
        h("m:Declaratie/m:DeclaratiePeriode/ijw:Begindatum"),
        h("m:Declaratie/m:DeclaratiePeriode/ijw:Einddatum"),
    ) == ("2025-03-01", "2025-03-31")

    p = _prestaties(root)
    assert len(p) == 25 and {x["ref"] for x in p} == {f"ZF2503{n:04d}" for n in range(1, 26)}  # own references kept
    # late lines (rows 4, 5, 11, 15, 16: January/February) travel in the March message
    assert sorted({x["begin"][:7] for x in p}) == ["2025-01", "2025-02", "2025-03"]
    # clients grouped: each BSN once
    bsns = [c.findtext("m:Bsn", namespaces=X) for c in root.iterfind("m:Declaratie/m:Clienten/m:Client", X)]
    assert len(bsns) == len(set(bsns)) == 17
    assert _total(root) == sum(x["bedrag"] if x["dc"] == "D" else -x["bedrag"] for x in p)
    row20 = next(x for x in p if x["ref"] == "ZF25030019")
    assert (row20["tarief"], row20["bedrag"]) == (
        "9500",
        76000,
    )  # cents, as written (the TR418 mistake is check's business)
    assert "25 of 25 lines exported" in r.stdout


def test_round_trip_gives_the_same_lines_and_no_level2_rejection(tmp_path, cli, db_url):
    """Spreadsheet → export jw323 → import → validate: the lines of the message are the lines of
    the spreadsheet, and the message is not rejected as a whole (no 0001); the line rejections are
    the sample's own planted ones."""
    out = tmp_path / "berichten"
    assert cli("export", "jw323", HUIZEN_03, "-o", out, "-q").exit_code == 0
    message = _messages(out)[0]

    xml_store = Store.open(db_url)
    try:
        for path in (SAMPLES / "contract_gooi-en-vechtstreek_2025.toml", SAMPLES / "toewijzingen_2025.xlsx", message):
            res = import_paths(xml_store, [path], ImportOptions())
            assert res[0].status == "imported", res[0].message
        from_xml = load_lines(xml_store)
        result = validate(xml_store)
    finally:
        xml_store.close()
    assert not (result.findings["retourcode"] == "0001").any(), result.findings[["rij", "regel", "melding"]]
    rejected = dict(
        zip(result.findings["regel_id"].map(from_xml.set_index("id")["referentienummer"]), result.findings["regel"])
    )
    assert rejected == {"ZF25030012": "TR308", "ZF25030019": "TR418"}  # rows 13 and 20 of the spreadsheet

    sheet_store = Store.open("sqlite:///" + str(tmp_path / "sheet.db"))
    try:
        import_paths(sheet_store, [HUIZEN_03], ImportOptions())
        from_sheet = load_lines(sheet_store)
    finally:
        sheet_store.close()
    compare = [f for f in FIELDS if f != "declaratienummer"]
    a = from_sheet[compare].sort_values("referentienummer").reset_index(drop=True)
    b = from_xml[compare].sort_values("referentienummer").reset_index(drop=True)
    a["toewijzingnummer"] = a["toewijzingnummer"].str.lstrip("0")
    assert a.astype(str).equals(b.astype(str))
    assert set(from_xml["declaratienummer"]) == {"ZF202503"}


def test_samples_without_toewijzingnummer_are_listed_and_left_out(tmp_path, cli):
    out = tmp_path / "berichten"
    files = [
        SAMPLES / "blaricum_jeugdzorg-de-horizon_2025-03.csv",
        SAMPLES / "laren-huizen_kindcentrum-t-gooi_2025-02.xlsx",
        SAMPLES / "enschede_twentezorg_2025.xlsx",
    ]
    r = cli("export", "jw323", *files, "-o", out, "--aanbieder", "98001202", "--format", "json", "-q")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["berichten"] == [] and data["geexporteerd"] == 0 and data["regels"] == 44
    assert _messages(out) == []
    left = {(x["bron"], x["blad"], x["rij"]): x["reden"] for x in data["weggelaten"]}
    assert len(left) == 44
    assert "no toewijzingnummer" in left[("blaricum_jeugdzorg-de-horizon_2025-03.csv", None, 2)]
    assert "no productcategorie" in left[("blaricum_jeugdzorg-de-horizon_2025-03.csv", None, 2)]
    assert "'stuks'" in left[("blaricum_jeugdzorg-de-horizon_2025-03.csv", None, 8)]  # unreadable value named
    bad = left[("laren-huizen_kindcentrum-t-gooi_2025-02.xlsx", "Huizen", 11)]
    assert "bsn *****0398 fails the 11-proef" in bad and BAD_BSN not in r.stdout
    assert all("no toewijzingnummer" in v for v in left.values())

    r = cli("export", "jw323", *files, "-o", out, "--aanbieder", "98001202", "-q")
    assert r.exit_code == 1 and "No message was written" in r.stdout and "Lines left out (44 of 44" in r.stdout
    assert BAD_BSN not in r.stdout


# ============================================================================ test-written files
AGB2 = "98001303"


def test_generated_references_are_unique_stable_and_differ_between_files(tmp_path, cli):
    rows_a = [line(BSNS[i], nummer=f"90000{i}") for i in range(4)] + [
        line(BSNS[0], nummer="900000")
    ]  # the same line twice
    rows_b = [line(BSNS[i], nummer=f"90000{i}") for i in range(4)]  # the same content as file a, another file
    a = declaration(tmp_path / "a.xlsx", rows_a)
    b = declaration(tmp_path / "b.xlsx", rows_b)
    dup = cli("export", "jw323", a, "-o", tmp_path / "x", "--dagtekening", DAG, "--format", "json", "-q")
    assert dup.exit_code == 1  # the repeated line: TR416 in one message
    assert (
        "TR416" in json.loads(dup.stdout)["weggelaten"][0]["reden"]
        and "row 2" in json.loads(dup.stdout)["weggelaten"][0]["reden"]
    )

    refs, ids = {}, {}
    for name, src in (("a", a), ("a_again", a), ("b", b)):
        folder = tmp_path / name
        cli("export", "jw323", src, "-o", folder, "--dagtekening", DAG, "-q")
        [msg] = _messages(folder)
        root = _xml(msg)
        refs[name] = [x["ref"] for x in _prestaties(root)]
        ids[name] = (
            root.findtext("m:Header/m:BerichtIdentificatie/ijw:Identificatie", namespaces=X),
            root.findtext("m:Declaratie/m:DeclaratieNummer", namespaces=X),
        )
        assert all(re.fullmatch(r"JZ[0-9A-Z]{18}", ref) for ref in refs[name])
        assert all(re.fullmatch(r"[A-Za-z0-9]{1,12}", i) for i in ids[name])
    assert len(set(refs["a"])) == 4
    assert refs["a"] == refs["a_again"] and ids["a"] == ids["a_again"]  # stable
    assert (tmp_path / "a" / _messages(tmp_path / "a")[0].name).read_bytes() == _messages(tmp_path / "a_again")[
        0
    ].read_bytes()
    assert not set(refs["a"]) & set(refs["b"])  # never repeated across files
    assert ids["a"][0] != ids["b"][0] and ids["a"][1] != ids["b"][1]


def test_one_message_per_aanbieder_and_gemeente_and_the_provider_numbers(tmp_path, cli):
    rows = [
        line(BSNS[0], nummer="1", ref="H1", decl="DEC1"),
        line(BSNS[0], code="45A49", nummer="2", ref="H2", decl="DEC1"),
        line(BSNS[1], nummer="3", ref="H3", decl="DEC1"),
        line(BSNS[2], nummer="4", ref="B1", decl="DEC1", gemeente="0376"),
        line(BSNS[3], nummer="5", ref="O1", decl="OTHER-12345678", agb=AGB2),
    ]
    out = tmp_path / "o"
    r = cli(
        "export",
        "jw323",
        declaration(tmp_path / "d.xlsx", rows),
        "-o",
        out,
        "--dagtekening",
        DAG,
        "--format",
        "json",
        "-q",
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    got = {(m["aanbieder"], m["gemeente"]): m for m in data["berichten"]}
    assert set(got) == {("98001101", "0406"), ("98001101", "0376"), (AGB2, "0406")}
    # DEC1 is used by two messages of one aanbieder, OTHER-12345678 is not letters/digits only: generated
    assert all(m["declaratienummer"].startswith("JZ") and len(m["declaratienummer"]) == 12 for m in data["berichten"])
    assert (
        len({m["declaratienummer"] for m in data["berichten"]}) == 3
        and len({m["berichtidentificatie"] for m in data["berichten"]}) == 3
    )
    huizen = _xml(out / got[("98001101", "0406")]["file"].split("/")[-1])
    clients = huizen.findall("m:Declaratie/m:Clienten/m:Client", X)
    assert [len(c.findall("m:Prestaties/m:Prestatie", X)) for c in clients] == [2, 1]
    for f in _messages(out):
        assert ijw.validate_xsd(f, "JW323") == []

    single = [line(BSNS[0], nummer="1", ref="H1", decl="DEC1"), line(BSNS[1], nummer="3", ref="H3", decl="DEC1")]
    r = cli(
        "export",
        "jw323",
        declaration(tmp_path / "s.xlsx", single),
        "-o",
        tmp_path / "s",
        "--dagtekening",
        DAG,
        "--format",
        "json",
        "-q",
    )
    assert json.loads(r.stdout)["berichten"][0]["declaratienummer"] == "DEC1"


def test_credits_totals_and_late_lines(tmp_path, cli):
    feb = (dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    rows = [
        line(BSNS[0], nummer="1", ref="N1"),  # March debet € 798,00
        line(BSNS[1], nummer="2", ref="N2", begin=feb[0], end=feb[1], volume=2),  # a late February debet € 159,60
        line(BSNS[2], nummer="3", ref="C1", vorig="OLD7", dc="C", volume=20),  # credit € 1.596,00 of an earlier line
        line(BSNS[3], nummer="4", ref="C2", dc="C"),  # credit without VorigReferentieNummer: left out
        line(BSNS[4], nummer="5", ref="N5"),  # debet ...
        line(BSNS[4], nummer="5", ref="C5", vorig="N5", dc="C"),  # ... and its own credit: both left out (TR316)
    ]
    out = tmp_path / "o"
    r = cli(
        "export",
        "jw323",
        declaration(tmp_path / "d.xlsx", rows),
        "-o",
        out,
        "--dagtekening",
        DAG,
        "--format",
        "json",
        "-q",
    )
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["declaratieperiode"] == "2025-03"
    left = {x["rij"]: x["reden"] for x in data["weggelaten"]}
    assert set(left) == {5, 6, 7}
    assert "without VorigReferentieNummer" in left[5] and "TR316" in left[6] and "TR316" in left[7]
    [msg] = _messages(out)
    root = _xml(msg)
    p = {x["ref"]: x for x in _prestaties(root)}
    assert set(p) == {"N1", "N2", "C1"}
    assert p["C1"]["dc"] == "C" and p["C1"]["vorig"] == "OLD7" and p["N1"]["vorig"] is None
    assert p["N2"]["begin"] == "2025-02-01"  # late line in the March message
    assert _total(root) == 79800 + 15960 - 159600
    assert root.findtext("m:Declaratie/m:TotaalIngediendBedrag/ijw:DebetCredit", namespaces=X) == "C"
    assert ijw.validate_xsd(msg, "JW323") == []

    # --periode February: the March lines are after the period and left out; February alone is declared
    r = cli(
        "export",
        "jw323",
        declaration(tmp_path / "d2.xlsx", rows[:3]),
        "-o",
        tmp_path / "feb",
        "--periode",
        "2025-02",
        "--dagtekening",
        DAG,
        "--format",
        "json",
        "-q",
    )
    data = json.loads(r.stdout)
    assert data["declaratieperiode"] == "2025-02" and [m["prestaties"] for m in data["berichten"]] == [1]
    assert {x["rij"] for x in data["weggelaten"]} == {2, 4}
    assert all("after the declaration period 2025-02" in x["reden"] for x in data["weggelaten"])


def test_a_zero_total_is_debet(tmp_path, cli):
    rows = [
        line(BSNS[0], nummer="1", ref="N1"),
        line(BSNS[1], nummer="2", ref="C1", vorig="OLD", dc="C"),
    ]  # € 798,00 − € 798,00
    out = tmp_path / "o"
    assert (
        cli("export", "jw323", declaration(tmp_path / "d.xlsx", rows), "-o", out, "--dagtekening", DAG, "-q").exit_code
        == 0
    )
    root = _xml(_messages(out)[0])
    assert (
        _total(root) == 0 and root.findtext("m:Declaratie/m:TotaalIngediendBedrag/ijw:DebetCredit", namespaces=X) == "D"
    )


def test_lines_that_cannot_be_a_prestatie_are_left_out_with_their_reasons(tmp_path, cli):
    rows = [
        line(BSNS[0], nummer="1", ref="OK1"),
        line(BSNS[1], ref="R2"),  # no toewijzingnummer
        line(BAD_BSN, nummer="3", ref="R3"),  # 11-proef
        line(BSNS[3], nummer="4", ref="R4", tarief=None, bedrag=100.0),  # no tarief
        line(BSNS[4], nummer="5", ref="R5", begin=dt.date(2025, 2, 20), end=dt.date(2025, 3, 10)),  # spans months
        line(
            BSNS[5], nummer="6", ref="R6", code="45E01", volume=5000, tarief=1.0, bedrag=50.0
        ),  # tarief with eenheid 83
        line(BSNS[6], nummer="7", ref="OK1"),  # ReferentieNummer used twice
        line(BSNS[7], nummer="1234567890", ref="R8"),  # toewijzingnummer too long
        line(BSNS[8], nummer="9", ref="R9", cat=None),  # no productcategorie
        line(BSNS[9], nummer="10", ref="R10", vorig="X", dc="D"),  # VorigReferentieNummer on a debet
        line(BSNS[10], nummer="11", ref="R11", code="45A48XX"),  # productcode too long
    ]
    out = tmp_path / "o"
    r = cli(
        "export",
        "jw323",
        declaration(tmp_path / "d.xlsx", rows),
        "-o",
        out,
        "--dagtekening",
        DAG,
        "--format",
        "json",
        "-q",
    )
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    left = {x["rij"]: x["reden"] for x in data["weggelaten"]}
    expect = {
        3: "no toewijzingnummer",
        4: "bsn *****0398 fails the 11-proef",
        5: "no tarief",
        6: "spans more than one month",
        7: "tarief given with eenheid 83",
        8: "ReferentieNummer used twice (TR101/TR314) as d.xlsx sheet 'Declaratie' row 2",
        9: "more than 9 digits",
        10: "no productcategorie",
        11: "VorigReferentieNummer X on a debet line",
        12: "longer than 5 characters",
    }
    assert set(left) == set(expect)
    for rij, text in expect.items():
        assert text in left[rij], (rij, left[rij])
    assert data["geexporteerd"] == 1 and BAD_BSN not in r.stdout
    r = cli(
        "export",
        "jw323",
        declaration(tmp_path / "d.xlsx", rows),
        "-o",
        out,
        "--dagtekening",
        DAG,
        "--format",
        "json",
        "--show-bsn",
        "-q",
    )
    assert f"bsn {BAD_BSN} fails" in r.stdout


def test_a_period_that_has_not_ended_is_refused_unless_dated(tmp_path, cli):
    today = dt.date.today()
    start = today.replace(day=1)
    last = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    rows = [line(BSNS[0], nummer="1", ref="N1", begin=start, end=min(today, last))]
    src = declaration(tmp_path / "d.xlsx", rows)
    r = cli("export", "jw323", src, "-o", tmp_path / "o", "-q")
    if last == today:  # the last day of the month: the period has ended today
        assert r.exit_code == 0
        return
    assert r.exit_code == 2 and "has not ended yet" in r.stderr and f"--dagtekening {last.isoformat()}" in r.stderr
    assert not (tmp_path / "o").exists() or _messages(tmp_path / "o") == []
    r = cli(
        "export", "jw323", src, "-o", tmp_path / "o", "--dagtekening", (last - dt.timedelta(days=1)).isoformat(), "-q"
    )
    assert r.exit_code == 2 and "before the end of the declaration period" in r.stderr
    r = cli("export", "jw323", src, "-o", tmp_path / "o", "--dagtekening", last.isoformat(), "-q")
    assert r.exit_code == 0, r.output
    root = _xml(_messages(tmp_path / "o")[0])
    assert root.findtext("m:Declaratie/m:DeclaratieDagtekening", namespaces=X) == last.isoformat()


def test_export_from_the_store_leaves_out_rejected_lines(tmp_path, cli, db_url):
    rows = [
        line(BSNS[0], nummer="900001", ref="N1"),
        line(BSNS[1], nummer="900002", ref="N2", tarief=95.0, bedrag=950.0),
    ]
    alloc = allocation_rows(rows)
    for a, nummer in zip(alloc, ("900001", "900002")):
        a[0] = nummer
    contract = _contract(tmp_path)
    toew = write_xlsx(tmp_path / "t.xlsx", {"Toewijzingen": [ALLOCATION_HEADER, *alloc]})
    src = declaration(tmp_path / "d.xlsx", rows)
    assert cli("import", contract, toew, src, "--db", db_url, "-q").exit_code == 0
    assert cli("validate", "--db", db_url, "-q").exit_code == 1
    out = tmp_path / "o"
    r = cli(
        "export", "jw323", "--db", db_url, "--batch", "3", "-o", out, "--dagtekening", DAG, "--format", "json", "-q"
    )
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert [x["rij"] for x in data["weggelaten"]] == [3] and "rejected by jzcli validate (TR418)" in data["weggelaten"][
        0
    ]["reden"]
    assert [x["ref"] for x in _prestaties(_xml(_messages(out)[0]))] == ["N1"]
    assert cli("export", "jw323", "--db", db_url, "-o", out, "-q").exit_code == 2  # --batch required
    assert cli("export", "jw323", "--db", db_url, "--batch", "1", "-o", out, "-q").exit_code == 2  # a contract batch
    assert cli("export", "jw323", src, "--db", db_url, "--batch", "3", "-o", out, "-q").exit_code == 2


def test_usage_errors_and_unreadable_files(tmp_path, cli):
    src = declaration(tmp_path / "d.xlsx", [line(BSNS[0], nummer="1", ref="N1")])
    assert cli("export", "jw323", src).exit_code == 2  # no -o
    assert cli("export", "jw323", src, "-o", tmp_path / "o", "--periode", "maartje").exit_code == 2
    assert cli("export", "jw323", src, "-o", tmp_path / "o", "--dagtekening", "02-04-2025").exit_code == 2
    broken = tmp_path / "kapot.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook")
    r = cli("export", "jw323", src, broken, "-o", tmp_path / "o2", "-q")
    assert r.exit_code == 3 and "kapot.xlsx" in r.stderr and not (tmp_path / "o2").exists()


@pytest.mark.parametrize("n", [1200])
def test_many_lines_stay_valid_and_unique(tmp_path, cli, n):
    rows = [line(BSNS[i % len(BSNS)], nummer=str(100000 + i), volume=1 + i % 7) for i in range(n)]
    out = tmp_path / "o"
    r = cli(
        "export",
        "jw323",
        declaration(tmp_path / "big.xlsx", rows),
        "-o",
        out,
        "--dagtekening",
        DAG,
        "--format",
        "json",
        "-q",
    )
    assert r.exit_code == 0, r.output[:2000]
    [msg] = _messages(out)
    assert ijw.validate_xsd(msg, "JW323") == []
    refs = [x["ref"] for x in _prestaties(_xml(msg))]
    assert len(refs) == len(set(refs)) == n


def test_round_trip_with_minutes_euros_late_lines_and_a_later_credit(tmp_path, cli, db_url):
    """Two months exported from spreadsheets without reference numbers: the April credit names the
    ReferentieNummer generated for the March line. Both messages pass level 1 and 2 and every line
    is approved (the credit cancels the March debet: TR323 finds it)."""
    feb = (dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    march = [
        line(BSNS[0]),  # 10 uur 45A48
        line(
            BSNS[1], code="54002", volume=90, eenheid="01", tarief=1.64, bedrag=147.75
        ),  # minutes on an hourly tariff (IV081)
        line(BSNS[2], code="45E01", volume=5000),  # eenheid 83: volume = bedrag in cents, no tarief
        line(BSNS[3], begin=feb[0], end=feb[1], volume=4),  # late February line
    ]
    alloc = allocation_rows(march)
    numbers = {(a[1], a[5]): a[0] for a in alloc}
    for row in march:
        row[6] = numbers[(row[5], row[8])]
    contract = _contract(tmp_path)
    toew = write_xlsx(tmp_path / "t.xlsx", {"Toewijzingen": [ALLOCATION_HEADER, *alloc]})
    assert cli("import", contract, toew, "--db", db_url, "-q").exit_code == 0

    r = cli(
        "export",
        "jw323",
        declaration(tmp_path / "maart.xlsx", march),
        "-o",
        tmp_path / "m",
        "--dagtekening",
        "2025-04-02",
        "-q",
    )
    assert r.exit_code == 0, r.output
    [m1] = _messages(tmp_path / "m")
    first = {x["bsn"]: x for x in _prestaties(_xml(m1))}
    assert first[BSNS[2]]["tarief"] is None and first[BSNS[1]]["tarief"] == "164" and first[BSNS[1]]["bedrag"] == 14775
    assert cli("import", m1, "--db", db_url, "-q").exit_code == 0
    r = cli("validate", "--db", db_url, "--format", "json", "-q")
    assert r.exit_code == 0 and json.loads(r.stdout) == [], r.stdout

    ref = first[BSNS[0]]["ref"]
    april = [
        line(BSNS[0], dc="C", vorig=ref, nummer=numbers[(BSNS[0], "45A48")]),  # credit of the March line
        line(BSNS[0], volume=8, nummer=numbers[(BSNS[0], "45A48")]),  # the corrected March line, sent again
        line(
            BSNS[1],
            code="54002",
            volume=60,
            eenheid="01",
            tarief=1.64,
            bedrag=98.50,
            begin=dt.date(2025, 4, 1),
            end=dt.date(2025, 4, 30),
            nummer=numbers[(BSNS[1], "54002")],
        ),
    ]
    r = cli(
        "export",
        "jw323",
        declaration(tmp_path / "april.xlsx", april),
        "-o",
        tmp_path / "a",
        "--dagtekening",
        "2025-05-02",
        "--format",
        "json",
        "-q",
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["declaratieperiode"] == "2025-04" and data["berichten"][0]["totaal_ingediend"] == -79800 + 63840 + 9850
    [m2] = _messages(tmp_path / "a")
    second = _prestaties(_xml(m2))
    assert [(x["dc"], x["vorig"]) for x in second if x["dc"] == "C"] == [("C", ref)]
    assert not {x["ref"] for x in second} & set(x["ref"] for x in first.values())
    assert cli("import", m2, "--db", db_url, "-q").exit_code == 0
    r = cli("validate", "--db", db_url, "--format", "json", "-q")
    assert r.exit_code == 0 and json.loads(r.stdout) == [], r.stdout
