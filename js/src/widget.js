// @ts-check
/**
 * This file owns the anywidget entry: `initialize` builds one controller per widget model
 * (message router, upload engine, record store) so uploads go on when a view is removed,
 * and `render` draws a view of it. It only wires: the work is in engine.js, records.js,
 * protocol.js and view.js.
 */
import "./widget.css";
import * as P from "./protocol.js";
import { DEFAULT_PARALLEL_FILES, UploadEngine, kernelApi } from "./engine.js";
import { BROWSER_CONNECTIONS_PER_HOST } from "./in-flight.js";
import { RecordStore } from "./records.js";
import { xhrTransport } from "./transport.js";
import { NetworkWatch } from "./network.js";
import { createView } from "./view.js";
import { resumeUpload } from "./resume.js";
import { blobWorkerFactory, usePagePool } from "./hash-pool.js";
// The hash worker's own bundle, as text (npm run build makes it first: package.json).
import HASH_WORKER_SOURCE from "../build/hash-worker.txt";

/**
 * The parts of anywidget's model that the front end uses.
 * @typedef {object} Model
 * @property {(name: string) => any} get
 * @property {(msg: any) => void} send
 * @property {(event: string, callback: (...args: any[]) => void) => void} on
 * @property {(event: string, callback: (...args: any[]) => void) => void} off
 */

/** @type {Map<string, Controller>} keyed by the widget's model id */
const controllers = new Map();

/**
 * anywidget hands initialize and render different proxies of one model: a synced id
 * (set once by Python) tells them apart from other widgets' models.
 * @param {Model} model
 * @returns {string}
 */
function modelId(model) {
  return model.get("_widget_id");
}

class Controller {
  /** @param {Model} model */
  constructor(model) {
    this.model = model;
    /** @type {Set<ReturnType<typeof createView>>} */
    this.views = new Set();
    this.waiting = false;
    this.notice = "";
    /** @type {Set<ReturnType<typeof setTimeout>>} picks waiting for another window (_afterOtherWindow) */
    this._timers = new Set();
    /** @type {string | null} the id of our "hello" request, whose answer resets the store */
    this._helloId = null;
    this.rpc = new P.Rpc(
      {
        send: (msg) => {
          if (msg.kind === P.HELLO) this._helloId = msg.id;
          model.send(msg);
        },
      },
      { onWaiting: (waiting) => this._setWaiting(waiting) },
    );
    /** The kernel's records as the views draw them: the "hello" snapshot, then "records" deltas. */
    this.store = new RecordStore();
    // The browser's word on the network; the uploads' own outcomes tell the rest.
    this.network = new NetworkWatch();
    this.network.setBrowserOnline(globalThis.navigator?.onLine !== false);
    this._onOnline = () => this.network.setBrowserOnline(true);
    this._onOffline = () => this.network.setBrowserOnline(false);
    globalThis.addEventListener?.("online", this._onOnline);
    globalThis.addEventListener?.("offline", this._onOffline);
    // Parts are hashed in Web Workers, side by side (hash-pool.js); none in node's tests.
    if (typeof Worker === "function" && HASH_WORKER_SOURCE) {
      usePagePool(blobWorkerFactory(HASH_WORKER_SOURCE), globalThis.navigator?.hardwareConcurrency);
    }
    /** Connection pools per S3 host name (in-flight.js): the kernel's word, in its answers. */
    this.pools = 1;
    this.engine = new UploadEngine({
      api: kernelApi(this.rpc, { onPools: (pools) => this._setPools(pools) }),
      transport: xhrTransport,
      network: this.network,
      // The kernel checked it (1..6 per host name) and always syncs it: its default is written there.
      concurrency: inFlight(model, "concurrency", this.pools),
      parallelFiles: inFlight(model, "parallel_files", this.pools),
      queueAhead: queueAhead(model),
      checksum: model.get("checksum") ?? null,
      multipartThreshold: model.get("multipart_threshold") ?? Infinity,
      onChange: (id, state) => this._broadcast((view) => view.updateFile(id, state)),
    });
    // A record the kernel forgot (w.clear()) leaves the engine's totals too.
    this._unsubscribe = this.store.subscribe(({ removed }) => removed.forEach((id) => this.engine.forget(id)));
    /** @param {any} msg */
    this._onMessage = (msg) => this._route(msg);
    model.on("msg:custom", this._onMessage);
    // The engine reads these per file: a change in Python applies to the next file.
    this._onConcurrency = () => {
      const concurrency = inFlight(model, "concurrency", this.pools);
      this.engine.concurrency = concurrency;
      this.engine.signBatchSize = concurrency;
      this.engine.queueAhead = queueAhead(model);
      this.engine.parallelFiles = inFlight(model, "parallel_files", this.pools);
    };
    for (const name of IN_FLIGHT_OPTIONS) model.on(`change:${name}`, this._onConcurrency);
    // Which files the page hashes before "sign-files": the kernel's rules, as they are now.
    this._onChecksumRules = () => {
      this.engine.checksum = model.get("checksum") ?? null;
      this.engine.multipartThreshold = model.get("multipart_threshold") ?? Infinity;
    };
    model.on("change:checksum", this._onChecksumRules);
    model.on("change:multipart_threshold", this._onChecksumRules);
    this.rpc.request(P.HELLO, { origin: globalThis.location?.origin ?? "" }).catch(() => {});
  }

  /** @param {number} pools */
  _setPools(pools) {
    const count = pools >= 2 ? 2 : 1;
    if (count === this.pools) return;
    this.pools = count;
    this.engine.transport.setPools(count);
    this._onConcurrency();
  }

  /** @param {any} msg */
  _route(msg) {
    // The snapshot is applied as its message comes (not a promise turn later), so a
    // "records" delta right behind it can't be applied first and then wiped.
    if (msg?.kind === P.responseKind(P.HELLO) && msg.id === this._helloId && msg.ok) {
      if (Array.isArray(msg.result?.records)) this.store.reset(msg.result.records);
    }
    if (this.rpc.handle(msg)) return;
    if (msg?.kind === P.RECORDS) {
      this.store.apply(msg);
    } else if (msg?.kind === P.CANCEL_UPLOADS) {
      /** @type {string[] | null} */
      const ids = Array.isArray(msg.upload_ids) ? msg.upload_ids : null;
      // The kernel asked: it already knows, so don't tell it back.
      if (ids) ids.forEach((id) => this.engine.cancel(id, { notify: false }));
      else this.engine.cancelAll({ notify: false });
    } else if (msg?.kind === P.PAUSE_UPLOADS || msg?.kind === P.RESUME_UPLOADS) {
      /** @type {string[]} */
      const ids = Array.isArray(msg.upload_ids) ? msg.upload_ids.map(String) : [];
      if (msg.kind === P.PAUSE_UPLOADS) ids.forEach((id) => this.engine.pause(id));
      else ids.forEach((id) => this.engine.resume(id));
    }
  }

  /**
   * Ask the kernel about the files of one pick or drop, then upload the ones it accepted.
   * @param {import("./folders.js").PickedFile[]} picked each File with its path in its folder
   * @param {string[]} [problems] what reading the pick or drop skipped, in words
   */
  async addFiles(picked, problems = []) {
    const skipped = problems.join("\n");
    this._setNotice(skipped);
    if (!picked.length) return;
    const described = await describe(picked);
    try {
      /** @type {{uploads: P.UploadRecord[]}} */
      const { uploads } = await this.rpc.request(P.ADD_FILES, { files: described });
      uploads.forEach((record, i) => {
        if (record.resume) this._resume(record.id, record.resume, picked[i].file);
        else if (record.elsewhere) this._afterOtherWindow(record, picked[i]);
        else if (record.status === "queued") this.engine.add(record.id, picked[i].file, record.first_part);
      });
    } catch (err) {
      this._setNotice([skipped, describeError(err)].filter(Boolean).join("\n"));
    }
  }

  /**
   * A picked file that resumes an upload the kernel kept from before a reload (resume.js).
   * @param {string} id @param {import("./resume.js").ResumePoint} resume @param {Blob} blob
   */
  _resume(id, resume, blob) {
    resumeUpload(this.engine, this.engine.api, id, resume, blob).catch((err) => this._setNotice(describeError(err)));
  }

  /**
   * A picked file whose upload another window of this notebook still sends: this page
   * asks again once that window may have stopped (P.ELSEWHERE_MS without a move: a reload,
   * a closed tab, a pause there), and takes it over then; never while it moves there.
   * @param {P.UploadRecord} record @param {import("./folders.js").PickedFile} picked
   */
  _afterOtherWindow(record, picked) {
    this._setNotice(`${record.name} is uploading in another window; this page goes on with it if that window stops.`);
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      const now = this.store.get(record.id);
      if (now && (now.status === "uploading" || now.status === "paused")) this.addFiles([picked]);
    }, P.ELSEWHERE_MS);
    this._timers.add(timer);
  }

  /**
   * A row's cancel button. A record this page never uploaded (another page's, or one
   * from before a reload) is cancelled in the kernel directly.
   * @param {string} id
   */
  cancel(id) {
    if (this.engine.cancel(id) || this.engine.state(id)) return;
    const record = this.store.get(id);
    if (record && !P.FINAL_STATUSES.includes(record.status)) {
      this.rpc.request(P.CANCEL, { upload_id: id }).catch(() => {});
    }
  }

  /**
   * A row's pause button: pauses the file, or resumes it when paused.
   * @param {string} id
   */
  togglePause(id) {
    if (this.engine.state(id)?.status === "paused") this.engine.resume(id);
    else this.engine.pause(id);
  }

  /** @param {boolean} waiting */
  _setWaiting(waiting) {
    this.waiting = waiting;
    this._broadcast((view) => view.setWaiting(waiting));
  }

  /** @param {string} text */
  _setNotice(text) {
    this.notice = text;
    this._broadcast((view) => view.setNotice(text));
  }

  /** @param {(view: ReturnType<typeof createView>) => void} fn */
  _broadcast(fn) {
    this.views.forEach(fn);
  }

  dispose() {
    this.model.off("msg:custom", this._onMessage);
    for (const name of IN_FLIGHT_OPTIONS) this.model.off(`change:${name}`, this._onConcurrency);
    this.model.off("change:checksum", this._onChecksumRules);
    this.model.off("change:multipart_threshold", this._onChecksumRules);
    globalThis.removeEventListener?.("online", this._onOnline);
    globalThis.removeEventListener?.("offline", this._onOffline);
    this._timers.forEach(clearTimeout);
    this.engine.cancelAll();
    this.rpc.close();
  }
}

/** Longest stretch of describing files before the page gets a turn (ms). */
const DESCRIBE_SLICE_MS = 40;

/**
 * Each picked file as "add-files" describes it. The first read of a picked file's size
 * costs the browser a look at the disk (a fraction of a millisecond): for thousands of
 * files that is seconds, so the page gets a turn every DESCRIBE_SLICE_MS.
 * @param {import("./folders.js").PickedFile[]} picked
 */
async function describe(picked) {
  const described = [];
  let slice = performance.now();
  for (const { file, relativePath } of picked) {
    described.push({
      name: file.name, size: file.size, type: file.type || "", relative_path: relativePath,
      ...(Number.isSafeInteger(file.lastModified) && file.lastModified >= 0 && { last_modified: file.lastModified }),
    });
    if (performance.now() - slice > DESCRIBE_SLICE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      slice = performance.now();
    }
  }
  return described;
}

/**
 * Requests of option `name` ("concurrency": parts of a file; "parallel_files": files) at
 * once over all of the S3's host names and each name's connection pools.
 * @param {Model} model
 * @param {string} name
 * @param {number} pools  connection pools per host name (in-flight.js)
 */
function inFlight(model, name, pools) {
  const perHost = model.get(name) ?? (name === "parallel_files" ? DEFAULT_PARALLEL_FILES : 6);
  // The kernel signs requests for each of the S3's names in turn (extra_endpoints), and
  // the browser opens its 6 connections per name and pool: per pool, then, not in all.
  return perHost * pools * (1 + (model.get("extra_endpoints") ?? []).length);
}

/**
 * Small files' requests may also wait inside the browser (in-flight.js) when the files
 * per host name are the browser's own limit: then the browser still puts at most that
 * many on the wire. Fewer (a user's choice) must stay fewer.
 * @param {Model} model
 */
function queueAhead(model) {
  return (model.get("parallel_files") ?? DEFAULT_PARALLEL_FILES) === BROWSER_CONNECTIONS_PER_HOST;
}

/** The options that set how many requests go at once. */
const IN_FLIGHT_OPTIONS = ["concurrency", "parallel_files", "extra_endpoints"];

/** @param {any} err */
function describeError(err) {
  const hint = err?.hint ? ` ${err.hint}` : "";
  return `${err?.message ?? String(err)}${hint}`;
}

export default {
  /** @param {{model: Model}} ctx */
  initialize({ model }) {
    const id = modelId(model);
    const controller = new Controller(model);
    controllers.set(id, controller);
    return () => {
      controller.dispose();
      if (controllers.get(id) === controller) controllers.delete(id);
    };
  },

  /** @param {{model: Model, el: HTMLElement}} ctx */
  render({ model, el }) {
    const controller = controllers.get(modelId(model));
    if (!controller) throw new Error("s3-upload-widget: render() came before initialize().");
    const view = createView(el, model, {
      onFiles: (files, problems) => controller.addFiles(files, problems),
      onCancel: (id) => controller.cancel(id),
      onPause: (id) => controller.togglePause(id),
      onPauseAll: (paused) => controller.engine.setAllPaused(paused),
      store: controller.store,
      engineState: (id) => controller.engine.state(id),
      totals: () => controller.engine.totals(),
    });
    controller.views.add(view);
    view.setWaiting(controller.waiting);
    view.setNotice(controller.notice);
    return () => {
      controller.views.delete(view);
      view.dispose();
    };
  },
};
