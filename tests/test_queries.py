"""Every query of docs/queries.md, read from the page (not a copy), runs against the session warehouse
through the read API and answers with rows whose columns are not all null."""

from __future__ import annotations

import re

import pytest

from binance_warehouse import Warehouse
from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.warehouse import BuiltWarehouse

pytestmark = pytest.mark.slow
GALLERY = REPO_ROOT / "docs" / "queries.md"
MIN_QUESTIONS = 10
SECTION = re.compile(r"^## (\d+)\. (.+?)\n(.*?)(?=^## |\Z)", re.M | re.S)
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)


def questions() -> list[tuple[str, str, str]]:
    """(number, question, the section's text) of every numbered section of the gallery."""
    return [(m[1], m[2], m[3]) for m in SECTION.finditer(GALLERY.read_text())]


def test_the_gallery_has_enough_questions_each_with_sql_and_a_reading() -> None:
    found = questions()
    assert len(found) >= MIN_QUESTIONS, [q for _, q, _ in found]
    assert [n for n, _, _ in found] == [str(i) for i in range(1, len(found) + 1)]
    for number, question, body in found:
        assert len(SQL_BLOCK.findall(body)) == 1, f"question {number} needs exactly one sql block"
        assert "_Reading it:_" in body, f"question {number} ({question}) says nothing on how to read it"
    # No SQL block outside a question (it would go untested).
    assert len(SQL_BLOCK.findall(GALLERY.read_text())) == len(found)


@pytest.mark.parametrize(
    ("number", "question", "body"), questions(), ids=[f"q{n}" for n, _, _ in questions()]
)
def test_query_returns_rows(built_warehouse: BuiltWarehouse, number: str, question: str, body: str) -> None:
    (sql,) = SQL_BLOCK.findall(body)
    table = Warehouse(built_warehouse.duckdb_path, built_warehouse.lake_dir).sql(sql, output="arrow")
    assert table.num_rows > 0, f"question {number} ({question}) returned no rows"
    empty = [
        name
        for name, column in zip(table.column_names, table.columns, strict=True)
        if column.null_count == len(column)
    ]
    assert not empty, f"question {number} ({question}): columns with only nulls: {empty}"
