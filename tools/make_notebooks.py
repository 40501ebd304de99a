"""Writes the example notebooks in notebooks/ from plain Python, so they stay reviewable in diffs.

Run: .venv/bin/python tools/make_notebooks.py

Every notebook runs top to bottom without AWS: with no ``S3_UPLOAD_BUCKET`` in the
environment it starts `LocalS3` (moto's S3 server on 127.0.0.1) and stops it in its last
cell. Cells that need a person to pick a file say so when run without one; the cell that
waits for a person (``w.wait()``) carries the ``skip-execution`` tag, which tools that run
notebooks without a browser (nbclient, nbconvert --execute, papermill) honour.
tests/test_notebooks.py runs them all.
"""

# Markdown tables and notebook code live in strings here; their lines may be long.
# ruff: noqa: E501

from __future__ import annotations

import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT_DIR = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
SKIP_HEADLESS = "skip-execution"


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str, *tags: str):
    cell = new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write(name: str, cells: list) -> None:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    stem = name.removesuffix(".ipynb").replace("_", "-")
    for i, cell in enumerate(nb.cells):
        cell.id = f"{stem}-{i:02d}"  # stable ids: regenerating changes nothing
    nbformat.validate(nb)
    nbformat.write(nb, OUT_DIR / name)


# --- shared pieces ----------------------------------------------------------------------

SETUP = """
import os

from s3_upload_widget import LocalS3, S3UploadWidget

bucket = os.environ.get("S3_UPLOAD_BUCKET")
if bucket:
    import boto3

    local = None
    client = boto3.client("s3")  # credentials: env vars, ~/.aws, an instance role...
else:
    local = LocalS3()  # an S3 server on 127.0.0.1 for this kernel: no AWS account needed
    bucket, client = local.bucket, local.client
print("Uploading to", f"s3://{bucket}", "(local test server)" if local else "")
"""

WAIT = """
# Wait here until the files you pick have finished uploading. The widget stays live
# while this cell runs, so "Run All" simply stops here until your files are in S3.
# (Tagged "skip-execution": tools that run notebooks without a browser skip this cell.)
records = w.wait(timeout=600)
for r in records:
    print(r["status"], r["name"], "->", r["key"] if r["status"] == "done" else r["error"])
"""

STOP = """
if local is not None:
    local.stop()  # the local server and its files are gone; uploads no longer work
    print(local)
"""

STOP_MD = md(
    "Done? Stop the local S3 server (with a real bucket there is nothing to stop). Its "
    "files live in this kernel's memory and go with it."
)

# --- quickstart -------------------------------------------------------------------------

QUICKSTART = [
    md("""
# s3-upload-widget: quickstart

Pick or drop files below: they go from your browser **straight to S3** (the kernel only
signs the request), and their keys land in Python.

With `S3_UPLOAD_BUCKET` set (and AWS credentials in the kernel's environment) the files go
to that bucket; otherwise to a local S3 server on 127.0.0.1, so this notebook works with
no AWS account. A real bucket needs a CORS rule for this page: see
[setup_your_bucket.ipynb](setup_your_bucket.ipynb).
"""),
    code(SETUP),
    code("""
w = S3UploadWidget(bucket=bucket, prefix="uploads/", client=client)
w
"""),
    md("""
Pick a file above. The next cell waits for it: run it (or "Run All") and it returns when
your file is in S3, with one record per file.
"""),
    code(WAIT, SKIP_HEADLESS),
    md("When a file shows **done**, its key is in Python:"),
    code("""
if w.key:
    print("last key:", w.key)
    print("all keys:", w.uploaded_keys)
else:
    print("No file yet: pick a file above, then run this cell again.")
"""),
    md("One record per file, with its status, size, key and ETag:"),
    code("w.uploads"),
    md("""
Run code after each upload, without waiting in a cell (for example, load the file): the
callback gets the file's record.
"""),
    code("""
@w.on_upload
def announce(record):
    print(f"{record['name']} is at {record['s3_uri']}")
"""),
    md("Read the last file back with boto3:"),
    code("""
if w.key:
    body = client.get_object(Bucket=bucket, Key=w.key)["Body"].read()
    print(len(body), "bytes:", body[:80])
else:
    print("No file yet: pick a file above, then run this cell again.")
"""),
    md("""
More: [read_back_with_pandas.ipynb](read_back_with_pandas.ipynb) (a CSV or parquet into
a DataFrame), [large_datasets.ipynb](large_datasets.ipynb) (multipart, progress,
cancelling), [setup_your_bucket.ipynb](setup_your_bucket.ipynb) (CORS, IAM, lifecycle,
S3-compatible stores).
"""),
    STOP_MD,
    code(STOP),
]

# --- read back with pandas --------------------------------------------------------------

SAMPLE_CSV = "city,temp_c\\nOslo,3.5\\nLima,19.0\\nCairo,28.1\\n"

READ_BACK = [
    md("""
# Upload a CSV or parquet file, read it with pandas

The browser puts the file in S3; the kernel reads it back with boto3 using the key the
widget hands over. Nothing passes through the notebook server, however large the file.
"""),
    code(SETUP),
    code("""
w = S3UploadWidget(bucket=bucket, prefix="tables/", client=client, accept=".csv,.parquet")
w
"""),
    md("Pick a `.csv` or `.parquet` file above, then run the next cell: it waits for it."),
    code(WAIT, SKIP_HEADLESS),
    md("""
Which object to read: the file you picked. **Stand-in:** when nobody picked a file (the
notebook runs without a browser) and the bucket is the local test server, this cell puts a
small CSV into the bucket itself, so the cells below have something to read. With a real
bucket it writes nothing and asks you to pick a file.
"""),
    code(f'''
if w.key:
    key = w.key
elif local is not None:
    # Stand-in for picking a file: put a small CSV into the bucket with boto3.
    key = "tables/sample/weather.csv"
    sample = b"{SAMPLE_CSV}"
    client.put_object(Bucket=bucket, Key=key, Body=sample, ContentType="text/csv")
    print("No file picked: using a sample instead,", key)
else:
    key = ""
    print("No file yet: pick a file above, then run this cell again.")
'''),
    md("""
Read it into a DataFrame: `get_object` returns the bytes, pandas parses them. (With
[s3fs](https://s3fs.readthedocs.io) installed, `pd.read_csv(f"s3://{bucket}/{key}")` works
too; this notebook needs only boto3.) Parquet needs `pyarrow`.
"""),
    code('''
import io

import pandas as pd


def read_table(key):
    """A DataFrame from the CSV or parquet object at `key`."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    if key.lower().endswith((".parquet", ".pq")):
        return pd.read_parquet(io.BytesIO(body))
    return pd.read_csv(io.BytesIO(body))


if key:
    df = read_table(key)
    print(f"{key}: {df.shape[0]} rows x {df.shape[1]} columns")
    display(df.head())
else:
    print("Nothing to read yet.")
'''),
    md("""
Parquet the same way. Here the kernel writes the table back as parquet (the way a
processed result would go to S3) and reads that:
"""),
    code("""
if key:
    parquet_key = key.rsplit(".", 1)[0] + "-copy.parquet"  # never over the file you picked
    client.put_object(Bucket=bucket, Key=parquet_key, Body=df.to_parquet())
    back = read_table(parquet_key)
    print(f"{parquet_key}: {back.shape[0]} rows x {back.shape[1]} columns")
    print("same table:", back.equals(df))
"""),
    md("""
## One line each: pandas, polars, DuckDB

Each reads `s3://bucket/key` itself (needs `pip install s3fs polars duckdb`). With a real
bucket pass nothing: each finds your credentials the way boto3 does (environment, `~/.aws`,
a role). The local test server needs its endpoint and keys, which `LocalS3` hands over:
`local.storage_options` (pandas, through s3fs) and `local.polars_storage_options`
(polars' own S3 client).
"""),
    code("""
import polars as pl

uri = f"s3://{bucket}/{parquet_key}" if key else ""
pandas_options = local.storage_options if local else None  # None: your AWS credentials
polars_options = local.polars_storage_options if local else None
if uri:
    by_pandas = pd.read_parquet(uri, storage_options=pandas_options)
    by_polars = pl.read_parquet(uri, storage_options=polars_options)
    print(f"pandas read {uri}: {by_pandas.shape[0]} rows")
    same = by_polars.to_dict(as_series=False) == by_pandas.to_dict("list")
    print("polars reads the same rows:", same)
"""),
    md("""
DuckDB reads `s3://` URLs with its `httpfs` extension, which it normally downloads on
first use. `local.duckdb_connection()` loads it without a download (installed by
`INSTALL httpfs`, or from the `duckdb-extension-httpfs` package) and adds a secret that
sends this bucket's URLs to the local server; when httpfs is not installed it says how to
install it. With a real bucket, one secret takes your AWS credentials.
"""),
    code("""
import duckdb

con = None
if local is None:
    con = duckdb.connect()
    con.sql("CREATE SECRET (TYPE s3, PROVIDER credential_chain)")  # your AWS credentials
else:
    try:
        con = local.duckdb_connection()
    except RuntimeError as exc:  # httpfs is not installed here
        print(exc)
if con is not None and uri:
    by_duckdb = con.sql(f"SELECT * FROM '{uri}'").df()
    same = by_duckdb.to_dict("list") == by_pandas.to_dict("list")
    print("DuckDB reads the same rows:", same)
"""),
    md("""
For a file larger than the kernel's memory, download it to disk first
(`client.download_file(bucket, key, "local.csv")`) and read it in chunks
(`pd.read_csv(..., chunksize=100_000)`), or read only some columns of a parquet file.
"""),
    STOP_MD,
    code(STOP),
]

# --- large datasets ---------------------------------------------------------------------

LARGE = [
    md("""
# Large files: multipart uploads, progress, cancelling

Files from `multipart_threshold` up go to S3 in parts: the kernel starts a multipart
upload, signs the parts a few at a time just before the browser needs them (URLs live
minutes), and completes it with the parts' ETags. A part that fails is retried; a
cancelled or failed upload is aborted in S3, so no half-written file is left behind.
"""),
    code(SETUP),
    md("""
The three knobs:

| argument | default | what it does |
|---|---|---|
| `multipart_threshold` | 16 MiB | files this large or larger go multipart (at least 5 MiB) |
| `part_size` | `None` | bytes per part; `None` picks one per file: equal parts in whole rounds of `concurrency`, at most 64 MiB each (more when a file would need over 10,000 parts) |
| `concurrency` | 6 | parts of one file in flight at once (1 to 6 per S3 host name) |

Each part costs a round trip (and, from a browser, a CORS preflight of its own): larger
parts mean fewer round trips; smaller parts mean less to resend when one fails. S3's
limits: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000 parts, objects
up to 5 TiB.
"""),
    code("""
MiB, GiB = 1024**2, 1024**3
w = S3UploadWidget(
    bucket=bucket,
    prefix="large/",
    client=client,
    multipart_threshold=100 * MiB,  # explicit settings: each knob shown
    part_size=16 * MiB,
    concurrency=4,
    max_size=2 * 1024 * GiB,  # 2 TiB: refused before any byte is sent, and enforced by S3
)
w
"""),
    md("What those settings mean for a few file sizes:"),
    code("""
import math

for size in (10 * MiB, 100 * MiB, 10 * GiB, 1024 * GiB):
    if size < w.multipart_threshold:
        print(f"{size / MiB:>9,.0f} MiB: one PUT")
        continue
    part = w.part_size or 5 * MiB
    part = max(part, math.ceil(size / 10_000))  # S3 allows at most 10,000 parts
    print(f"{size / MiB:>9,.0f} MiB: {math.ceil(size / part):,} parts of {part / MiB:,.0f} MiB")
"""),
    md("""
Pick a large file above and run the next cell: it waits, printing the progress Python
sees (the browser reports it a few times a second).
"""),
    code(
        """
# Waits until the files you picked are done, showing their progress on one line.
# (Tagged "skip-execution": tools that run notebooks without a browser skip this cell.)
from IPython.display import display

line = display("waiting for a file...", display_id=True)


def show(change):
    line.update(
        "  ".join(
            f"{r['name']}: {r['status']} {100 * r['loaded'] // max(r['size'], 1)}%"
            for r in change["new"]
        )
    )


w.observe(show, names="uploads")
try:
    records = w.wait(timeout=3600)
finally:
    w.unobserve(show, names="uploads")
for r in records:
    print(r["status"], r["name"], r["key"] if r["status"] == "done" else r["error"])
""",
        SKIP_HEADLESS,
    ),
    md("""
The records, any time: `loaded` is the bytes sent so far, `multipart` tells how the file
went.
"""),
    code("""
def progress():
    if not w.uploads:
        print("No uploads yet: pick a file above.")
    for r in w.uploads:
        percent = 100 * r["loaded"] / r["size"] if r["size"] else 100.0
        how = "multipart" if r.get("multipart") else "single PUT"
        print(f"{r['name']:<30} {r['status']:<10} {percent:5.1f}%  {how}")


progress()
"""),
    md("""
Cancel from Python: `w.cancel()` cancels every unfinished upload, `w.cancel(upload_id)`
one of them (the record's `id`). Each row's × button does the same. The multipart upload
is aborted in S3, so its parts don't linger (nor cost storage).
"""),
    code("""
cancelled = w.cancel()
print("cancelled:", cancelled or "nothing was in progress")
"""),
    md("""
Nothing half-written is left: S3 lists no unfinished multipart upload. (If a kernel dies
mid-upload, its parts stay until a lifecycle rule removes them: see
[setup_your_bucket.ipynb](setup_your_bucket.ipynb).)
"""),
    code("""
unfinished = client.list_multipart_uploads(Bucket=bucket, Prefix="large/").get("Uploads", [])
print("unfinished multipart uploads:", len(unfinished))
"""),
    STOP_MD,
    code(STOP),
]

# --- set up your bucket -----------------------------------------------------------------

SETUP_BUCKET = [
    md("""
# Set up a bucket for the widget

A bucket needs three things for uploads from a notebook:

1. **CORS**: the browser talks to S3 directly, so the bucket must allow the notebook
   page's origin to `PUT` and must expose the `ETag` header.
2. **Permissions** for the kernel's credentials: the kernel signs each upload, and S3
   checks the signer's permissions.
3. Optional: a **lifecycle rule** that removes the parts of multipart uploads nobody
   finished (a kernel killed mid-upload).

With `S3_UPLOAD_BUCKET` set, this notebook changes that bucket's CORS and lifecycle
rules (adding to them, keeping the others). Without it, it works on a fresh bucket of the
local test server.
"""),
    code("""
import json
import os

from s3_upload_widget import LocalS3, check_cors, configure_cors

bucket = os.environ.get("S3_UPLOAD_BUCKET")
if bucket:
    import boto3

    local = None
    client = boto3.client("s3")
else:
    local = LocalS3()
    bucket, client = "setup-demo", local.client
    client.create_bucket(Bucket=bucket)  # a bucket with no CORS rule yet
print("Setting up", f"s3://{bucket}")
"""),
    md("""
## 1. CORS

The origin is the start of your notebook's address, as the browser shows it:
`scheme://host:port`, e.g. `http://localhost:8888` for a local JupyterLab or
`https://hub.example.com` for a JupyterHub. `check_cors` says what stands in the way:
"""),
    code("""
origin = "http://localhost:8888"  # <- your notebook page's origin
problems = check_cors(bucket, origin, client=client)
print(len(problems), "problem(s)")
for problem in problems:
    print("-", problem)
"""),
    md("""
`configure_cors` adds the rule the widget needs (methods PUT, POST, GET, HEAD; any
request header; `ETag` exposed) and keeps the bucket's other rules. Running it again
changes nothing; with more origins it adds them. It needs `s3:GetBucketCORS` and
`s3:PutBucketCORS`: once, by whoever sets up the bucket.
"""),
    code("""
config = configure_cors(bucket, [origin, "http://127.0.0.1:8888"], client=client)
print(json.dumps(config, indent=2))
print("problems now:", check_cors(bucket, origin, client=client))
"""),
    md("""
## 2. Permissions

What the kernel's credentials need to upload under `uploads/` (the widget's `prefix`):

| action | why |
|---|---|
| `s3:PutObject` | the upload itself: single PUTs and every multipart step (create, parts, complete) |
| `s3:GetObject` | the HEAD after an upload, to confirm the size S3 stored |
| `s3:AbortMultipartUpload` | cancel, errors and closing the widget abort unfinished multipart uploads |
| `s3:ListMultipartUploadParts` | to see which parts of a multipart upload S3 has |
| `s3:GetBucketLocation` | the bucket's region, so URLs are signed for the right endpoint |
| `s3:ListBucket` (optional) | without it S3 answers 403 instead of 404 for a missing key, so "does this key exist?" checks are skipped (the signed `If-None-Match` still prevents overwrites) |
| `s3:GetBucketCORS`, `s3:PutBucketCORS` (setup only) | `configure_cors` / `check_cors` |
"""),
    code("""
prefix = "uploads/"
policy = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "UploadObjects",
            "Effect": "Allow",
            "Action": [
                "s3:PutObject",
                "s3:GetObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
        },
        {
            "Sid": "FindTheBucketsRegion",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation"],
            "Resource": f"arn:aws:s3:::{bucket}",
        },
        {
            "Sid": "OptionalListAndCorsSetup",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketCORS", "s3:PutBucketCORS"],
            "Resource": f"arn:aws:s3:::{bucket}",
        },
    ],
}
print(json.dumps(policy, indent=2))
"""),
    md("""
Attach it to the role or user whose credentials the kernel uses (IAM console: *Policies →
Create policy → JSON*). Drop the last statement once CORS is set up.

## 3. Remove unfinished multipart uploads

The widget aborts the multipart uploads it doesn't finish, but a kernel killed mid-upload
can't: its parts stay, invisible and billed, until removed. A lifecycle rule does that
after a day. `put_bucket_lifecycle_configuration` **replaces** all the bucket's lifecycle
rules, so this reads them first and adds one (needs `s3:GetLifecycleConfiguration` and
`s3:PutLifecycleConfiguration`).
"""),
    code("""
RULE = {
    "ID": "abort-incomplete-multipart-uploads",
    "Status": "Enabled",
    "Filter": {"Prefix": ""},
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
}

try:
    rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
except client.exceptions.ClientError as exc:
    if exc.response["Error"]["Code"] != "NoSuchLifecycleConfiguration":
        raise
    rules = []
rules = [r for r in rules if r.get("ID") != RULE["ID"]] + [RULE]
client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
for r in client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]:
    print(r["ID"], r["Status"], r.get("AbortIncompleteMultipartUpload"))
"""),
    md("""
## S3-compatible stores

The widget takes any boto3 client: point it at the store with `endpoint_url`. Most stores
want path-style addressing (`http://host/bucket/key`) and SigV4. The functions below only
build clients; nothing connects until you use one:

```python
w = S3UploadWidget(bucket="my-bucket", client=minio_client("http://localhost:9000", "KEY", "SECRET"))
```

| store | endpoint | region | addressing | CORS |
|---|---|---|---|---|
| MinIO | `http://host:9000` | `us-east-1` (or the server's) | path | server-wide setting (`MINIO_API_CORS_ALLOW_ORIGIN`) where bucket CORS isn't supported |
| Cloudflare R2 | `https://<account id>.r2.cloudflarestorage.com` | `auto` | path or virtual | `configure_cors` works (or the dashboard) |
| Ceph RGW | `http(s)://rgw-host:port` | the zonegroup, often `us-east-1` or `default` | path | `configure_cors` works |
| LocalStack | `http://localhost:4566` | `us-east-1` | path | `configure_cors` works |

Whatever the store, `check_cors(bucket, origin, client=...)` tells whether the browser at
`origin` may upload.
"""),
    code('''
import boto3
from botocore.config import Config


def s3_compatible_client(endpoint_url, access_key, secret_key, region="us-east-1", path=True):
    """A boto3 S3 client for an S3-compatible store."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if path else "virtual"},
        ),
    )


def minio_client(
    endpoint_url="http://localhost:9000", access_key="minioadmin", secret_key="minioadmin"
):
    return s3_compatible_client(endpoint_url, access_key, secret_key)


def r2_client(account_id, access_key, secret_key):
    return s3_compatible_client(
        f"https://{account_id}.r2.cloudflarestorage.com", access_key, secret_key, region="auto"
    )


def ceph_client(endpoint_url, access_key, secret_key, region="us-east-1"):
    return s3_compatible_client(endpoint_url, access_key, secret_key, region=region)


def localstack_client(endpoint_url="http://localhost:4566"):
    return s3_compatible_client(endpoint_url, "test", "test")


# Building a client connects to nothing:
print(minio_client().meta.endpoint_url, r2_client("0123abcd", "KEY", "SECRET").meta.region_name)
'''),
    STOP_MD,
    code(STOP),
]

# --- upload a folder ------------------------------------------------------------------

FOLDER = [
    md("""
# Upload a folder, read it back as one dataset

Choose a folder (or drop one on the widget): every file goes to S3 with its path inside
the folder, under one folder per pick (`{prefix}{batch}/{relpath}`, the default key), so a
partitioned dataset such as `sales/year=2024/month=05/part-0.parquet` keeps its shape.
`w.batch_uri()` then names the S3 folder that holds it, and one call reads it whole.
"""),
    code(SETUP),
    code("""
w = S3UploadWidget(bucket=bucket, prefix="datasets/", client=client)
w
"""),
    md("Choose a folder of parquet files above (or drop it), then run the next cell."),
    code(WAIT, SKIP_HEADLESS),
    md("""
Where the dataset is. **Stand-in:** when nobody picked a folder (the notebook runs
without a browser) and the bucket is the local test server, this cell writes a small
partitioned dataset into the bucket itself, laid out as a dropped folder would be.
"""),
    code("""
import pandas as pd

uri = w.batch_uri()
if not uri and local is not None:
    for year, month, amounts in [(2024, 5, [12.5, 3.0]), (2024, 6, [8.25]), (2025, 1, [1.0])]:
        table = pd.DataFrame({"amount": amounts})
        key = f"datasets/sample/sales/year={year}/month={month:02d}/part-0.parquet"
        client.put_object(Bucket=bucket, Key=key, Body=table.to_parquet(index=False))
    uri = f"s3://{bucket}/datasets/sample/sales/"
    print("No folder picked: using a sample dataset at", uri)
print("dataset:", uri or "none yet: choose a folder above, then run this cell again")
"""),
    md("""
Read it whole with pyarrow, which reads `year=`/`month=` folders as columns. Against a
real bucket, `pafs.S3FileSystem()` finds credentials as boto3 does; the local test server
needs its endpoint and keys.
"""),
    code("""
import pyarrow.dataset as ds
import pyarrow.fs as pafs

if local is not None:
    fs = pafs.S3FileSystem(
        access_key=local.access_key,
        secret_key=local.secret_key,
        endpoint_override=local.endpoint_url,
        scheme="http",
        region=local.region,
    )
else:
    fs = pafs.S3FileSystem()
if uri:
    dataset = ds.dataset(uri.removeprefix("s3://"), filesystem=fs, partitioning="hive")
    df = dataset.to_table().to_pandas()
    print(f"{len(df)} rows, columns {list(df.columns)}")
    print(df.groupby("year")["amount"].sum().to_dict())
"""),
    md("""
The same folder in one line each with pandas (through [s3fs](https://s3fs.readthedocs.io)),
polars and DuckDB (`pip install s3fs polars duckdb`). With a real bucket pass no options;
the local test server's come from `local` (see read_back_with_pandas for DuckDB with a
real bucket). A filter on `year` reads only that year's folders.
"""),
    code("""
import polars as pl

if uri:
    opts = local.storage_options if local else None
    print("pandas:", len(pd.read_parquet(uri, storage_options=opts)), "rows")
    lazy = pl.scan_parquet(
        uri + "**/*.parquet",
        hive_partitioning=True,
        storage_options=local.polars_storage_options if local else None,
    )
    print("polars, 2024 only:", lazy.filter(pl.col("year") == 2024).collect().height, "rows")
    if local is not None:
        try:
            con = local.duckdb_connection()
            sql = f"SELECT year, sum(amount) FROM '{uri}**/*.parquet' GROUP BY year ORDER BY year"
            print("DuckDB:", con.sql(sql).fetchall())
        except RuntimeError as exc:  # httpfs is not installed here
            print(exc)
"""),
    STOP_MD,
    code(STOP),
]

# --- a Voila dashboard ------------------------------------------------------------------

DASHBOARD = [
    md("""
# Upload to S3: a dashboard

Serve this notebook as a page with no code: `voila notebooks/dashboard.ipynb`. Voilà runs
every cell when the page loads, **before** anyone can pick a file, so nothing here waits
in a cell (`w.wait()` would hold the page back and then fail: no browser shows the widget
yet). Instead, `on_upload` updates the list below each time a file arrives.

With `S3_UPLOAD_BUCKET` set (and AWS credentials in the kernel's environment) the files go
to that bucket, whose CORS must allow the dashboard's origin (e.g. `http://localhost:8866`);
otherwise to a local S3 server on 127.0.0.1 that lives as long as the page's kernel.
"""),
    code(SETUP),
    code("""
import html

import ipywidgets as widgets

w = S3UploadWidget(bucket=bucket, prefix="dashboard/", client=client)
received = widgets.HTML("<p>No file yet: pick or drop files above.</p>")


@w.on_upload
def show_received(record):
    # Runs in the kernel after each file; the page shows the new value at once.
    items = "".join(
        f"<li><code>{html.escape(r['key'])}</code> ({r['size']:,} bytes)</li>"
        for r in w.uploads
        if r["status"] == "done"
    )
    received.value = f"<p>In S3 now:</p><ul class='received'>{items}</ul>"


widgets.VBox([w, received])
"""),
]

NOTEBOOKS = {
    "quickstart.ipynb": QUICKSTART,
    "read_back_with_pandas.ipynb": READ_BACK,
    "large_datasets.ipynb": LARGE,
    "setup_your_bucket.ipynb": SETUP_BUCKET,
    "upload_a_folder.ipynb": FOLDER,
    "dashboard.ipynb": DASHBOARD,
}

if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        write(name, cells)
        print("wrote", OUT_DIR / name)
