// The Uppy 5 page of the many-files benchmark (benchmarks/many_uppy.py bundles it with
// esbuild). Uppy's defaults, except what signing needs: `getUploadParameters` asks this
// page's own server (/sign, which presigns a single PUT with boto3 against moto). Files
// picked in #files are added and uploaded at once; window.__mfUppy records the outcome.
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";

const query = new URLSearchParams(location.search);
const bucket = query.get("bucket");
const prefix = query.get("prefix") || "";
const state = (window.__mfUppy = { ready: false, done: false, errors: [] });

const uppy = new Uppy();
uppy.use(AwsS3, {
  async getUploadParameters(file) {
    const params = new URLSearchParams({ bucket, key: prefix + file.name, type: file.type || "" });
    const response = await fetch(`/sign?${params}`);
    if (!response.ok) throw new Error(`signing failed: ${response.status}`);
    return response.json(); // {method: "PUT", url, headers}
  },
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
    state.t_added = Date.now();
    state.files_in_uppy = uppy.getFiles().length;
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
