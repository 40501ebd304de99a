"""The benchmark: S3UploadWidget against curl and ipywidgets.FileUpload, on loopback.

Run from the repo root: ``.venv/bin/python -m benchmarks.run --help`` (see README.md).
"""
