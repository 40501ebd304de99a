"""What pandas (fsspec / s3fs), polars and DuckDB need to read an S3-compatible server at
an endpoint of this machine, such as `LocalS3`'s; and DuckDB's httpfs loaded without a
download.

A real bucket needs none of this: s3fs, polars and DuckDB's ``credential_chain`` secret
find credentials the way boto3 does (README, "Reading what arrived"). These settings carry
only an endpoint and keys the caller already holds (LocalS3's fixed dummies); nothing
here reads a credential from a client or the environment.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
from typing import Any

__all__ = [
    "duckdb_secret_sql",
    "fsspec_options",
    "load_httpfs",
    "packaged_extension",
    "polars_options",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def fsspec_options(endpoint_url: str, key: str, secret: str, region: str) -> dict:
    """s3fs's ``storage_options`` (pandas, dask, fsspec.open) for the server at
    ``endpoint_url``."""
    return {
        "key": key,
        "secret": secret,
        "client_kwargs": {"endpoint_url": endpoint_url, "region_name": region},
    }


def polars_options(endpoint_url: str, key: str, secret: str, region: str) -> dict:
    """polars' ``storage_options`` (its own object_store client, no s3fs) for the server
    at ``endpoint_url``: path-style requests, plain http allowed."""
    return {
        "aws_access_key_id": key,
        "aws_secret_access_key": secret,
        "aws_region": region,
        "aws_endpoint_url": endpoint_url,
        # A loopback host has no bucket subdomains; object_store refuses http unless told.
        "aws_virtual_hosted_style_request": "false",
        "aws_allow_http": "true" if endpoint_url.startswith("http://") else "false",
    }


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_secret_sql(
    name: str, endpoint_url: str, key: str, secret: str, region: str, bucket: str
) -> str:
    """A ``CREATE OR REPLACE TEMPORARY SECRET`` statement that points DuckDB's ``s3://``
    URLs of ``bucket`` (only those: the secret's scope) at the server at ``endpoint_url``.

    Temporary: DuckDB keeps it in memory, never in ``~/.duckdb/stored_secrets``.
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"DuckDB secret name {name!r} is not a plain SQL identifier: use letters, "
            "digits and underscores, starting with a letter or underscore (e.g. 'local_s3')"
        )
    scheme, _, host = endpoint_url.partition("://")
    options = [
        "TYPE s3",
        f"KEY_ID {_sql_string(key)}",
        f"SECRET {_sql_string(secret)}",
        f"REGION {_sql_string(region)}",
        f"ENDPOINT {_sql_string(host.rstrip('/'))}",
        "URL_STYLE 'path'",
        f"USE_SSL {'true' if scheme == 'https' else 'false'}",
        f"SCOPE {_sql_string(f's3://{bucket}')}",
    ]
    return f"CREATE OR REPLACE TEMPORARY SECRET {name} ({', '.join(options)})"


def packaged_extension(name: str, duckdb_version: str) -> pathlib.Path | None:
    """The file of DuckDB extension ``name`` in the ``duckdb-extension-{name}`` package (PyPI)
    for ``duckdb_version`` (``"v1.5.5"``), or None when that package or version is missing."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = pathlib.Path(next(iter(spec.submodule_search_locations)))
    path = root / "extensions" / duckdb_version / f"{name}.duckdb_extension"
    return path if path.is_file() else None


def _httpfs_missing(version: str) -> RuntimeError:
    bare = version.removeprefix("v")
    return RuntimeError(
        f"DuckDB's httpfs extension (it reads s3:// URLs) is not installed for DuckDB "
        f"{version}, and nothing here downloads it. Fix, one of: run "
        "duckdb.sql('INSTALL httpfs') once with internet access; or "
        f"pip install duckdb-extension-httpfs=={bare} (the extension as a Python package, "
        "for machines without internet); or read through s3fs instead: "
        "con.register_filesystem(s3fs.S3FileSystem(**local.storage_options))"
    )


def load_httpfs(con: Any) -> str:
    """Load DuckDB's httpfs extension into the connection ``con`` without downloading.

    Tries the extension installed for this DuckDB (``INSTALL httpfs`` puts it in
    ``~/.duckdb/extensions``), then the ``duckdb-extension-httpfs`` package's file; DuckDB
    checks the file's signature as for any extension. Returns where it came from
    (``"installed"`` or the file's path); raises RuntimeError saying how to install it.
    """
    import duckdb

    try:
        con.execute("LOAD httpfs")  # LOAD never downloads; INSTALL would
        return "installed"
    except duckdb.Error:
        pass
    version = con.sql("PRAGMA version").fetchone()[0]
    path = packaged_extension("httpfs", version)
    if path is None:
        raise _httpfs_missing(version)
    con.execute(f"LOAD {_sql_string(str(path))}")
    return str(path)
