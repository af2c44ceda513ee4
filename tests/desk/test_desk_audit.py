"""The audit chain: append-only in the database, and any edit, deletion, reordering or cut
found by the check."""

import sqlite3

import pytest
from click.testing import CliRunner

from veriscope.cli import cli


def _raw(store):
    c = sqlite3.connect(store.db_path, isolation_level=None)
    c.execute("DROP TRIGGER audit_no_update")  # what someone with the file could do
    c.execute("DROP TRIGGER audit_no_delete")
    return c


@pytest.fixture
def logged(store, put, jpeg):
    cid = store.create_case("c", "key:a")
    for i in range(3):
        it = put(store, cid, jpeg(i), name=f"{i}.jpg")
        store.annotate(it["id"], "key:a", note=f"n{i}", review="ok")
    assert store.verify_audit().ok
    return store


def test_the_database_refuses_changes_to_the_log(logged):
    c = sqlite3.connect(logged.db_path, isolation_level=None)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        c.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        c.execute("DELETE FROM audit WHERE seq = 2")


def test_an_edited_row_is_found(logged):
    _raw(logged).execute("UPDATE audit SET detail = '{\"note\": \"other\"}' WHERE seq = 5")
    chk = logged.verify_audit()
    assert not chk.ok and any("row 5" in p and "edited" in p for p in chk.problems)


def test_a_deleted_row_is_found(logged):
    _raw(logged).execute("DELETE FROM audit WHERE seq = 4")
    chk = logged.verify_audit()
    assert not chk.ok and any("row 5" in p for p in chk.problems)


def test_reordered_rows_are_found(logged):
    c = _raw(logged)
    a = c.execute("SELECT * FROM audit WHERE seq = 3").fetchone()
    b = c.execute("SELECT * FROM audit WHERE seq = 4").fetchone()
    # swap the contents of rows 3 and 4, keeping their sequence numbers and hashes valid
    for seq, row in ((3, b), (4, a)):
        c.execute("UPDATE audit SET ts=?, actor=?, action=?, target=?, detail=?, tool=?, prev=?, "
                  "hash=? WHERE seq=?", (*row[1:], seq))
    chk = logged.verify_audit()
    assert not chk.ok


def test_rows_cut_off_the_end_are_found(logged):
    n = logged.verify_audit().rows
    _raw(logged).execute("DELETE FROM audit WHERE seq >= ?", (n - 1,))
    chk = logged.verify_audit()
    assert not chk.ok and any("head file" in p for p in chk.problems)


def test_cli_verify_audit(logged):
    r = CliRunner().invoke(cli, ["desk", "verify-audit", "--data", str(logged.root)])
    assert r.exit_code == 0 and "intact" in r.output
    _raw(logged).execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    r = CliRunner().invoke(cli, ["desk", "verify-audit", "--data", str(logged.root)])
    assert r.exit_code == 1 and "row 2" in r.output
    r = CliRunner().invoke(cli, ["desk", "verify-audit", "--data", str(logged.root / "nope")])
    assert r.exit_code == 2 and "not a desk data folder" in r.output


def test_cli_key(tmp_path):
    r = CliRunner().invoke(cli, ["desk", "key", "bob", "--data", str(tmp_path / "d")])
    assert r.exit_code == 0
    from veriscope.desk.store import Store

    assert Store(tmp_path / "d").check_key(r.output.strip()) == "bob"
    assert Store(tmp_path / "d").check_key(r.output.strip() + "x") is None
