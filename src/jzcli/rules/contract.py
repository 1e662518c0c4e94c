"""Contract rules: is the product contracted, in this unit, at this tariff?

The engine looks up, once per line, the contract product that applies (``contract_*`` columns,
see ``validate.contract_lookup``): same gemeente, an aanbieder the contract allows (no list = all
providers), same productcode, and a tariff period with geldig_van ≤ begindatum ≤ geldig_tot.

* TR418 (0611): the line's tarief equals that contract tariff. For minutes declared against an
  hourly tariff (IV081) the line's tarief must be the hourly tariff / 60 rounded half up (the
  amount itself is TR346's business). Lines in another unit than the contract's are left to
  JZ-C02: comparing a day tariff with an hour tariff says nothing.
* JZ-C01: no contract product applies (jzcli's own code: iJw has none for "not contracted"). The
  message says why: the gemeente has no contract at all, none with this product, the product is
  contracted but not with this aanbieder, or no tariff period covers the begindatum.
* JZ-C02: the line's eenheid is not the contract's (minutes against hours excepted).
* TR381 (S329): a productcategorie the provider wrote belongs to the productcode in the contract
  products of the gemeente (the contract is the product code list in use). A category the engine
  took from the contract is not judged.
* JZ-C03: a taakgericht product cannot be declared per client (§9 of the reference).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jzcli.domain.codes import REGEL
from jzcli.domain.findings import concat_findings, findings
from jzcli.rules.kit import (
    Context,
    as_successor,
    date_text,
    euro_text,
    failed_import,
    gemeente_text,
    minute_tariff,
    normalised_products,
    split_text,
    text_of,
    unit_text,
)
from jzcli.rules.registry import rule

FAMILY = "contract"
EURO = "83"


def _found(lines: pd.DataFrame) -> pd.Series:
    return lines["contract_product_found"].astype(bool)


@rule(
    "TR418",
    "0611",
    "Tarief equals the contract tariff of the product on begindatum (minutes on an hourly tariff: uurtarief / 60, IV081)",
    family=FAMILY,
    niveau=REGEL,
)
def tr418_tarief(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    minute = lines["minuutregel"].astype(bool)
    same_unit = (lines["eenheid"] == lines["contract_eenheid"]).fillna(False).astype(bool)
    base = (
        _found(lines)
        & lines["tarief"].notna()
        & lines["contract_tarief"].notna()
        & lines["eenheid"].notna()
        & (lines["eenheid"] != EURO)
    )

    plain = lines[base & same_unit & ~minute]
    p_bad = plain[(plain["tarief"] != plain["contract_tarief"]).fillna(False).astype(bool)]
    p_msg = (
        "tarief "
        + euro_text(p_bad["tarief"])
        + " ≠ contracttarief "
        + euro_text(p_bad["contract_tarief"])
        + " for "
        + text_of(p_bad["productcode"])
        + " on "
        + date_text(p_bad["begindatum"])
    )

    m = lines[base & minute]
    expected = minute_tariff(m["contract_tarief"])
    bad = (m["tarief"] != expected).fillna(False).astype(bool)
    m_bad = m[bad]
    m_msg = (
        "tarief "
        + euro_text(m_bad["tarief"])
        + " ≠ contracttarief "
        + euro_text(m_bad["contract_tarief"])
        + " per uur / 60 = "
        + euro_text(expected[bad])
        + " per minute (rounded half up, IV081) for "
        + text_of(m_bad["productcode"])
        + " on "
        + date_text(m_bad["begindatum"])
    )
    return concat_findings(
        findings(p_bad, p_msg, "tarief", euro_text(p_bad["tarief"])),
        findings(m_bad, m_msg, "tarief", euro_text(m_bad["tarief"])),
    )


@rule(
    "JZ-C01",
    "JZ-C01",
    "The product is in a contract of the gemeente, with this aanbieder, valid on begindatum",
    family=FAMILY,
    niveau=REGEL,
    omschrijving="Product is niet gecontracteerd voor deze gemeente, aanbieder en datum.",
)
def jz_c01_not_contracted(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    no_code = lines[lines["productcode"].isna() & ~failed_import(ctx, ["productcode"])]
    todo = lines[
        ~_found(lines) & lines["productcode"].notna() & lines["gemeente"].notna() & lines["begindatum"].notna()
    ]
    if todo.empty:
        return findings(no_code, "productcode is missing", "productcode")
    p = normalised_products(ctx.products) if ctx.products is not None and len(ctx.products) else None
    gem = gemeente_text(todo)  # '0381 (Bussum) → 1942 (Gooise Meren)' for a merged code
    judged = as_successor(todo)["gemeente"]  # the code the contract is looked up for
    code = text_of(todo["productcode"])
    msg = pd.Series(
        "gemeente " + gem + " has no contract in the store (import the contract first: jzcli import CONTRACT.toml)",
        index=todo.index,
    )
    if p is not None and len(p):
        has_gem = judged.isin(set(p["gemeente"]))
        pairs = set(zip(p["gemeente"], p["productcode"]))
        has_code = pd.Series(
            [(g, c) in pairs for g, c in zip(judged, todo["productcode"])], index=todo.index, dtype=bool
        )
        allowed = set(zip(p["gemeente"], p["productcode"], p["_aanbieder"]))
        for_agb = pd.Series(
            [
                (g, c, "*") in allowed or (g, c, a) in allowed
                for g, c, a in zip(judged, todo["productcode"], todo["aanbieder"])
            ],
            index=todo.index,
            dtype=bool,
        )
        # the tariff periods there are, for the date message
        periods = p.assign(_span=date_text(p["geldig_van"]) + ".." + date_text(p["geldig_tot"]).replace("", "open"))
        spans = periods.groupby(["gemeente", "productcode"])["_span"].agg(lambda s: ", ".join(dict.fromkeys(s)))
        span = pd.Series(
            [spans.get((g, c), "") for g, c in zip(judged, todo["productcode"])], index=todo.index, dtype=object
        )
        msg = msg.where(~has_gem, "productcode " + code + " is not in any contract of gemeente " + gem)
        agb = text_of(todo["aanbieder"])
        msg = msg.where(~has_code, code + " is contracted by gemeente " + gem + ", but not with aanbieder " + agb)
        msg = msg.where(
            ~(has_code & for_agb),
            "no contract of gemeente "
            + gem
            + " with aanbieder "
            + agb
            + " has a tariff for "
            + code
            + " on "
            + date_text(todo["begindatum"])
            + " (tariff periods: "
            + span.astype(str)
            + ")",
        )
    split = split_text(todo)
    msg = msg.where(
        split.isna(), split + ": no contract can be chosen for it; declare on the gemeente responsible for the client"
    )
    return concat_findings(
        findings(no_code, "productcode is missing", "productcode"),
        findings(todo, msg, "productcode", todo["productcode"]),
    )


@rule(
    "JZ-C02",
    "JZ-C02",
    "Eenheid is the contract's eenheid for the product (minutes against an hourly tariff allowed, IV081)",
    family=FAMILY,
    niveau=REGEL,
    omschrijving="Eenheid wijkt af van de eenheid in het contract.",
)
def jz_c02_unit(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    found = _found(lines)
    if not found.any():
        return findings(lines.iloc[0:0], "", None)
    differs = (
        found
        & lines["eenheid"].notna()
        & (lines["eenheid"] != lines["contract_eenheid"])
        & ~lines["minuutregel"].astype(bool)
    )
    bad = lines[differs.fillna(False).astype(bool)]
    missing = lines[found & lines["eenheid"].isna() & ~failed_import(ctx, ["eenheid"])]
    msg = (
        "eenheid "
        + unit_text(bad["eenheid"])
        + " ≠ the contract's eenheid "
        + unit_text(bad["contract_eenheid"])
        + " for "
        + text_of(bad["productcode"])
        + " (only minutes against an hourly tariff are allowed)"
    )
    return concat_findings(
        findings(bad, msg, "eenheid", bad["eenheid"]),
        findings(
            missing,
            "eenheid is missing; the contract's eenheid for "
            + text_of(missing["productcode"])
            + " is "
            + unit_text(missing["contract_eenheid"]),
            "eenheid",
        ),
    )


@rule(
    "TR381",
    "S329",
    "ProductCode belongs to the ProductCategorie (in the contract products of the gemeente)",
    family=FAMILY,
    niveau=REGEL,
)
def tr381_code_in_categorie(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    own = ~lines["productcategorie_uit_contract"].astype(bool)
    todo = lines[own & lines["productcategorie"].notna() & lines["productcode"].notna() & lines["gemeente"].notna()]
    # the contract product found has this category: fine
    todo = todo[(todo["productcategorie"] != todo["contract_productcategorie"]).to_numpy()]
    if todo.empty or ctx.products is None or ctx.products.empty:
        return findings(lines.iloc[0:0], "", None)
    p = normalised_products(ctx.products)
    cats = p.drop_duplicates(["gemeente", "productcode", "productcategorie"])
    left = pd.DataFrame(
        {
            "_pos": np.arange(len(todo)),
            "gemeente": as_successor(todo)["gemeente"].astype(object).to_numpy(),
            "productcode": todo["productcode"].astype(object).to_numpy(),
            "cat": todo["productcategorie"].astype(object).to_numpy(),
        }
    )
    m = left.merge(cats[["gemeente", "productcode", "productcategorie"]], on=["gemeente", "productcode"])
    if m.empty:
        return findings(lines.iloc[0:0], "", None)
    m["same"] = m["cat"] == m["productcategorie"]
    same = m.groupby("_pos")["same"].any()
    bad_pos = same.index[~same.to_numpy()]
    if len(bad_pos) == 0:
        return findings(lines.iloc[0:0], "", None)
    wrong = m[m["_pos"].isin(bad_pos)]
    cat_text = wrong.groupby("_pos")["productcategorie"].agg(lambda s: " or ".join(sorted(set(map(str, s)))))
    bad = todo.iloc[bad_pos]
    expected = pd.Series(cat_text.reindex(bad_pos).to_numpy(), index=bad.index)
    msg = (
        "productcode "
        + text_of(bad["productcode"])
        + " belongs to productcategorie "
        + expected
        + " in the contract of gemeente "
        + gemeente_text(bad)
        + ", not to "
        + text_of(bad["productcategorie"])
    )
    return findings(bad, msg, "productcategorie", bad["productcategorie"])


@rule(
    "JZ-C03",
    "JZ-C03",
    "No declaration per client for a product the contract makes taakgericht (§9)",
    family=FAMILY,
    niveau=REGEL,
    omschrijving="Taakgericht product wordt niet per cliënt gedeclareerd.",
)
def jz_c03_taakgericht(ctx: Context) -> pd.DataFrame:
    lines = ctx.lines
    bad = lines[_found(lines) & (lines["contract_variant"] == "taakgericht").fillna(False).astype(bool)]
    msg = (
        text_of(bad["productcode"])
        + " is taakgericht in the contract: it is paid as a lump sum outside the declarations, "
        "not per client"
    )
    return findings(bad, msg, "productcode", bad["productcode"])
