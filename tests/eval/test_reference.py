"""The packaged paper figures match the shared copy; malformed reference files fail clearly."""

import copy
import json
from pathlib import Path

import pytest

from xmner.eval.reference import load_reference, other_systems, reference_rows, table2_rows

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "paper" / "cmner-paper-tables.json"


def test_packaged_reference_has_the_published_cells():
    rows = {(r.model, r.schedule): r for r in reference_rows("table3")}
    assert (rows["ACN", "SRC&TGT"].precision, rows["ACN", "SRC&TGT"].f1) == (79.43, 76.73)
    t4 = {(r.model, r.schedule): r.f1 for r in reference_rows("table4")}
    assert (t4["UMT", "-"], t4["ACN", "TGT"]) == (73.41, 65.81)
    assert [r.f1 for r in other_systems("table4")] == [73.27, 74.85, 73.42, 74.7, 74.94]
    t2 = {(r.model, r.images): r for r in table2_rows()}
    assert t2["UMT", "all"].f1 == 89.5 and t2["ACN", "one"].per_type_f1["ORG"] == 75.01
    if SHARED.exists():
        assert load_reference() == json.loads(SHARED.read_text(encoding="utf-8"))


def _write(tmp_path, data) -> Path:
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["tables"].pop("table4"), "no table 'table4'"),
        (lambda d: d["tables"]["table3"]["rows"][0].pop("f1"), "rows[0] lacks ['f1']"),
        (lambda d: d["tables"]["table3"]["rows"][1].update(recall="72.5"), "recall is '72.5'"),
        (lambda d: d["tables"]["table4"]["rows"][2].update(schedule="MIX"), "unknown schedule"),
        (lambda d: d["tables"]["table2"]["rows"][0].update(images="two"), "images 'two'"),
        (lambda d: d["tables"]["table4"]["other_systems"][0].pop("model"), "lacks ['model']"),
    ],
)
def test_malformed_reference_names_file_and_expectation(tmp_path, mutate, message):
    data = copy.deepcopy(load_reference())
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ValueError) as err:
        load_reference(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "expected" in text
    assert "\n" not in text


def test_not_json_is_a_value_error(tmp_path):
    path = _write(tmp_path, "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_reference(path)


def test_null_cells_are_allowed_as_unknown(tmp_path):
    data = copy.deepcopy(load_reference())
    data["tables"]["table3"]["rows"][0].update(precision=None, recall=None, f1=None)
    assert reference_rows("table3", load_reference(_write(tmp_path, data)))[0].f1 is None


def test_cli_report_with_bad_reference_exits_1(tmp_path, capsys):
    from xmner.cli import main

    path = _write(tmp_path, {"tables": {}})
    assert main(["report", "--out", str(tmp_path), "--reference", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"xmner report: error: {path}: no table 'table3'") and "\n" not in err
