"""`import_candidates`: synthetic samples made elsewhere, with their lineage, imported
into a campaign to be scored and reviewed here. Same readers, atomicity and idempotency
as human imports."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from curation.campaigns.imports import candidates_import
from curation.campaigns.models import Candidate, CandidateStatus
from tests.conftest import DATA
from workers.critics.text import content_sha256, text_key

ROW = {"prompt": "What is matcha?", "response": "Green tea ground to a fine powder and whisked into water."}


def jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(path: Path, campaign: str = "tea") -> str:
    out = StringIO()
    call_command("import_candidates", str(path), "--campaign", campaign, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def refused(path: Path, campaign: str = "tea") -> str:
    with pytest.raises(CommandError) as error:
        run(path, campaign)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_it_imports_candidates_with_their_lineage_and_metadata(tea_campaign):
    assert run(DATA / "tea_candidates.jsonl") == "imported 6, skipped 0 duplicates"
    candidates = {c.external_id: c for c in tea_campaign.candidates.all()}
    assert sorted(candidates) == [f"syn-{i}" for i in range(1, 7)]
    first = candidates["syn-1"]
    assert first.prompt == "How much tea should I use per cup?"
    assert first.status == CandidateStatus.GENERATED
    assert first.generator == {"backend": "external", "model": "elsewhere-7b", "params": {}}
    assert (first.generation_depth, first.parents) == (1, [])
    assert first.metadata == {"topic": "brewing"}
    assert (
        first.content_sha256
        == first.import_key
        == content_sha256({"prompt": first.prompt, "response": first.response})
    )
    assert first.text_key == text_key(first.response)
    assert first.slot is None


def test_reimporting_the_same_file_imports_nothing(tea_campaign):
    run(DATA / "tea_candidates.jsonl")
    assert run(DATA / "tea_candidates.jsonl") == "imported 0, skipped 6 duplicates"
    assert tea_campaign.candidates.count() == 6


def test_duplicate_rows_inside_one_file_are_imported_once(tea_campaign, tmp_path):
    path = jsonl(tmp_path / "syn.jsonl", [ROW, {**ROW, "id": "again", "generation_depth": 2}])
    assert run(path) == "imported 1, skipped 1 duplicates"


def test_the_same_sample_may_be_imported_into_two_campaigns(tea_campaign, tmp_path):
    from curation.campaigns.config import parse_config
    from curation.campaigns.services import campaign_create_or_update

    other, _ = campaign_create_or_update(config=parse_config({"slug": "tea-2", "source": "tea", "count": 1}))
    path = jsonl(tmp_path / "syn.jsonl", [ROW])
    run(path, "tea")
    assert run(path, "tea-2") == "imported 1, skipped 0 duplicates"
    assert other.candidates.count() == 1


def test_a_missing_generator_model_is_recorded_as_unknown(tea_campaign, tmp_path):
    run(jsonl(tmp_path / "syn.jsonl", [ROW]))
    assert Candidate.objects.get().generator["model"] == "unknown"


@pytest.mark.parametrize(
    ("value", "depth"),
    [(None, 1), ("", 1), (1, 1), (2, 2), ("3", 3), (" 4 ", 4), (2.0, 2), ("5.0", 5), (32767, 32767)],
)
def test_generation_depth_defaults_to_one_and_takes_whole_numbers(tea_campaign, tmp_path, value, depth):
    row = {**ROW} if value is None else {**ROW, "generation_depth": value}
    run(jsonl(tmp_path / "syn.jsonl", [row]))
    candidate = Candidate.objects.get()
    assert candidate.generation_depth == depth
    assert "generation_depth" not in candidate.metadata


@pytest.mark.parametrize("value", [0, -1, 2.5, "two", "2.5", "2.", True, [2], 32768, "9" * 5000])
def test_a_bad_generation_depth_is_refused_with_its_line(tea_campaign, tmp_path, value):
    path = jsonl(
        tmp_path / "syn.jsonl", [ROW, {**ROW, "response": "Another answer.", "generation_depth": value}]
    )
    assert refused(path) == (
        f"syn.jsonl: line 2: generation_depth must be a whole number from 1 to 32767, not {value!r}"
    )
    assert not Candidate.objects.exists()


def test_a_bad_generation_depth_in_csv_names_the_line_and_the_text(tea_campaign, tmp_path):
    path = tmp_path / "syn.csv"
    path.write_text("prompt,response,generation_depth\nWhat?,Tea.,1\nWhy?,Because.,zero\n", encoding="utf-8")
    assert (
        refused(path)
        == "syn.csv: line 3: generation_depth must be a whole number from 1 to 32767, not 'zero'"
    )


@pytest.mark.parametrize(
    ("value", "parents"),
    [
        (["tea-1", "tea-2"], ["tea-1", "tea-2"]),
        ('["tea-1", "tea-2"]', ["tea-1", "tea-2"]),
        ("tea-1, tea-2", ["tea-1", "tea-2"]),
        ("tea-1", ["tea-1"]),
        ("tea-1,,", ["tea-1"]),
        ([7, 8], ["7", "8"]),
        ("", []),
        ([], []),
    ],
)
def test_parents_are_a_json_list_or_comma_separated_ids(tea_campaign, tmp_path, value, parents):
    run(jsonl(tmp_path / "syn.jsonl", [{**ROW, "parents": value}]))
    candidate = Candidate.objects.get()
    assert candidate.parents == parents
    assert "parents" not in candidate.metadata


@pytest.mark.parametrize("value", [5, {"id": "tea-1"}, "[tea-1", '["tea-1"'])
def test_bad_parents_are_refused_with_their_line(tea_campaign, tmp_path, value):
    path = jsonl(tmp_path / "syn.jsonl", [{**ROW, "parents": value}])
    assert refused(path) == "syn.jsonl: line 1: parents must be a list of ids"


def test_lineage_columns_in_csv(tea_campaign, tmp_path):
    path = tmp_path / "syn.csv"
    path.write_text(
        "id,prompt,response,topic,generator_model,generation_depth,parents\n"
        'c-1,What is matcha?,Powdered green tea.,kinds,big-70b,2,"tea-1,syn-9"\n',
        encoding="utf-8",
    )
    assert run(path) == "imported 1, skipped 0 duplicates"
    c = Candidate.objects.get()
    assert (c.external_id, c.generator["model"], c.generation_depth, c.parents, c.metadata) == (
        "c-1",
        "big-70b",
        2,
        ["tea-1", "syn-9"],
        {"topic": "kinds"},
    )


def test_lineage_columns_in_parquet(tea_campaign, tmp_path):
    path = tmp_path / "syn.parquet"
    table = pa.table(
        {
            "prompt": ["What is matcha?", "What is hojicha?"],
            "response": ["Powdered green tea.", "Roasted green tea."],
            "generation_depth": [2, None],
            "parents": [["tea-1"], None],
            "topic": ["kinds", "kinds"],
        }
    )
    pq.write_table(table, path)
    assert run(path) == "imported 2, skipped 0 duplicates"
    first, second = Candidate.objects.order_by("id")
    assert (first.generation_depth, first.parents, first.metadata) == (2, ["tea-1"], {"topic": "kinds"})
    assert (second.generation_depth, second.parents) == (1, [])


def test_a_bad_parquet_row_is_named_by_its_row_number(tea_campaign, tmp_path):
    path = tmp_path / "syn.parquet"
    table = pa.table(
        {"prompt": ["What?", "Why?"], "response": ["Tea.", "Because."], "generation_depth": [1, 0]}
    )
    pq.write_table(table, path)
    assert (
        refused(path) == "syn.parquet: row 2: generation_depth must be a whole number from 1 to 32767, not 0"
    )


def test_chat_candidates_keep_their_messages(tea_campaign, tmp_path):
    messages = [
        {"role": "user", "content": "What is matcha?"},
        {"role": "assistant", "content": "Powdered tea."},
    ]
    run(jsonl(tmp_path / "syn.jsonl", [{"messages": messages, "generator_model": "m"}]))
    c = Candidate.objects.get()
    assert (c.messages, c.prompt, c.response) == (messages, "What is matcha?", "Powdered tea.")
    assert c.content_sha256 == content_sha256({"messages": messages})


def test_a_bad_row_at_the_end_leaves_nothing_imported(tea_campaign, tmp_path):
    rows = [json.loads(line) for line in (DATA / "tea_candidates.jsonl").read_text().splitlines()]
    path = jsonl(tmp_path / "syn.jsonl", [*rows, {"prompt": "Last?", "response": "Yes.", "parents": 3}])
    assert refused(path) == "syn.jsonl: line 7: parents must be a list of ids"
    assert not Candidate.objects.exists()


def test_a_row_the_reader_refuses_is_named_too(tea_campaign, tmp_path):
    path = jsonl(tmp_path / "syn.jsonl", [ROW, {"prompt": "What?"}])
    assert refused(path) == "syn.jsonl: line 2: missing field 'response' (or give 'messages')"
    assert not Candidate.objects.exists()


def test_an_unknown_campaign_is_refused(db, tmp_path):
    assert refused(jsonl(tmp_path / "syn.jsonl", [ROW]), "coffee") == "no campaign 'coffee'"


def test_the_service_reports_what_it_imported(tea_campaign):
    result = candidates_import(path=DATA / "tea_candidates.jsonl", campaign=tea_campaign)
    assert (result.imported, result.skipped) == (6, 0)
