"""Reading what arrived: pandas (s3fs), polars and DuckDB read a CSV, a parquet file and a
folder of parquet files from a LocalS3, with the one-liners the README shows.

boto3 puts the objects, as an upload leaves them (a folder under ``{prefix}{batch}/``); each
library reads them back and the data must equal what was written. The DuckDB tests need
the httpfs extension, which DuckDB normally downloads: the dev extra installs it from PyPI
(``duckdb-extension-httpfs``), and without it they skip, saying so. No DuckDB connection
here may download an extension (autoinstall is off): this machine reaches no such host.
"""

from __future__ import annotations

import io
import sys

import pandas as pd
import pytest

from s3_upload_widget import LocalS3, _readers

BUCKET = "pydata-read"
CSV_KEY = "tables/weather.csv"
PARQUET_KEY = "tables/weather.parquet"
FOLDER = "uploads/b1/sales/"  # the widget's default layout: {prefix}{batch}/{relpath}
WEATHER = pd.DataFrame({"city": ["Oslo", "Lima", "Cairo"], "temp_c": [3.5, 19.0, 28.1]})
PARTS = {(2024, 5): [12.5, 3.0], (2024, 6): [8.25], (2025, 1): [1.0]}
SALES = pd.DataFrame(
    [
        {"amount": amount, "year": year, "month": month}
        for (year, month), amounts in PARTS.items()
        for amount in amounts
    ]
)


@pytest.fixture(scope="module")
def local():
    with LocalS3(bucket=BUCKET) as s3:
        s3.client.put_object(Bucket=BUCKET, Key=CSV_KEY, Body=WEATHER.to_csv(index=False).encode())
        s3.client.put_object(Bucket=BUCKET, Key=PARQUET_KEY, Body=WEATHER.to_parquet(index=False))
        for (year, month), amounts in PARTS.items():
            key = f"{FOLDER}year={year}/month={month:02d}/part-0.parquet"
            body = pd.DataFrame({"amount": amounts}).to_parquet(index=False)
            s3.client.put_object(Bucket=BUCKET, Key=key, Body=body)
        yield s3


def uri(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


def same_weather(df: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(df.reset_index(drop=True), WEATHER, check_dtype=False)


def same_sales(df: pd.DataFrame) -> None:
    """The folder read whole: the partition folders came back as year / month columns."""
    got = df[["amount", "year", "month"]].astype({"year": int, "month": int})
    got = got.sort_values(["year", "month", "amount"]).reset_index(drop=True)
    want = SALES.sort_values(["year", "month", "amount"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_the_objects_are_the_bytes_written(local):
    assert local.read(CSV_KEY) == WEATHER.to_csv(index=False).encode()
    same_weather(pd.read_parquet(io.BytesIO(local.read(PARQUET_KEY))))
    assert len(local.keys(FOLDER)) == 3


# --- pandas, through fsspec / s3fs ------------------------------------------------------


def test_pandas_reads_a_csv_a_parquet_file_and_a_folder(local):
    pytest.importorskip("s3fs", reason="pandas reads s3:// URLs through s3fs (dev extra)")
    opts = local.storage_options
    same_weather(pd.read_csv(uri(CSV_KEY), storage_options=opts))
    same_weather(pd.read_parquet(uri(PARQUET_KEY), storage_options=opts))
    same_sales(pd.read_parquet(uri(FOLDER), storage_options=opts))


def test_real_bucket_one_liners_use_the_credential_chain(local, aws_credentials, monkeypatch):
    """The README's lines for a real bucket pass no keys: s3fs and polars find them as
    boto3 does. Here the chain is environment variables, and AWS_ENDPOINT_URL (which real
    S3 doesn't need) sends the same lines to LocalS3."""
    s3fs = pytest.importorskip("s3fs")
    pl = pytest.importorskip("polars")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", local.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", local.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint_url)
    # Should a library ignore AWS_ENDPOINT_URL, its request to AWS meets a dead proxy on
    # loopback and fails: this test never sends anything off the machine.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    s3fs.S3FileSystem.clear_instance_cache()  # an earlier no-option instance holds old env
    try:
        same_weather(pd.read_csv(uri(CSV_KEY)))
        same_sales(pd.read_parquet(uri(FOLDER)))
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    lazy = pl.scan_parquet(uri(FOLDER) + "**/*.parquet", hive_partitioning=True)
    same_sales(lazy.collect().to_pandas())


# --- polars, its own object_store client ------------------------------------------------


def test_polars_reads_a_csv_a_parquet_file_and_a_folder(local):
    pl = pytest.importorskip("polars", reason="polars is in the dev extra")
    opts = local.polars_storage_options
    same_weather(pl.read_csv(uri(CSV_KEY), storage_options=opts).to_pandas())
    same_weather(pl.read_parquet(uri(PARQUET_KEY), storage_options=opts).to_pandas())
    lazy = pl.scan_parquet(
        uri(FOLDER) + "**/*.parquet", hive_partitioning=True, storage_options=opts
    )
    same_sales(lazy.collect().to_pandas())
    # A filter on a partition column reads only the matching folder.
    only_2025 = lazy.filter(pl.col("year") == 2025).collect()
    assert only_2025["amount"].to_list() == [1.0]


# --- DuckDB, httpfs -----------------------------------------------------------------------


def offline_duckdb(tmp_path=None):
    """A DuckDB connection that downloads nothing; with ``tmp_path``, it also sees no
    extension installed in ~/.duckdb."""
    duckdb = pytest.importorskip("duckdb", reason="DuckDB is in the dev extra")
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    if tmp_path is not None:
        con.execute(f"SET extension_directory = '{tmp_path}'")
    return con


@pytest.fixture
def duck(local):
    con = offline_duckdb()
    try:
        local.duckdb_connection(con)
    except RuntimeError as exc:
        con.close()
        pytest.skip(f"DuckDB's httpfs extension is not installed here: {exc}")
    yield con
    con.close()


def test_duckdb_reads_a_csv_a_parquet_file_and_a_folder(duck):
    same_weather(duck.sql(f"SELECT * FROM '{uri(CSV_KEY)}'").df())
    same_weather(duck.sql(f"SELECT * FROM '{uri(PARQUET_KEY)}'").df())
    folder = f"read_parquet('{uri(FOLDER)}**/*.parquet', hive_partitioning = true)"
    same_sales(duck.sql(f"SELECT * FROM {folder}").df())


def test_duckdb_secret_is_temporary_and_scoped_to_the_bucket(duck, local):
    rows = duck.sql("SELECT name, type, persistent, scope FROM duckdb_secrets()").fetchall()
    assert rows == [(f"local_s3_{local.port}", "s3", False, [f"s3://{BUCKET}"])]


def test_duckdb_credential_chain_takes_the_keys_from_the_environment(
    duck, local, aws_credentials, monkeypatch
):
    """The README's DuckDB line for a real bucket, ``CREATE SECRET (TYPE s3, PROVIDER
    credential_chain)``: its keys come from the environment (moto takes any). DuckDB
    doesn't read AWS_ENDPOINT_URL, so the test adds the endpoint to that secret; without
    one the request would go to AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-environment")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-from-the-environment")
    version = duck.sql("PRAGMA version").fetchone()[0]
    aws = _readers.packaged_extension("aws", version)
    if aws is None:
        pytest.skip("DuckDB's aws extension is not installed: pip install duckdb-extension-aws")
    duck.execute(f"LOAD '{aws}'")
    host = local.endpoint_url.removeprefix("http://")
    duck.execute(
        "CREATE SECRET chain (TYPE s3, PROVIDER credential_chain, "
        f"ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false, SCOPE 's3://{BUCKET}/tables/')"
    )
    found = duck.sql("SELECT secret_string FROM duckdb_secrets() WHERE name = 'chain'").fetchone()
    assert "key_id=from-the-environment;" in found[0]
    # The longest matching scope wins: this read uses the chain's secret, not LocalS3's.
    used = duck.sql(f"SELECT name FROM which_secret('{uri(CSV_KEY)}', 's3')").fetchone()
    assert used == ("chain",)
    same_weather(duck.sql(f"SELECT * FROM '{uri(CSV_KEY)}'").df())


def test_duckdb_reads_through_s3fs_without_httpfs(local, tmp_path):
    """Where httpfs can't be installed: DuckDB reads s3:// through a registered fsspec
    filesystem instead."""
    s3fs = pytest.importorskip("s3fs")
    con = offline_duckdb(tmp_path)
    con.register_filesystem(s3fs.S3FileSystem(skip_instance_cache=True, **local.storage_options))
    same_weather(con.sql(f"SELECT * FROM '{uri(CSV_KEY)}'").df())
    same_sales(con.sql(f"SELECT * FROM read_parquet('{uri(FOLDER)}**/*.parquet')").df())
    con.close()


# --- the helpers and their errors ---------------------------------------------------------


def test_reader_settings_name_the_endpoint_and_the_dummy_keys(local):
    assert local.storage_options == {
        "key": "local",
        "secret": "local",
        "client_kwargs": {"endpoint_url": local.endpoint_url, "region_name": "us-east-1"},
    }
    assert local.polars_storage_options == {
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
        "aws_region": "us-east-1",
        "aws_endpoint_url": local.endpoint_url,
        "aws_virtual_hosted_style_request": "false",
        "aws_allow_http": "true",
    }
    assert local.duckdb_secret_sql("mine") == (
        "CREATE OR REPLACE TEMPORARY SECRET mine (TYPE s3, KEY_ID 'local', SECRET 'local', "
        f"REGION 'us-east-1', ENDPOINT '127.0.0.1:{local.port}', URL_STYLE 'path', "
        f"USE_SSL false, SCOPE 's3://{BUCKET}')"
    )


def test_secret_sql_quotes_its_values():
    sql = _readers.duckdb_secret_sql("s", "https://h:1/", "k'1", "s", "eu-west-1", "b")
    assert "KEY_ID 'k''1'" in sql and "ENDPOINT 'h:1'" in sql and "USE_SSL true" in sql


@pytest.mark.parametrize("name", ["", "1x", "a-b", "x; DROP TABLE t", "a b", None])
def test_secret_name_must_be_an_identifier(local, name):
    with pytest.raises(ValueError, match="not a plain SQL identifier: use letters"):
        local.duckdb_secret_sql(name if name is not None else 5)


def test_a_stopped_local_s3_says_to_start_a_new_one():
    s3 = LocalS3(bucket="pydata-stopped")
    s3.stop()
    for get in (
        lambda: s3.storage_options,
        lambda: s3.polars_storage_options,
        s3.duckdb_secret_sql,
        s3.duckdb_connection,
    ):
        with pytest.raises(RuntimeError, match=r"stopped\).*start a new LocalS3\(\)"):
            get()


def test_missing_httpfs_says_how_to_install_it(local, tmp_path, monkeypatch):
    con = offline_duckdb(tmp_path)  # no extension in this directory
    monkeypatch.setattr(_readers, "packaged_extension", lambda name, version: None)
    with pytest.raises(RuntimeError) as info:
        local.duckdb_connection(con)
    message = str(info.value)
    version = con.sql("PRAGMA version").fetchone()[0]
    assert f"not installed for DuckDB {version}" in message
    assert "INSTALL httpfs" in message
    assert f"pip install duckdb-extension-httpfs=={version.removeprefix('v')}" in message
    assert "register_filesystem(s3fs.S3FileSystem(**local.storage_options))" in message
    assert con.sql("SELECT count(*) FROM duckdb_secrets()").fetchone() == (0,)
    con.close()


def test_packaged_extension_is_none_for_another_duckdb_version_or_extension():
    assert _readers.packaged_extension("httpfs", "v0.0.0-not-a-release") is None
    assert _readers.packaged_extension("no_such_extension", "v1.5.5") is None


def test_missing_duckdb_says_how_to_install_it(local, monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(ImportError, match="needs DuckDB: pip install duckdb"):
        local.duckdb_connection()


def test_duckdb_connection_without_a_connection_makes_one(duck, local):
    """The README's line: ``local.duckdb_connection().sql(...)``. (``duck`` skips first
    where httpfs is missing, so this call downloads nothing.)"""
    con = local.duckdb_connection()
    try:
        same_weather(con.sql(f"SELECT * FROM '{uri(CSV_KEY)}'").df())
    finally:
        con.close()
