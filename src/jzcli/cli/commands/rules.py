"""jzcli rules: every rule validate applies, with its iJw code and retourcode."""

from __future__ import annotations

from jzcli.cli import terminal
from jzcli.cli.common import Format, FormatOption
from jzcli.output.records import records_text

EPILOG = "Examples:\n\n  jzcli rules\n\n  jzcli rules --format csv > regels.csv"


def rules_command(fmt: FormatOption = Format.table) -> None:
    """List every rule jzcli validate applies: iJw code, retourcode, severity, level and what it checks.

    ernst afkeur rejects the line; signaal only warns. niveau says where iJw would land the
    rejection (regel = the line, declaratie = the whole declaration, bericht = the whole message);
    for spreadsheet lines every rejection lands on the line.
    """
    from jzcli.rules.catalog import rules_frame

    frame = rules_frame()[["regel", "retourcode", "ernst", "niveau", "titel", "omschrijving"]]
    if fmt != Format.table:
        terminal.data_out(records_text(fmt.value, records=lambda: frame.to_dict(orient="records"), table=lambda: frame))
        return
    t = terminal.table(f"Rules ({len(frame)})", show_lines=False)
    for col in ("rule", "retourcode", "ernst", "niveau", "checks", "omschrijving"):
        t.add_column(col, overflow="fold")
    for r in frame.itertuples():
        t.add_row(r.regel, r.retourcode, r.ernst, r.niveau, terminal.escape(r.titel), terminal.escape(r.omschrijving))
    terminal.out.print(t)
