"""inspect_data over the MCP surface, in the real sandbox: the pack's SQLite tables and a user's CSV files."""

from __future__ import annotations

import csv
import gzip
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from tests.conftest import IMAGE, share_pack
from tests.mcp_calls import call_error as _error
from tests.mcp_calls import call_ok as _call

pytestmark = pytest.mark.anyio




@pytest.fixture
def data_root(tmp_path: Path, shared_dir: Path) -> Path:
    """A MedAgentGym data directory: the public treqs task file (linked) plus small tables we write."""
    root = tmp_path / "medagentgym"
    (root / "treqs" / "extra").mkdir(parents=True)
    (root / "treqs" / "train_tasks.jsonl").symlink_to(shared_dir / "treqs" / "train_tasks.jsonl")
    with (root / "treqs" / "DEMOGRAPHIC.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["SUBJECT_ID", "HADM_ID", "NAME", "MARITAL_STATUS", "AGE"])
        for i in range(1, 251):
            writer.writerow([i, 1000 + i, f"Patient {i}", ["MARRIED", "SINGLE", "WIDOWED"][i % 3], 20 + i % 60])
    with gzip.open(root / "treqs" / "LAB.csv.gz", "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["HADM_ID", "LABEL", "VALUENUM"])
        for i in range(300):
            writer.writerow([1000 + i % 250, ["Hemoglobin", "Glucose", "Potassium"][i % 3], i / 10])
    (root / "treqs" / "extra" / "notes.tsv").write_text("NOTE_ID\tTEXT\n1\tchest pain, troponin negative\n"
                                                        "2\tno acute distress\n")
    return root


@pytest.fixture
def pack_settings(tmp_path: Path, pack_home: Path, data_root: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    share_pack(home, pack_home)  # the session's built pack, with a store of our own
    return Settings(home=home, data_dir=data_root, image=IMAGE, pack=True, pool_size=0)


@pytest.fixture
async def client(pack_settings: Settings, docker_ready: None, no_leftover_containers: None) -> AsyncIterator[Client]:
    async with Client(build_server(pack_settings).mcp) as connected:
        yield connected


def _pack_db(pack_home: Path) -> Path:
    return next((pack_home / "pack").glob("*/medgym_ehr/mimic_iii.sqlite"))


async def _ehr_task(client: Client) -> str:
    page = await _call(client, "list_tasks", dataset="medgym_ehr", limit=1)
    return str(page["tasks"][0]["task_id"])


async def test_pack_tables_listed_described_counted_and_searched(client: Client, pack_home: Path) -> None:
    task = await _ehr_task(client)
    db = sqlite3.connect(_pack_db(pack_home))
    listing = await _call(client, "inspect_data", task_id=task, action="list_tables")
    assert listing["columns"] == ["table", "format", "path", "size", "rows", "columns"]
    tables = {row[0]: row for row in listing["rows"]}
    assert {"PATIENTS", "ADMISSIONS", "PRESCRIPTIONS", "LABEVENTS", "CHARTEVENTS", "COST"} <= set(tables)
    admissions = tables["ADMISSIONS"]
    assert admissions[1] == "sqlite" and "/data/medgym_ehr/mimic_iii.sqlite" in admissions[2]
    assert "ADMISSIONS.csv" in admissions[2]  # the CSV it shadows is named too
    assert admissions[4] == db.execute("SELECT COUNT(*) FROM ADMISSIONS").fetchone()[0]
    assert not any("task" in name.lower() for name in tables), "task files must never be visible"
    episode = listing["episode_id"]

    described = await _call(client, "inspect_data", task_id=task, action="describe_table", table="admissions")
    columns = [row[0] for row in described["rows"]]
    assert columns == [r[1] for r in db.execute("PRAGMA table_info(ADMISSIONS)")]
    assert "hadm_id" in columns and "sqlite3.connect" in described["text"] and "ADMISSIONS.csv" in described["text"]
    assert described["episode_id"] == episode

    values = await _call(client, "inspect_data", task_id=task, action="column_values", table="PRESCRIPTIONS",
                         column="route")
    expected = db.execute("SELECT ROUTE, COUNT(*) FROM PRESCRIPTIONS WHERE ROUTE IS NOT NULL GROUP BY ROUTE "
                          "ORDER BY COUNT(*) DESC").fetchall()
    assert values["rows"][: len(expected)] == [list(r) for r in expected][:50]

    drug = db.execute("SELECT DRUG FROM PRESCRIPTIONS GROUP BY DRUG ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    found = await _call(client, "inspect_data", task_id=task, action="search", term=drug.lower()[:6])
    assert ["PRESCRIPTIONS", "drug", drug, db.execute(
        "SELECT COUNT(*) FROM PRESCRIPTIONS WHERE DRUG = ?", (drug,)).fetchone()[0]] in found["rows"]
    by_name = await _call(client, "inspect_data", task_id=task, action="search", term="hadm", table="ICUSTAYS")
    assert ["ICUSTAYS", "hadm_id", "column name", None] in by_name["rows"]
    # no SQL, reference solution or answer is reachable: the data holds none
    assert (await _call(client, "inspect_data", task_id=task, action="search", term="select "))["rows"] == []

    trajectory = json.loads((await client.read_resource(f"medgym://episodes/{episode}")).contents[0].text)
    assert [e["tool"] for e in trajectory["events"]].count("inspect_data") == 6


async def test_csv_gz_and_tsv_tables_of_a_users_data_directory(client: Client) -> None:
    # any treqs task: the test gave treqs a data folder of its own
    treqs = (await _call(client, "list_tasks", dataset="treqs", limit=1))["tasks"][0]["task_id"]
    listing = await _call(client, "inspect_data", task_id=treqs, action="list_tables")
    rows = {row[0]: row for row in listing["rows"]}
    assert set(rows) == {"DEMOGRAPHIC", "LAB"}  # extra/notes.tsv: not in TREQS's allowlist, never mounted
    assert rows["DEMOGRAPHIC"][1:3] == ["csv", "/data/treqs/DEMOGRAPHIC.csv"] and rows["DEMOGRAPHIC"][4] == 250
    assert rows["LAB"][4] is None  # a gzipped file is not counted just to list it

    described = await _call(client, "inspect_data", task_id=treqs, action="describe_table", table="LAB")
    assert [r[0] for r in described["rows"]] == ["HADM_ID", "LABEL", "VALUENUM"]
    assert described["text"].startswith("LAB: 300 rows, 3 columns")
    assert "pandas.read_csv('/data/treqs/LAB.csv.gz')" in described["text"]

    values = await _call(client, "inspect_data", task_id=treqs, action="column_values", table="DEMOGRAPHIC",
                         column="MARITAL_STATUS")
    assert sorted(values["rows"]) == [["MARRIED", 83], ["SINGLE", 84], ["WIDOWED", 83]]
    assert "250 rows" in values["text"]
    ages = await _call(client, "inspect_data", task_id=treqs, action="column_values", table="DEMOGRAPHIC",
                       column="AGE")
    assert "Numeric range: 20 to 79" in ages["text"] and len(ages["rows"]) == 50 and ages["truncated"]
    filtered = await _call(client, "inspect_data", task_id=treqs, action="column_values", table="LAB",
                           column="LABEL", term="GLU")
    assert filtered["rows"] == [["Glucose", 100]]

    found = await _call(client, "inspect_data", task_id=treqs, action="search", term="troponin")
    assert found["rows"] == []  # the folder outside the allowlist is not in the sandbox
    numbers = await _call(client, "inspect_data", task_id=treqs, action="search", term="10")
    assert all(row[2] != "1010" for row in numbers["rows"]), "numeric columns are not searched as text"


async def test_mistakes_get_errors_a_model_can_act_on(client: Client) -> None:
    task = await _ehr_task(client)
    assert "did you mean: ADMISSIONS" in await _error(client, "inspect_data", task_id=task,
                                                      action="describe_table", table="ADMISIONS")
    message = await _error(client, "inspect_data", task_id=task, action="column_values", table="PATIENTS",
                           column="AGE")
    assert "PATIENTS has no column 'AGE'" in message and "subject_id" in message
    assert "needs `table`" in await _error(client, "inspect_data", task_id=task, action="describe_table")
    assert "at least 2 characters" in await _error(client, "inspect_data", task_id=task, action="search", term="a")
    assert "list_tables" in await _error(client, "inspect_data", task_id=task, action="drop_table")
    calc = (await _call(client, "list_tasks", dataset="medgym_calc", limit=1))["tasks"][0]["task_id"]
    assert "no data files" in await _error(client, "inspect_data", task_id=calc, action="list_tables")
    assert "unknown task" in (await _error(client, "inspect_data", task_id="nope/x/1", action="list_tables")).lower()
    # a misspelt argument name is refused, not silently ignored
    message = await _error(client, "inspect_data", task_id=task, action="describe_table", table_name="PATIENTS")
    assert "unknown argument 'table_name' for inspect_data" in message and "table" in message
    message = await _error(client, "run_code", task_id=task, code="print(1)", timeout=5)
    assert "unknown argument 'timeout'" in message and "timeout_s" in message
