"""Importing human-written data (CONTRACT "Data files" and `import_examples`): JSONL, CSV
and Parquet, instruction and chat rows; a file with any bad row imports nothing and the
one-line error names the file, the line (or row) and the field."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from curation.sources import services
from curation.sources.models import Example, Source
from tests.conftest import DATA
from workers.critics.text import text_key

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db

ROWS = [
    {"id": "tea-a", "prompt": "How hot for green tea?", "response": "About 75 degrees.", "topic": "brewing"},
    {"id": "tea-b", "prompt": "What is oolong?", "response": "A partly oxidized tea.", "topic": "kinds"},
    {"id": "tea-c", "prompt": "Where to keep tea?", "response": "In a sealed tin.", "topic": "storage"},
]
CHAT = {
    "id": "chat-1",
    "messages": [
        {"role": "system", "content": "You are a tea expert."},
        {"role": "user", "content": "What is sencha?"},
        {"role": "assistant", "content": "A steamed Japanese green tea."},
        {"role": "user", "content": "And gyokuro?"},
        {"role": "assistant", "content": "Sencha grown in shade for weeks before picking."},
    ],
    "topic": "kinds",
}


def jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(path: Path, source: str = "tea", *args: str) -> str:
    out = StringIO()
    call_command("import_examples", str(path), "--source", source, *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def refused(path: Path, source: str = "tea", *args: str) -> str:
    with pytest.raises(CommandError) as error:
        run(path, source, *args)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_it_imports_jsonl_rows_with_their_ids_and_metadata(tmp_path):
    assert run(jsonl(tmp_path / "tea.jsonl", ROWS), "tea", "--license", "CC0-1.0") == (
        "imported 3, skipped 0 duplicates"
    )
    source = Source.objects.get(name="tea")
    assert (source.split, source.license) == ("train", "CC0-1.0")
    examples = list(source.examples.order_by("row_number"))
    assert [(e.external_id, e.prompt, e.response, e.metadata) for e in examples] == [
        (r["id"], r["prompt"], r["response"], {"topic": r["topic"]}) for r in ROWS
    ]
    assert [e.row_number for e in examples] == [1, 2, 3]
    assert {e.kind for e in examples} == {"instruction"}
    assert examples[0].messages is None
    assert examples[0].text_key == text_key("about 75   DEGREES.")


def test_it_imports_held_out_data_under_its_split(tmp_path):
    assert (
        run(DATA / "tea_heldout.jsonl", "tea-heldout", "--split", "heldout")
        == "imported 2, skipped 0 duplicates"
    )
    assert Source.objects.get(name="tea-heldout").split == "heldout"


def test_it_imports_csv_with_metadata_columns_and_ids(tmp_path):
    path = tmp_path / "tea.csv"
    path.write_text(
        "\ufeffid,prompt,response,topic,level\n"
        'tea-a,How hot for green tea?,"About 75 degrees, not boiling.",brewing,1\n'
        'tea-b,"What is ""oolong""?",A partly oxidized tea.,kinds,2\n',
        encoding="utf-8",
    )
    assert run(path) == "imported 2, skipped 0 duplicates"
    examples = list(Example.objects.order_by("id"))
    assert [(e.external_id, e.prompt, e.response, e.metadata, e.row_number) for e in examples] == [
        (
            "tea-a",
            "How hot for green tea?",
            "About 75 degrees, not boiling.",
            {"topic": "brewing", "level": "1"},
            2,
        ),
        ("tea-b", 'What is "oolong"?', "A partly oxidized tea.", {"topic": "kinds", "level": "2"}, 3),
    ]


def test_it_imports_parquet_with_typed_metadata(tmp_path):
    path = tmp_path / "tea.parquet"
    table = pa.table(
        {
            "id": [1, 2],
            "prompt": ["How hot for green tea?", "What is oolong?"],
            "response": ["About 75 degrees.", "A partly oxidized tea."],
            "topic": ["brewing", "kinds"],
            "rating": [4.5, None],
            "written": [datetime.date(2024, 5, 1), datetime.date(2024, 5, 2)],
            "tags": [["green", "hot"], []],
        }
    )
    pq.write_table(table, path)
    assert run(path) == "imported 2, skipped 0 duplicates"
    first, second = Example.objects.order_by("row_number")
    assert (first.external_id, first.prompt, first.row_number) == ("1", "How hot for green tea?", 1)
    assert first.metadata == {
        "topic": "brewing",
        "rating": 4.5,
        "written": "2024-05-01",
        "tags": ["green", "hot"],
    }
    assert second.metadata == {"topic": "kinds", "rating": None, "written": "2024-05-02", "tags": []}


def test_it_imports_chat_rows_with_user_and_assistant_turns_as_prompt_and_response(tmp_path):
    assert run(jsonl(tmp_path / "chat.jsonl", [CHAT])) == "imported 1, skipped 0 duplicates"
    example = Example.objects.get()
    assert example.kind == "chat"
    assert example.messages == CHAT["messages"]
    assert example.prompt == "What is sencha?\n\nAnd gyokuro?"
    assert (
        example.response == "A steamed Japanese green tea.\n\nSencha grown in shade for weeks before picking."
    )
    assert (example.external_id, example.metadata) == ("chat-1", {"topic": "kinds"})


def test_it_reads_chat_messages_from_a_json_text_column_in_csv(tmp_path):
    path = tmp_path / "chat.csv"
    messages = json.dumps(CHAT["messages"][1:3]).replace('"', '""')
    path.write_text(f'id,messages,topic\nchat-1,"{messages}",kinds\n', encoding="utf-8")
    assert run(path) == "imported 1, skipped 0 duplicates"
    example = Example.objects.get()
    assert (example.kind, example.prompt, example.response) == (
        "chat",
        "What is sencha?",
        "A steamed Japanese green tea.",
    )


def test_it_reads_chat_messages_from_a_parquet_list_column(tmp_path):
    path = tmp_path / "chat.parquet"
    pq.write_table(pa.table({"messages": [CHAT["messages"]], "topic": ["kinds"]}), path)
    assert run(path) == "imported 1, skipped 0 duplicates"
    example = Example.objects.get()
    assert example.messages == CHAT["messages"]
    assert example.metadata == {"topic": "kinds"}


def test_reimporting_the_same_file_imports_nothing(tmp_path):
    path = jsonl(tmp_path / "tea.jsonl", ROWS)
    run(path)
    assert run(path) == "imported 0, skipped 3 duplicates"
    assert Example.objects.count() == 3


def test_a_grown_file_imports_only_its_new_rows(tmp_path):
    run(jsonl(tmp_path / "tea.jsonl", ROWS[:2]))
    assert run(jsonl(tmp_path / "tea.jsonl", ROWS)) == "imported 1, skipped 2 duplicates"
    assert list(Example.objects.order_by("id").values_list("external_id", flat=True)) == [
        "tea-a",
        "tea-b",
        "tea-c",
    ]


def test_duplicate_rows_inside_one_file_are_imported_once(tmp_path):
    again = {**ROWS[0], "id": "tea-a-again", "topic": "elsewhere"}  # same sample, other id and metadata
    path = jsonl(tmp_path / "tea.jsonl", [ROWS[0], ROWS[1], again, ROWS[1]])
    assert run(path) == "imported 2, skipped 2 duplicates"
    assert list(Example.objects.order_by("id").values_list("external_id", flat=True)) == ["tea-a", "tea-b"]


def test_the_same_rows_in_another_source_are_imported_there_too(tmp_path):
    path = jsonl(tmp_path / "tea.jsonl", ROWS)
    run(path, "tea")
    assert run(path, "tea-copy") == "imported 3, skipped 0 duplicates"


def test_large_files_are_written_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 2)
    rows = [{"prompt": f"Question {i}?", "response": f"Answer number {i}."} for i in range(5)]
    assert run(jsonl(tmp_path / "tea.jsonl", rows)) == "imported 5, skipped 0 duplicates"
    assert sorted(Example.objects.values_list("row_number", flat=True)) == [1, 2, 3, 4, 5]


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path):
    path = tmp_path / "tea.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n  \n" + json.dumps(ROWS[1]) + "\n", encoding="utf-8")
    run(path)
    assert list(Example.objects.order_by("id").values_list("row_number", flat=True)) == [1, 4]


def test_a_bad_row_at_the_end_leaves_nothing_imported(tmp_path):
    path = jsonl(tmp_path / "tea.jsonl", [*ROWS, {"prompt": "Last one?"}])
    assert refused(path) == "tea.jsonl: line 4: missing field 'response' (or give 'messages')"
    assert not Example.objects.exists()
    assert not Source.objects.exists()


def test_a_bad_file_leaves_an_existing_source_as_it_was(tmp_path):
    run(jsonl(tmp_path / "first.jsonl", ROWS[:1]))
    bad = jsonl(tmp_path / "more.jsonl", [ROWS[1], ROWS[2], {"prompt": "", "response": "x"}])
    assert refused(bad) == "more.jsonl: line 3: field 'prompt' must be non-empty text"
    assert list(Example.objects.values_list("external_id", flat=True)) == ["tea-a"]


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


GOOD_LINE = json.dumps(ROWS[0]) + "\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '{"prompt": "What?", "response": "This",}\n',
            "bad.jsonl: line 2: invalid JSON "
            "(Expecting property name enclosed in double quotes at column 40)",
            id="bad JSON",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '{"response": "Tea."}\n',
            "bad.jsonl: line 2: missing field 'prompt' (or give 'messages')",
            id="missing field",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '{"prompt": "   ", "response": "Tea."}\n',
            "bad.jsonl: line 2: field 'prompt' must be non-empty text",
            id="empty prompt",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '{"prompt": "Why?", "response": 42}\n',
            "bad.jsonl: line 2: field 'response' must be non-empty text",
            id="response not text",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE.encode() + b'{"prompt": "Caf\xe9?", "response": "Tea."}\n',
            "bad.jsonl: line 2: not UTF-8 text (byte 0xe9 at column 16)",
            id="non-UTF-8 bytes",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '["What?", "Tea."]\n',
            "bad.jsonl: line 2: expected an object with prompt and response, or messages",
            id="not an object",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE
            + '{"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "Yo"}]}\n',
            "bad.jsonl: line 2: messages[1] must be {role: system|user|assistant, content: text}",
            id="bad message role",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '{"messages": [{"role": "user", "content": "Hi"}]}\n',
            "bad.jsonl: line 2: field 'messages' needs a user turn and an assistant turn",
            id="no assistant turn",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE
            + '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": " "}]}\n',
            "bad.jsonl: line 2: field 'messages' needs a user turn and an assistant turn",
            id="empty assistant turn",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '{"messages": "hello"}\n',
            "bad.jsonl: line 2: field 'messages' is not a JSON list",
            id="messages not a list",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '{"messages": []}\n',
            "bad.jsonl: line 2: field 'messages' must be a non-empty list of {role, content}",
            id="messages empty",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '{"prompt": "Why?", "response": "Tea.", "score": NaN}\n',
            "bad.jsonl: line 2: field 'score' is nan, which JSON cannot store",
            id="NaN metadata",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + '{"prompt": "Why\\u0000?", "response": "Tea."}\n',
            "bad.jsonl: line 2: field 'prompt' contains a NUL character (\\u0000)",
            id="NUL character",
        ),
        pytest.param(
            "bad.jsonl",
            GOOD_LINE + json.dumps({"id": "x" * 201, "prompt": "Why?", "response": "Tea."}) + "\n",
            "bad.jsonl: line 2: field 'id' is longer than 200 characters",
            id="id too long",
        ),
        pytest.param(
            "bad.csv",
            "prompt,response\nWhat?,Tea.\nWhy?,Because.,extra\n",
            "bad.csv: line 3: more fields than the header has",
            id="CSV with extra fields",
        ),
        pytest.param(
            "bad.csv",
            "prompt,response,topic\nWhat?,Tea.,kinds\nWhy?\n",
            "bad.csv: line 3: missing field 'response' (or give 'messages')",
            id="CSV with too few fields",
        ),
        pytest.param(
            "bad.csv",
            b"prompt,response\nWhat?,Tea.\nCaf\xe9?,Tea.\n",
            "bad.csv: line 3: not UTF-8 text (byte 0xe9)",
            id="CSV non-UTF-8 bytes",
        ),
        pytest.param("bad.csv", "", "bad.csv: empty CSV file (no header row)", id="empty CSV"),
        pytest.param(
            "bad.txt",
            GOOD_LINE,
            "bad.txt: unknown file type .txt; use .jsonl, .csv or .parquet",
            id="unknown file type",
        ),
        pytest.param(
            "bad.parquet",
            b"PAR1 this is not parquet",
            "bad.parquet: not a readable Parquet file",
            id="broken Parquet",
        ),
    ],
)
def test_it_refuses_a_file_with_a_bad_row_naming_file_line_and_field(tmp_path, name, content, message):
    path = write(tmp_path / name, content)
    got = refused(path)
    if name == "bad.txt":
        message = f"{tmp_path}/{message}"
    if name == "bad.parquet":  # pyarrow's own reason follows
        got = got.split(" (")[0]
    assert got == message
    assert not Example.objects.exists()


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        (
            "response",
            ["Tea.", None],
            "bad.parquet: row 2: missing field 'response' (or give 'messages')",
        ),
        (
            "blob",
            [b"\x00", b"\x01"],
            "bad.parquet: row 1: field 'blob' holds bytes data, which metadata cannot store",
        ),
    ],
)
def test_it_refuses_a_bad_parquet_row_naming_the_row_and_field(tmp_path, column, values, message):
    path = tmp_path / "bad.parquet"
    columns = {"prompt": ["What?", "Why?"], "response": ["Tea.", "Because."], column: values}
    pq.write_table(pa.table(columns), path)
    assert refused(path) == message
    assert not Example.objects.exists()


def test_it_refuses_a_missing_file(tmp_path):
    assert refused(tmp_path / "nowhere.jsonl") == f"{tmp_path}/nowhere.jsonl: no such file"


def test_it_refuses_held_out_data_for_an_existing_train_source(tmp_path):
    run(jsonl(tmp_path / "tea.jsonl", ROWS[:1]))
    message = refused(jsonl(tmp_path / "more.jsonl", ROWS[1:]), "tea", "--split", "heldout")
    assert message == "source 'tea' is train; import heldout data under another name"
    assert Example.objects.count() == 1


@pytest.mark.parametrize("name", ["tea time", "t" * 101, ""])
def test_it_refuses_a_source_name_that_is_not_a_slug(tmp_path, name):
    message = refused(jsonl(tmp_path / "tea.jsonl", ROWS), name)
    assert message == f"source name must be 1 to 100 letters, digits, '-' or '_', not {name!r}"
    assert not Source.objects.exists()


def test_the_command_fails_in_a_real_process_with_one_line_and_no_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'assay.sqlite3'}", ASSAY_DATA_DIR=str(tmp_path / "var"))

    def manage(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "manage.py", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    migrated = manage("migrate", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    bad = jsonl(tmp_path / "bad.jsonl", [*ROWS, {"prompt": "Last?", "response": ""}])
    result = manage("import_examples", str(bad), "--source", "tea")
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip() == "CommandError: bad.jsonl: line 4: field 'response' must be non-empty text"
    assert result.stdout == ""
    good = manage("import_examples", str(DATA / "tea_train.jsonl"), "--source", "tea")
    assert (good.returncode, good.stdout) == (0, "imported 10, skipped 0 duplicates\n")
