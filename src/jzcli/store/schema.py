"""The store's schema: its tables (SQLAlchemy Core, the same on SQLite and PostgreSQL), its version, and
the steps that bring an older store up to date.

Money is integer eurocents (BIGINT); dates are DATE columns; every imported row keeps its batch, file,
sheet and row (``provenance``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn

SCHEMA_VERSION = 2

metadata = sa.MetaData()


def provenance(*, rij_required: bool = False) -> list[sa.Column]:
    """The columns every imported row carries: its id, its batch, and where it stood (file, sheet, row)."""
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch", sa.Integer, sa.ForeignKey("batches.id"), nullable=False, index=True),
        sa.Column("bron", sa.Text, nullable=False),
        sa.Column("blad", sa.Text),
        sa.Column("rij", sa.Integer, nullable=not rij_required),
    ]


meta_table = sa.Table(
    "meta",
    metadata,
    sa.Column("sleutel", sa.String(50), primary_key=True),
    sa.Column("waarde", sa.Text, nullable=False),
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("soort", sa.String(20), nullable=False),  # declaraties | toewijzingen | contract
    sa.Column("bestand", sa.Text, nullable=False),  # file name
    sa.Column("pad", sa.Text, nullable=False),  # absolute path at import time
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("grootte", sa.BigInteger, nullable=False),
    sa.Column("rijen_gelezen", sa.Integer, nullable=False, default=0),
    sa.Column("rijen_opgeslagen", sa.Integer, nullable=False, default=0),
    sa.Column("rijen_overgeslagen", sa.Integer, nullable=False, default=0),
    sa.Column("bevindingen", sa.Integer, nullable=False, default=0),
    sa.Column("geimporteerd_op", sa.DateTime(timezone=True), nullable=False),
    sa.Column("gebruiker", sa.String(200), nullable=False),
    sa.Column("details", sa.Text, nullable=False, default="{}"),  # JSON: sheets, skipped rows, ...
)

declaratieregels = sa.Table(
    "declaratieregels",
    metadata,
    *provenance(rij_required=True),
    sa.Column("aanbieder", sa.String(8), index=True),
    sa.Column("gemeente", sa.String(4), index=True),
    sa.Column("declaratienummer", sa.String(50)),
    sa.Column("referentienummer", sa.String(50)),
    sa.Column("vorig_referentienummer", sa.String(50)),
    sa.Column("bsn", sa.String(9)),
    sa.Column("toewijzingnummer", sa.String(20)),
    sa.Column("productcategorie", sa.String(10)),
    sa.Column("productcode", sa.String(20)),
    sa.Column("begindatum", sa.Date),
    sa.Column("einddatum", sa.Date),
    sa.Column("volume", sa.BigInteger),
    sa.Column("eenheid", sa.String(2)),
    sa.Column("tarief", sa.BigInteger),  # eurocents
    sa.Column("bedrag", sa.BigInteger),  # eurocents, always >= 0; sign in debet_credit
    sa.Column("debet_credit", sa.String(1)),
    # Which side of the ProductPeriode a month column gave (bit 1 begindatum, bit 2 einddatum; 0 =
    # both as written). NULL: imported before schema 2 (the engine then goes by the sheet's columns).
    sa.Column("periode_uit_maand", sa.SmallInteger),
)

importbevindingen = sa.Table(
    "importbevindingen",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch", sa.Integer, sa.ForeignKey("batches.id"), nullable=False, index=True),
    sa.Column("regel_id", sa.Integer),  # the declaratieregels.id the finding is about, if any
    sa.Column("bron", sa.Text, nullable=False),
    sa.Column("blad", sa.Text),
    sa.Column("rij", sa.Integer),
    sa.Column("kolom", sa.Text),
    sa.Column("veld", sa.String(40)),
    sa.Column("waarde", sa.Text),
    sa.Column("regel", sa.String(20), nullable=False),
    sa.Column("melding", sa.Text, nullable=False),
)

# --- contracts: one row per contract, one per product tariff period -------------------------
contracten = sa.Table(
    "contracten",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch", sa.Integer, sa.ForeignKey("batches.id"), nullable=False, index=True),
    sa.Column("naam", sa.Text, nullable=False),
    sa.Column("gemeenten", sa.Text, nullable=False),  # JSON list of 4-digit CBS codes
    sa.Column("aanbieders", sa.Text),  # JSON list of AGB codes; NULL = all providers
)

contractproducten = sa.Table(
    "contractproducten",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("contract", sa.Integer, sa.ForeignKey("contracten.id"), nullable=False, index=True),
    sa.Column("productcategorie", sa.String(10), nullable=False),
    sa.Column("productcode", sa.String(20), nullable=False),
    sa.Column("omschrijving", sa.Text),
    sa.Column("eenheid", sa.String(2), nullable=False),
    sa.Column("tarief", sa.BigInteger, nullable=False),  # eurocents per eenheid
    sa.Column("uitvoeringsvariant", sa.String(20), nullable=False),
    sa.Column("geldig_van", sa.Date, nullable=False),
    sa.Column("geldig_tot", sa.Date),  # NULL = open-ended
)

# --- allocations (toewijzingen), every version as imported ---------------------------------
toewijzingen = sa.Table(
    "toewijzingen",
    metadata,
    *provenance(),
    sa.Column("toewijzingnummer", sa.String(20), nullable=False, index=True),
    sa.Column("bsn", sa.String(9)),
    sa.Column("aanbieder", sa.String(8)),
    sa.Column("gemeente", sa.String(4)),
    sa.Column("productcategorie", sa.String(10)),
    sa.Column("productcode", sa.String(20)),
    sa.Column("ingangsdatum", sa.Date),
    sa.Column("einddatum", sa.Date),
    sa.Column("volume", sa.BigInteger),
    sa.Column("eenheid", sa.String(2)),
    sa.Column("frequentie", sa.String(1)),
    sa.Column("budget", sa.BigInteger),  # eurocents
    sa.Column("reden_wijziging", sa.String(2)),
    sa.Column("toewijzingsdatum", sa.DateTime),
)

# --- iJw XML messages (JW323 declarations, JW301 allocations): what an answer must copy -------
berichten = sa.Table(
    "berichten",
    metadata,
    sa.Column("batch", sa.Integer, sa.ForeignKey("batches.id"), primary_key=True),  # one message per file
    sa.Column("berichtcode", sa.String(3), nullable=False),  # 490 = JW323, 436 = JW301
    sa.Column("berichtversie", sa.String(2)),
    sa.Column("berichtsubversie", sa.String(2)),
    sa.Column("afzender", sa.String(8)),  # JW323: AGB of the aanbieder; JW301: gemeente
    sa.Column("ontvanger", sa.String(8)),  # JW323: gemeente; JW301: AGB
    sa.Column("identificatie", sa.String(12), nullable=False),
    sa.Column("dagtekening", sa.Date, nullable=False),
    sa.Column("xsd_versie", sa.String(40)),  # "BasisschemaXsdVersie|BerichtXsdVersie"
    sa.Column("declaratienummer", sa.String(12)),
    sa.Column("declaratieperiode_begin", sa.Date),
    sa.Column("declaratieperiode_eind", sa.Date),
    sa.Column("declaratie_dagtekening", sa.Date),
    sa.Column("totaal_ingediend", sa.BigInteger),  # cents, sign via totaal_debet_credit
    sa.Column("totaal_debet_credit", sa.String(1)),
)

# --- verdicts of jzcli validate: one status per line, findings per line and rule ------------
beoordelingen = sa.Table(
    "beoordelingen",
    metadata,
    sa.Column("regel_id", sa.Integer, sa.ForeignKey("declaratieregels.id"), primary_key=True),
    sa.Column("status", sa.String(12), nullable=False),  # goedgekeurd | afgekeurd
    sa.Column("ronde", sa.Integer, nullable=False),  # validate run number
    sa.Column("beoordeeld_op", sa.DateTime(timezone=True), nullable=False),
)

# The productcategorie validate resolved for a line whose file has none (from the contract product,
# else the matched allocation; TR381), so reports can group such lines by category in SQL.
# Written with the line's verdict, deleted with it. bron: contract | toewijzing.
afgeleide_categorieen = sa.Table(
    "afgeleide_categorieen",
    metadata,
    sa.Column("regel_id", sa.Integer, sa.ForeignKey("declaratieregels.id"), primary_key=True),
    sa.Column("productcategorie", sa.String(10), nullable=False),
    sa.Column("bron", sa.String(12), nullable=False),
)

bevindingen = sa.Table(
    "bevindingen",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("regel_id", sa.Integer, sa.ForeignKey("declaratieregels.id"), nullable=False, index=True),
    sa.Column("regel", sa.String(20), nullable=False),  # rule id: TR418, CS002, JZ-...
    sa.Column("retourcode", sa.String(10), nullable=False),
    sa.Column("ernst", sa.String(10), nullable=False),  # afkeur | signaal
    sa.Column("kolom", sa.Text),
    sa.Column("waarde", sa.Text),
    sa.Column("melding", sa.Text, nullable=False),
    sa.Column("ronde", sa.Integer, nullable=False),
)

kolomkoppelingen = sa.Table(
    "kolomkoppelingen",
    metadata,
    sa.Column("aanbieder", sa.String(8), primary_key=True),
    sa.Column("kolom", sa.String(200), primary_key=True),  # normalised column name
    sa.Column("veld", sa.String(40), nullable=False),
)


# --- DuckDB: ids from sequences (it has no SERIAL), no secondary indexes, no foreign keys ------
# DuckDB keeps min/max per row group for every column, which is what its scans use; an ART index
# would only slow a bulk load. Primary keys and UNIQUE stay (they are constraints).
def serial_id(table: sa.Table) -> sa.Column | None:
    """The table's own integer id that a sequence fills on DuckDB, if it has one."""
    pk = list(table.primary_key.columns)
    if len(pk) == 1 and pk[0].autoincrement in (True, "auto") and isinstance(pk[0].type, sa.Integer):
        if not pk[0].foreign_keys:
            return pk[0]
    return None


def sequence_name(table: sa.Table) -> str:
    return f"{table.name}_id_seq"


@compiles(CreateColumn, "duckdb")
def _duckdb_column(element, compiler, **kw):
    column: sa.Column = element.element
    table = column.table
    text = compiler.visit_create_column(element, **kw)
    if table is not None and serial_id(table) is column:
        text = text.replace(" SERIAL", f" INTEGER DEFAULT nextval('{sequence_name(table)}')", 1)
    return text


# Foreign keys are left out on DuckDB too: there a referenced table can no longer be altered (a
# migration that drops or changes a column fails), and each line's key would be looked up on insert.
# What they guard is kept by the writes themselves: a batch and everything of it in one transaction.
_NOT_DUCKDB = ("sqlite", "postgresql")

for _table in metadata.tables.values():
    for _index in _table.indexes:
        _index.ddl_if(dialect=_NOT_DUCKDB)  # type: ignore[arg-type]  # a tuple of names is documented; the stub says str
    for _fk in _table.foreign_key_constraints:
        _fk.ddl_if(dialect=_NOT_DUCKDB)  # type: ignore[arg-type]
    if serial_id(_table) is not None:
        sa.event.listen(
            _table,
            "before_create",
            sa.DDL(f"CREATE SEQUENCE IF NOT EXISTS {sequence_name(_table)}").execute_if(dialect="duckdb"),
        )


# Each step takes a store from schema version n to n + 1 (n: the key), inside the opening transaction.
# A step only adds: stores written by an older jzcli keep every row as it was.
MIGRATIONS: dict[int, list[str]] = {
    1: ["ALTER TABLE declaratieregels ADD COLUMN periode_uit_maand SMALLINT"],
}


def migrate(conn: Connection, version: int) -> None:
    """Bring a store of an older schema ``version`` up to SCHEMA_VERSION (same transaction)."""
    for step in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[step]:
            conn.exec_driver_sql(statement)
    conn.execute(meta_table.update().where(meta_table.c.sleutel == "schema_version").values(waarde=str(SCHEMA_VERSION)))
