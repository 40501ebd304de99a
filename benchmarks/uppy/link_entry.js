// The Uppy 5 page of the simulated-link benchmark (benchmarks/link.py bundles it with
// esbuild). Uppy's defaults (limit 6, multipart above 100 MiB in parts of
// max(5 MiB, size / 10,000), its retry delays), with the callbacks a user without Companion
// writes: each asks this page's own server (benchmarks/link_pages.py), which presigns with
// boto3 and calls moto for create / complete / list / abort. The page is served from
// localhost, so only the PUTs to S3 (127.0.0.1) cross the shaping proxy.
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";

const query = new URLSearchParams(location.search);
const bucket = query.get("bucket");
const prefix = query.get("prefix") || "";
const state = (window.__linkUppy = { ready: false, done: false, errors: [] });

async function call(path, params, body) {
  const url = `${path}?${new URLSearchParams({ bucket, ...params })}`;
  const init = body === undefined ? {} : { method: "POST", body: JSON.stringify(body) };
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`${path} failed: ${response.status}`);
  return response.json();
}

const uppy = new Uppy();
uppy.use(AwsS3, {
  getUploadParameters: (file) => call("/sign", { key: prefix + file.name, type: file.type || "" }),
  createMultipartUpload: (file) => call("/mpu/create", { key: prefix + file.name, type: file.type || "" }),
  signPart: (file, { uploadId, key, partNumber }) => call("/mpu/sign", { key, uploadId, partNumber }),
  listParts: (file, { uploadId, key }) => call("/mpu/list", { key, uploadId }),
  completeMultipartUpload: (file, { uploadId, key, parts }) => call("/mpu/complete", { key, uploadId }, parts),
  abortMultipartUpload: (file, { uploadId, key }) => call("/mpu/abort", { key, uploadId }, {}),
});
uppy.on("upload-error", (file, error) => {
  if (state.errors.length < 20) state.errors.push(`${file?.name}: ${error?.message}`);
});

const input = document.getElementById("files");
input.addEventListener("change", async () => {
  state.t_change = Date.now();
  const files = Array.from(input.files);
  try {
    uppy.addFiles(files.map((f) => ({ name: f.name, type: f.type, data: f, source: "Local" })));
    const result = await uppy.upload();
    state.successful = result?.successful?.length ?? 0;
    state.failed = result?.failed?.length ?? 0;
  } catch (err) {
    state.errors.push(String(err?.stack || err));
  }
  state.t_complete = Date.now();
  state.done = true;
});
state.ready = true;
