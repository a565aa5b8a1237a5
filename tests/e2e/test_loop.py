"""The whole loop as a user runs it, with real processes: commands, a Celery worker,
the web server, the real SmolLM2 model. Once on PostgreSQL + Redis with a worker
started beside it, once on the embedded default (SQLite, filesystem queue, the
worker started by `run_campaign --wait` itself)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.support.app import App, make_app

pytestmark = pytest.mark.slow

CAMPAIGN = """\
slug: tea-loop
name: Tea loop
task: instruction
source: tea
count: 4
fewshot: 2
diversity:
  topic: [brewing, kinds]
generator:
  backend: transformers
  params: {temperature: 0.8, top_p: 0.95, max_tokens: 80, seed: 7}
"""


@pytest.fixture(params=["postgres-redis", "embedded"])
def app(request, tmp_path):
    with make_app(request.param, tmp_path) as a:
        yield a


def test_the_whole_loop_runs_from_import_to_capped_export(app: App, tmp_path: Path):
    app.ok("migrate", "--noinput")
    assert "imported 10, skipped 0" in app.ok(
        "import_examples", str(DATA / "tea_train.jsonl"), "--source", "tea"
    )
    assert "imported 0, skipped 10" in app.ok(
        "import_examples", str(DATA / "tea_train.jsonl"), "--source", "tea"
    )
    app.ok(
        "import_examples", str(DATA / "tea_heldout.jsonl"), "--source", "tea-heldout", "--split", "heldout"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        b'{"prompt": "fine?", "response": "a fine answer"}\n{"prompt": "caf\xe9", "response": "x"}\n'
    )
    refused = app.manage("import_examples", str(bad), "--source", "bad")
    assert refused.returncode != 0 and "bad.jsonl: line 2: not UTF-8" in refused.stderr
    assert "Traceback" not in refused.stderr

    (tmp_path / "tea.yaml").write_text(CAMPAIGN)
    app.ok("create_campaign", str(tmp_path / "tea.yaml"))
    if app.mode == "postgres-redis":  # production shape: a worker runs beside the app
        app.worker()
    run = app.manage("run_campaign", "tea-loop", "--wait", timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "triaged" in run.stderr  # the progress bar
    shown = json.loads(app.ok("show_campaign", "tea-loop", "--json"))
    counts = shown["counts"]
    assert shown["status"] == "done"
    assert sum(counts.values()) == 4 and counts["generated"] == counts["scored"] == 0
    assert counts["in_review"] >= 1, counts
    if app.mode == "postgres-redis":  # the worker counts the scored candidates into the figures
        deadline = time.monotonic() + 180
        while "diversity" not in shown and time.monotonic() < deadline:
            time.sleep(2)
            shown = json.loads(app.ok("show_campaign", "tea-loop", "--json"))
        assert shown["diversity"]["n"] == 4 and "vendi" in shown["diversity"]["change"]

    admin, expert, viewer = app.token("ann", "admin"), app.token("eve", "expert"), app.token("vic", "viewer")
    app.serve()
    assert app.api("GET", "/api/v1/campaigns")[0] == 401
    assert app.api("GET", "/api/v1/campaigns", viewer)[0] == 200
    assert app.api("POST", "/api/v1/campaigns/tea-loop/next", viewer)[0] == 403
    status, listed = app.api("GET", "/api/v1/campaigns/tea-loop/candidates", viewer)
    assert status == 200 and listed["count"] == 4
    lineage = app.ok(
        "shell",
        "-c",
        "import json; from curation.campaigns.models import Candidate as C; "
        "print(json.dumps([dict(generator=c.generator, seed=c.seed, parents=c.parents, "
        "prompt=c.rendered_prompt, depth=c.generation_depth, sha=c.content_sha256) "
        "for c in C.objects.all()]))",
    )
    for row in json.loads(lineage.strip().splitlines()[-1]):
        assert row["generator"]["backend"] == "transformers" and row["generator"]["model"]
        assert row["seed"] is not None and len(row["parents"]) == 2 and row["depth"] == 1
        assert "Q:" in row["prompt"] and len(row["sha"]) == 64

    decided = 0
    while True:
        status, item = app.api("POST", "/api/v1/campaigns/tea-loop/next", expert)
        if status == 204:
            break
        assert status == 200
        assert (
            app.api("POST", f"/api/v1/candidates/{item['id']}/review", expert, {"decision": "accept"})[0]
            == 200
        )
        decided += 1
    assert decided == counts["in_review"]

    out = tmp_path / "export"
    export_id = app.ok(
        "export_dataset",
        "--campaign",
        "tea-loop",
        "--source",
        "tea",
        "--max-synthetic",
        "0.3",
        "--format",
        "jsonl",
        "--out",
        str(out),
    ).strip()
    assert export_id.isdigit()
    records = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    origins = [r["provenance"]["origin"] for r in records]
    assert origins.count("human") == 10
    assert 1 <= len(records) - 10 <= 4  # approved synthetic, capped at floor(0.3 * 10 / 0.7) = 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["synthetic_fraction"]["overall"] <= 0.3
    heldout = {json.loads(line)["prompt"] for line in (DATA / "tea_heldout.jsonl").read_text().splitlines()}
    assert not heldout & {r.get("prompt") for r in records}
    status, served = app.api("GET", f"/api/v1/exports/{export_id}", viewer)
    assert status == 200 and served == manifest
    status, exports = app.api("GET", "/api/v1/exports", admin)
    assert status == 200 and [e["id"] for e in exports] == [int(export_id)]
