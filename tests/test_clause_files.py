"""Hostile input to the user's clause files (`data.train_file` / `data.validation_file`): every
problem is a `DataError` naming the file and line (issue 12); well-formed files still read."""

from __future__ import annotations

import json
import re

import pytest

from train.clause_files import read_clause_file
from train.errors import DataError
from train.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
NAMES = TAXONOMY.names
N = len(NAMES)
ZEROS = [0] * N


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def jsonl(*items) -> str:
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items)


GOOD = {"text": "we share your data", "labels": ["data_sharing"]}


def assert_refused(path, line: int, message: str) -> DataError:
    """The file is refused with `path:line: ...message...`, one `what; how to fix` sentence."""
    with pytest.raises(DataError) as info:
        read_clause_file(path, TAXONOMY)
    text = str(info.value)
    assert text.startswith(f"{path}:{line}: "), text
    assert info.value.line == line
    assert re.search(message, text), text
    assert "; " in text and "\n" not in text, text
    return info.value


# --- 1. not UTF-8 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "line", "byte"),
    [
        (
            "latin1.csv",
            "text,data_sharing\nwe share,1\nnous partageons vos donn\u00e9es,1\n".encode("latin-1"),
            3,
            "0xE9",
        ),
        (
            "cp1252.csv",
            "text,data_sharing\n\u201cquoted\u201d clause,0\n".encode("cp1252"),
            2,
            "0x93",
        ),
        (
            "latin1_multiline.csv",
            'text,data_sharing\n"first line\nsecond ligne \u00e0 nous",1\n'.encode("latin-1"),
            3,
            "0xE0",
        ),
        (
            "latin1.jsonl",
            jsonl(GOOD, '{"text": "donn\u00e9es", "labels": []}').encode("latin-1"),
            2,
            "0xE9",
        ),
    ],
)
def test_file_that_is_not_utf8_names_line_and_byte(tmp_path, name, content, line, byte):
    path = write(tmp_path, name, content)
    assert_refused(
        path, line, rf"byte {byte} at column \d+ is not UTF-8 text; save the file as UTF-8"
    )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.csv", "\ufefftext,data_sharing\nwe share,1\n"),
        ("bom.jsonl", "\ufeff" + jsonl(GOOD)),
    ],
)
def test_utf8_with_byte_order_mark_reads(tmp_path, name, content):
    [row] = read_clause_file(write(tmp_path, name, content), TAXONOMY)
    assert row["text"] == "we share" if name.endswith(".csv") else "we share your data"
    assert row["labels"][NAMES.index("data_sharing")] == 1


# --- 2. JSONL `text` ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (["a", "b"], r"`text` must be a string, got a list; write the clause as one JSON string"),
        (42, r"`text` must be a string, got the number 42"),
        (1.5, r"`text` must be a string, got the number 1.5"),
        (True, r"`text` must be a string, got true"),
        ({"en": "we share"}, r"`text` must be a string, got an object"),
        (None, r"empty or missing `text`; give every line"),
        ("", r"empty or missing `text`"),
        ("  \t ", r"empty or missing `text`"),
    ],
)
def test_jsonl_text_must_be_a_non_empty_string(tmp_path, text, message):
    path = write(tmp_path, "bad.jsonl", jsonl(GOOD, {"text": text, "labels": []}))
    assert_refused(path, 2, message)


def test_jsonl_missing_text_and_non_object_lines(tmp_path):
    assert_refused(
        write(tmp_path, "a.jsonl", jsonl(GOOD, {"labels": []})), 2, "empty or missing `text`"
    )
    for i, item in enumerate(('"just a string"', "[1, 2]", "7", "null")):
        path = write(tmp_path, f"b{i}.jsonl", jsonl(GOOD, item))
        assert_refused(path, 2, r"each line must be a JSON object with `text` and `labels`")


# --- 3. list-valued fields given as a string (or another non-list) -------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"labels": "data_sharing"},
            r"`labels` must be a list \(of label names, or of 0/1\), got the string "
            r"'data_sharing'; write it as a list \[\"data_sharing\"\]",
        ),
        ({"labels": None}, r"`labels` must be a list .*got null"),
        ({"labels": {"data_sharing": 1}}, r"`labels` must be a list .*got an object"),
        ({"labels": 1}, r"`labels` must be a list .*got the number 1"),
        (
            {"labels": ["data_sharing"], "annotated": "data_sharing"},
            r"`annotated` must be a list of label names, got the string 'data_sharing'; "
            r"write it as a list, e.g. \[\"data_sharing\"\]",
        ),
        (
            {"labels": [], "annotated": "ai_training,data_sharing"},
            r"`annotated` must be a list of label names, got the string",
        ),
        ({"labels": ["data_sharing"], "annotated": None}, r"`annotated` must be a list .*got null"),
        (
            {"labels": ["data_sharing"], "annotated": ["data_sharing", 3]},
            r"`annotated` must be a list of label names, got a list with non-names",
        ),
        (
            {"labels": [1] + [0] * (N - 1), "label_mask": "1" * N},
            r"`label_mask` must be a list of 0/1, got the string",
        ),
        ({"labels": [1] + [0] * (N - 1), "label_mask": None}, r"`label_mask` must be a list"),
        ({"labels": ["data_sharing", 1]}, r"`labels` mixes label names and numbers"),
        ({"labels": [1, "data_sharing"]}, r"`labels` mixes label names and numbers"),
    ],
)
def test_list_fields_must_be_lists(tmp_path, fields, message):
    path = write(tmp_path, "bad.jsonl", jsonl(GOOD, {"text": "we share data", **fields}))
    assert_refused(path, 2, message)


def test_annotated_list_is_read_as_names_not_letters(tmp_path):
    item = {"text": "t", "labels": ["data_sharing"], "annotated": ["data_sharing", "ai_training"]}
    [row] = read_clause_file(write(tmp_path, "ok.jsonl", jsonl(item)), TAXONOMY)
    assert row["labels"] == [int(n == "data_sharing") for n in NAMES]
    assert row["label_mask"] == [int(n in ("data_sharing", "ai_training")) for n in NAMES]


# --- 4. CSV quoting -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (  # never closed: the rest of the file becomes one field
            'text,data_sharing\nfine,0\n"we share data,1\nother clause,0\nthird,1\n',
            3,
            r"the quote that opens a field on this line is never closed",
        ),
        (  # closed by a later quote that ends a field cleanly: rows in between are swallowed
            'text,data_sharing\n"we share data,1\nother clause,0\nmore,1\nlast",0\nnext,1\n',
            2,
            r"closes only on line 5 and the lines in between read as rows of their own",
        ),
        (  # one swallowed row: the opening line is a whole row without its quote
            'id,text,data_sharing\na,"We share data,1\nb,Other clause",0\nc,third,1\n',
            2,
            r"closes only on line 3 and the lines in between read as rows",
        ),
        (  # the closing quote is followed by more text
            'text,data_sharing\nok,1\n"we share data,1\n"other clause",0\n',
            3,
            r"closes only on line 4, so the lines between were read as one field",
        ),
        (  # an inner quote not doubled
            'text,data_sharing\n"we call it "sharing" here",1\n',
            2,
            r"text follows the closing quote of a quoted field; write any quote inside a quoted "
            r'field as two quotes \(""\)',
        ),
        (  # a quoted field over several lines whose row lacks columns
            'id,text,data_sharing\n"a\nb",we share\n',
            2,
            r"this row has 2 fields but the header has 3 columns and a quoted field runs on to "
            r"line 3",
        ),
    ],
)
def test_unterminated_or_broken_quote_names_the_line_it_opened(tmp_path, content, line, message):
    assert_refused(write(tmp_path, "bad.csv", content), line, message)


@pytest.mark.parametrize(
    ("content", "texts"),
    [
        (
            'text,data_sharing\n"we share data\nwith partners, and others",1\nnext,0\n',
            ["we share data\nwith partners, and others", "next"],
        ),
        (
            'id,text,data_sharing\nx,"line one\nline two\nline three",1\ny,"He said ""hi""",0\n',
            ["line one\nline two\nline three", 'He said "hi"'],
        ),
        (  # CRLF line endings, a quoted field with a comma and CRLF inside
            'text,data_sharing\r\n"a, b\r\nc",1\r\nd,0\r\n',
            ["a, b\r\nc", "d"],
        ),
        (  # a label column before the multi-line text
            'data_sharing,text\n1,"first\n0,not a row: only the end of this clause"\n0,next\n',
            ["first\n0,not a row: only the end of this clause", "next"],
        ),
        ('text,data_sharing\nwe said "no" to that,1\n', ['we said "no" to that']),
    ],
)
def test_closed_multiline_quoted_fields_still_read(tmp_path, content, texts):
    rows = read_clause_file(write(tmp_path, "ok.csv", content), TAXONOMY)
    assert [r["text"] for r in rows] == texts


def test_multiline_row_keeps_its_id_and_later_rows_their_lines(tmp_path):
    content = 'text,data_sharing\n"a\nb",1\nc,0\n'
    rows = read_clause_file(write(tmp_path, "ok.csv", content), TAXONOMY)
    assert [r["id"] for r in rows] == ["ok-3", "ok-4"]
    assert_refused(write(tmp_path, "bad.csv", content + "d,2\n"), 5, "must be 1, 0 or empty")


# --- 5. other type and range problems -------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"labels": [2] + ZEROS[1:]},
            r"`labels` value for 'ai_training' must be 0 or 1, got the number 2",
        ),
        (
            {"labels": [True] + ZEROS[1:]},
            r"`labels` value for 'ai_training' must be 0 or 1, got true",
        ),
        ({"labels": ZEROS[:-1] + [0.5]}, r"must be 0 or 1, got the number 0.5"),
        ({"labels": ZEROS[:-1] + [None]}, r"must be 0 or 1, got null"),
        ({"labels": [0, 1]}, rf"`labels` has 2 values but the taxonomy has {N} labels"),
        ({"labels": ZEROS, "label_mask": [1, 1]}, r"`label_mask` has 2 values but the taxonomy"),
        (
            {"labels": ZEROS, "label_mask": [-1] + ZEROS[1:]},
            r"`label_mask` value for 'ai_training'",
        ),
        ({"labels": ["spying"]}, r"unknown label 'spying' in `labels`; use the taxonomy's labels"),
        ({"labels": [], "annotated": ["spying"]}, r"unknown label 'spying' in `annotated`"),
        (
            {"labels": ["data_sharing"], "annotated": ["ai_training"]},
            r"label 'data_sharing' is in `labels` but not in `annotated`",
        ),
        (
            {"labels": ["data_sharing"], "label_mask": [1] * N},
            r"`label_mask` goes with 0/1 `labels`, not with label names",
        ),
        (
            {"labels": ZEROS, "annotated": ["data_sharing"]},
            r"`annotated` goes with label names in `labels`",
        ),
        ({"labels": [], "id": ["x"]}, r"`id` must be a string, got a list"),
        ({"labels": [], "id": True}, r"`id` must be a string, got true"),
        ({"labels": [], "id": "  "}, r"empty `id`"),
        ({"labels": [], "service": {"name": "x"}}, r"`service` must be a string, got an object"),
        ({"labels": [], "source": ["a"]}, r"`source` must be a string, got a list"),
        ({"labels": [], "origin": "synthetic"}, r"`origin` must be real or team"),
        ({"labels": [], "id": "first"}, r"duplicate id 'first' \(first on line 1\)"),
    ],
)
def test_jsonl_type_and_range_problems(tmp_path, item, message):
    first = {**GOOD, "id": "first"}
    path = write(tmp_path, "bad.jsonl", jsonl(first, {"text": "some clause", **item}))
    assert_refused(path, 2, message)


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (
            "text,data_sharing\nwe share,yes\n",
            2,
            r"column 'data_sharing' must be 1, 0 or empty, got 'yes'",
        ),
        ("text,data_sharing\nwe share,2\n", 2, r"must be 1, 0 or empty, got '2'"),
        ("text,data_sharing\n  ,1\n", 2, r"empty `text`; give every row"),
        ("text,data_sharing\nwe share, sell,1\n", 2, r"this row has 3 fields but the header has 2"),
        (
            "text,data_sharing,ai_training\nwe share\n",
            2,
            r"this row has 1 fields but the header has 3",
        ),
        ("id,text\na,one\na,two\n", 3, r"duplicate id 'a' \(first on line 2\)"),
        (
            "text,data_sharing,data_sharing\nx,1,0\n",
            1,
            r"column\(s\) \['data_sharing'\] appear twice",
        ),
        (
            "text;data_sharing\nwe share;1\n",
            1,
            r"needs a `text` column; the header is one column holding ';'",
        ),
        ("body,data_sharing\nwe share,1\n", 1, r"needs a `text` column; add a header row"),
        ("", 1, r"needs a `text` column"),
        ("text,spying\nx,1\n", 1, r"unknown column\(s\) \['spying'\]"),
        ("text,origin\nx,synthetic\n", 2, r"`origin` must be real or team"),
    ],
)
def test_csv_type_and_range_problems(tmp_path, content, line, message):
    assert_refused(write(tmp_path, "bad.csv", content), line, message)


def test_well_formed_files_read(tmp_path):
    vector = {
        "id": 7,
        "text": "we keep it",
        "labels": [int(n == "data_retention") for n in NAMES],
        "label_mask": [int(n != "ai_training") for n in NAMES],
        "source": "tosdr",
        "service": None,
        "origin": "team",
    }
    names = {"text": "we share it", "labels": [], "annotated": ["data_sharing"]}
    rows = read_clause_file(write(tmp_path, "ok.jsonl", jsonl(vector, names)), TAXONOMY)
    assert rows[0]["id"] == "7" and rows[0]["service"] == "" and rows[0]["origin"] == "team"
    assert rows[0]["labels"] == vector["labels"] and rows[0]["label_mask"] == vector["label_mask"]
    assert rows[1]["id"] == "ok-2" and rows[1]["origin"] == "real"
    assert rows[1]["labels"] == ZEROS and rows[1]["label_mask"] == [
        int(n == "data_sharing") for n in NAMES
    ]

    csv_text = "id,text,data_sharing,ai_training,origin\n,we share,1,,\nb, we train ,0,1,team\n"
    rows = read_clause_file(write(tmp_path, "ok.CSV", csv_text), TAXONOMY)
    assert [r["id"] for r in rows] == ["ok-2", "b"]
    assert [r["text"] for r in rows] == ["we share", "we train"]
    assert [r["origin"] for r in rows] == ["real", "team"]
    ds, ai = NAMES.index("data_sharing"), NAMES.index("ai_training")
    assert (rows[0]["labels"][ds], rows[0]["label_mask"][ds], rows[0]["label_mask"][ai]) == (
        1,
        1,
        0,
    )
    assert (rows[1]["labels"][ai], rows[1]["label_mask"][ds]) == (1, 1)
