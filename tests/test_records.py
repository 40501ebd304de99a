"""Upload records: the S3 folder a pick or drop reads back from (`batch_uri`)."""

from __future__ import annotations

from s3_upload_widget._records import batch_uri


def rec(key: str, batch: str, status: str = "done") -> dict:
    return {"bucket": "b", "key": key, "batch": batch, "status": status}


def test_the_batch_folder_of_a_dropped_tree():
    records = [
        rec("up/b1/sales/year=2024/month=05/part-0.parquet", "b1"),
        rec("up/b1/sales/year=2025/month=01/part-0.parquet", "b1"),
        rec("up/b1/sales/README.md", "b1"),
    ]
    assert batch_uri(records) == "s3://b/up/b1/sales/"


def test_the_latest_batch_by_default_and_any_by_id():
    records = [rec("up/b1/a/x.csv", "b1"), rec("up/b2/y.csv", "b2"), rec("up/b2/z.csv", "b2")]
    assert batch_uri(records) == "s3://b/up/b2/"
    assert batch_uri(records, "b1") == "s3://b/up/b1/a/"


def test_only_done_uploads_count():
    records = [rec("up/b1/x.csv", "b1"), rec("elsewhere/y.csv", "b1", status="error")]
    assert batch_uri(records) == "s3://b/up/b1/"
    assert batch_uri([rec("up/b1/x.csv", "b1", status="uploading")]) == ""
    assert batch_uri([]) == ""


def test_keys_that_share_no_folder_give_the_bucket():
    records = [rec("a/x.csv", "b1"), rec("b/y.csv", "b1")]
    assert batch_uri(records) == "s3://b/"
