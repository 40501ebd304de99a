"""Writes the example notebooks from plain Python, so they stay reviewable in diffs.

Run: .venv/bin/python notebooks/_make_notebooks.py
"""

from __future__ import annotations

import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).parent


def write(name: str, cells: list) -> None:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, HERE / name)


QUICKSTART = [
    new_markdown_cell(
        "# s3-upload-widget: quickstart\n\n"
        "Pick or drop files below: they go from your browser **straight to S3** "
        "(the kernel only signs the request), and their keys land in Python.\n\n"
        "With `S3_UPLOAD_BUCKET` set (and AWS credentials in the kernel's environment) "
        "the files go to that bucket; otherwise to a local S3 server on 127.0.0.1, "
        "so this notebook works with no AWS account."
    ),
    new_code_cell(
        "import os\n\n"
        "from s3_upload_widget import LocalS3, S3UploadWidget\n\n"
        'bucket = os.environ.get("S3_UPLOAD_BUCKET")\n'
        "if bucket:\n"
        '    w = S3UploadWidget(bucket=bucket, prefix="uploads/")\n'
        "else:\n"
        "    local = LocalS3()  # an S3 server on 127.0.0.1 for this kernel\n"
        '    w = S3UploadWidget(bucket=local.bucket, prefix="uploads/", client=local.client)\n'
        "w"
    ),
    new_markdown_cell("When a file shows **done**, its key is in Python:"),
    new_code_cell("w.key, w.uploaded_keys"),
    new_markdown_cell("One record per file, with its status, size, key and ETag:"),
    new_code_cell("w.uploads"),
    new_markdown_cell("Run code after each upload (for example, load the file):"),
    new_code_cell(
        "@w.on_upload\n"
        "def announce(record):\n"
        "    print(f\"{record['name']} is at {record['s3_uri']}\")"
    ),
    new_markdown_cell("Read the last file back with boto3:"),
    new_code_cell(
        "if w.key:\n"
        "    client = local.client if not bucket else __import__('boto3').client('s3')\n"
        "    body = client.get_object(Bucket=w.bucket, Key=w.key)['Body'].read()\n"
        "    print(len(body), 'bytes:', body[:80])"
    ),
]

if __name__ == "__main__":
    write("quickstart.ipynb", QUICKSTART)
