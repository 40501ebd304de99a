# s3-upload-widget in marimo: a marimo app file, written by hand (tools/make_notebooks.py
# writes only the Jupyter notebooks). Open it with
#     marimo edit notebooks/marimo_quickstart.py     (or: marimo run ...)
# tests/e2e/test_marimo.py runs it in a browser and uploads a file through it.

import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell(hide_code=True)
def _(mo):
    mo.md("""
    # s3-upload-widget: quickstart in marimo

    Pick or drop files below: they go from your browser **straight to S3** (the kernel
    only signs the request), and the cell after the widget shows their keys as soon as
    each file is in S3; no cell waits.

    With `S3_UPLOAD_BUCKET` set (and AWS credentials in marimo's environment) the files
    go to that bucket; otherwise to a local S3 server on 127.0.0.1, so this app works
    with no AWS account. A real bucket needs a CORS rule for this page's origin (the
    address marimo serves it at, e.g. `http://localhost:2718`): see the README.
    """)
    return


@app.cell
def _():
    import os

    from s3_upload_widget import LocalS3, S3UploadWidget

    bucket = os.environ.get("S3_UPLOAD_BUCKET")
    if bucket:
        import boto3

        local = None
        client = boto3.client("s3")  # credentials: env vars, ~/.aws, an instance role...
    else:
        # An S3 server on 127.0.0.1 for this session: no AWS account needed. It keeps
        # the files in memory and stops when marimo stops.
        local = LocalS3()
        bucket, client = local.bucket, local.client
    print("Uploading to", f"s3://{bucket}", "(local test server)" if local else "")
    return S3UploadWidget, bucket, client


@app.cell
def _(mo):
    # The kernel sets this after each upload (below); marimo then runs again every cell
    # that reads get_keys().
    get_keys, set_keys = mo.state([])
    return get_keys, set_keys


@app.cell
def _(S3UploadWidget, bucket, client, mo, set_keys):
    w = S3UploadWidget(bucket=bucket, prefix="uploads/", client=client)

    # on_upload runs in the kernel once the kernel has checked that S3 holds the file:
    # the page never decides what counts as uploaded. Keep get_keys() out of this
    # cell, or each upload would make a new widget.
    @w.on_upload
    def _announce(record):
        set_keys(list(w.uploaded_keys))

    mo.ui.anywidget(w)
    return (w,)


@app.cell
def _(get_keys, mo):
    keys = get_keys()
    if keys:
        listing = "\n".join(f"- `{key}`" for key in keys)
        shown = f"**Uploaded ({len(keys)}):**\n\n{listing}"
    else:
        shown = "No file yet: pick a file above. This cell runs again when it is in S3."
    mo.md(shown)
    return (keys,)


@app.cell
def _(bucket, client, keys, mo):
    # Read the last file back with boto3 (any reader works: pandas, polars, DuckDB...).
    if keys:
        head = client.get_object(Bucket=bucket, Key=keys[-1])["Body"].read(80)
        readback = f"First bytes of `{keys[-1]}`: `{head!r}`"
    else:
        readback = "The first bytes of the last file show here."
    mo.md(readback)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md("""
    `w.wait()` does not work in marimo (it raises at once): marimo handles the widget's
    messages only between cells, so a cell that waited would hold back the messages that
    finish the upload. React to uploads as above instead: `w.on_upload` sets a `mo.state`,
    and the cells that read it run again.
    """)
    return


if __name__ == "__main__":
    app.run()
