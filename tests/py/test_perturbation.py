"""The cell-key perturbation checked against the UK Office for National Statistics' own
implementation (PyPI `cell-key-perturbation`, MIT): from the same records, the same record
keys and the same perturbation table, the ONS code must give the counts the service
publishes. The record keys are derived here independently (SHA-256 of the database's secret,
the record id and the release, first byte; PRIVACY.md), read straight from the database.
"""

import hashlib
import io
import sqlite3

import h3
import pandas as pd
import pytest
from cell_key_perturbation.create_perturbed_table import create_perturbed_table

from conftest import run


def record_key(secret: bytes, record_id: int, release: int) -> int:
    digest = hashlib.sha256(secret + record_id.to_bytes(8, "little", signed=True) + release.to_bytes(8, "little"))
    return digest.digest()[0]


@pytest.fixture(scope="module")
def microdata(unsuppressed_server):
    """One row per record of the current release: its key, res-9 cell, state and gender."""
    db = sqlite3.connect(f"file:{unsuppressed_server.db}?mode=ro", uri=True)
    secret = bytes.fromhex(db.execute("SELECT value FROM meta WHERE key = 'perturbation_secret'").fetchone()[0])
    release, max_id = db.execute("SELECT id, max_record_id FROM releases ORDER BY id DESC LIMIT 1").fetchone()
    rows = db.execute(
        "SELECT id, h3_cell, state_fips, gender, remits FROM records WHERE id <= ? ORDER BY id", (max_id,)
    ).fetchall()
    db.close()
    assert release == unsuppressed_server.json("/api/v1/methodology")["release"]
    df = pd.DataFrame(rows, columns=["id", "cell", "state", "gender", "remits"])
    df["rkey"] = [record_key(secret, int(i), release) for i in df["id"]]
    df["cell"] = [format(c, "x") for c in df["cell"]]
    # Gender is stored as its position in the code list; 0 is "f" (geodata/codes.csv).
    df["female"] = df["gender"] == 0
    return df


@pytest.fixture(scope="module")
def ptable():
    """The service's perturbation table, printed by `dyaspora noise-table`."""
    return pd.read_csv(io.StringIO(run("noise-table")))


def ons_counts(data, ptable, column):
    out = create_perturbed_table(
        data=data, ptable=ptable, geog=[], tab_vars=[column], record_key="rkey", threshold=0
    )
    return {str(k): int(v) for k, v in zip(out[column], out["count"])}


def published(server, query, prop):
    layer = server.json(f"/api/v1/aggregates?{query}")
    return {f["properties"]["id"]: f["properties"][prop] for f in layer["features"]}


def compare(ours, theirs):
    """Every unit we publish has the ONS count; every unit we leave out has an ONS count of 0."""
    assert ours, "the layer publishes units"
    for uid, n in ours.items():
        assert n == theirs.get(uid, 0), (uid, n, theirs.get(uid))
    for uid, n in theirs.items():
        if uid not in ours:
            assert n == 0, (uid, n)


@pytest.mark.parametrize("res", [4, 6, 9])
def test_hexagon_counts_equal_the_ons_implementation(unsuppressed_server, microdata, ptable, res):
    data = microdata.copy()
    data["unit"] = [h3.cell_to_parent(c, res) if res < 9 else c for c in data["cell"]]
    compare(published(unsuppressed_server, f"unit=h3&res={res}", "count"), ons_counts(data, ptable, "unit"))


def test_women_per_hexagon_equal_the_ons_implementation(unsuppressed_server, microdata, ptable):
    data = microdata[microdata["female"]].copy()
    data["unit"] = [h3.cell_to_parent(c, 6) for c in data["cell"]]
    ours = published(unsuppressed_server, "unit=h3&res=6", "female")
    theirs = ons_counts(data, ptable, "unit")
    # Within the hexagons the layer lists (a hexagon whose count is perturbed to 0 is left out
    # with all its figures); those without women publish female = 0, as a true zero stays 0.
    assert sum(1 for v in ours.values() if v) > 100
    for uid, n in ours.items():
        assert n == theirs.get(uid, 0), (uid, n, theirs.get(uid))


def test_state_counts_and_remitters_equal_the_ons_implementation(unsuppressed_server, microdata, ptable):
    ours = {k: v for k, v in published(unsuppressed_server, "unit=state", "count").items() if v}
    compare(ours, ons_counts(microdata, ptable, "state"))
    remitters = microdata[microdata["remits"] == 1]
    ours = {k: v for k, v in published(unsuppressed_server, "unit=state", "remitters").items() if v}
    compare(ours, ons_counts(remitters, ptable, "state"))


def test_the_table_has_the_documented_moments(ptable, unsuppressed_server):
    p = unsuppressed_server.json("/api/v1/methodology")["perturbation"]
    assert set(ptable.columns) == {"pcv", "ckey", "pvalue"}
    assert ptable["pcv"].min() == 1 and ptable["pcv"].max() == 750 and ptable["ckey"].max() == 255
    assert ptable["pvalue"].abs().max() == p["max"]
    result = ptable["pcv"] + ptable["pvalue"]
    assert not result.isin(p["never"]).any(), "values 1..js never appear"
    assert (result >= 0).all()
    moments = ptable.groupby("pcv")["pvalue"].agg(["mean", "var"])
    assert moments["mean"].abs().max() < 0.02
    far = moments.loc[10:, "var"] * 255 / 256  # population variance over the 256 keys
    assert far.between(p["variance"] - 0.05, p["variance"] + 0.05).all()
