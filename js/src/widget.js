// @ts-check
/**
 * anywidget entry. `initialize` builds one controller per widget model (message router,
 * upload engine) so uploads go on when a view is removed; `render` draws a view of it.
 */
import "./widget.css";
import * as P from "./protocol.js";
import { UploadEngine } from "./uploader.js";
import { xhrTransport } from "./transport.js";
import { createView } from "./view.js";

/** @type {Map<string, Controller>} keyed by the widget's model id */
const controllers = new Map();

/**
 * anywidget hands initialize and render different proxies of one model: a synced id
 * (set once by Python) tells them apart from other widgets' models.
 */
function modelId(model) {
  return model.get("_widget_id");
}

class Controller {
  /** @param {any} model */
  constructor(model) {
    this.model = model;
    /** @type {Set<ReturnType<typeof createView>>} */
    this.views = new Set();
    this.waiting = false;
    this.notice = "";
    this.rpc = new P.Rpc(
      { send: (msg) => model.send(msg) },
      { onWaiting: (waiting) => this._setWaiting(waiting) },
    );
    this.engine = new UploadEngine({
      api: this._api(),
      transport: xhrTransport,
      concurrency: model.get("concurrency") || 4,
      onChange: (id, state) => this._broadcast((view) => view.updateFile(id, state)),
    });
    this._onMessage = (msg) => this._route(msg);
    model.on("msg:custom", this._onMessage);
    // The engine reads these per file: a change in Python applies to the next file.
    this._onConcurrency = () => {
      const concurrency = model.get("concurrency") || 4;
      this.engine.concurrency = concurrency;
      this.engine.signBatchSize = concurrency;
    };
    model.on("change:concurrency", this._onConcurrency);
    this.rpc.request(P.HELLO, { origin: globalThis.location?.origin ?? "" }).catch(() => {});
  }

  /** The engine's view of the kernel: each call is one request over custom messages. */
  _api() {
    const rpc = this.rpc;
    return {
      sign: (id) => rpc.request(P.SIGN, { upload_id: id }),
      signParts: (id, partNumbers) =>
        rpc.request(P.SIGN_PARTS, { upload_id: id, part_numbers: partNumbers }),
      complete: (id, payload) => rpc.request(P.COMPLETE, { upload_id: id, ...payload }),
      fail: (id, error) => rpc.request(P.FAIL, { upload_id: id, error }),
      cancel: (id) => rpc.request(P.CANCEL, { upload_id: id }),
      progress: (updates) => rpc.notify(P.PROGRESS, { updates }),
    };
  }

  /** @param {any} msg */
  _route(msg) {
    if (this.rpc.handle(msg)) return;
    if (msg?.kind === P.CANCEL_UPLOADS) {
      const ids = Array.isArray(msg.upload_ids) ? msg.upload_ids : null;
      // The kernel asked: it already knows, so don't tell it back.
      if (ids) ids.forEach((id) => this.engine.cancel(id, { notify: false }));
      else this.engine.cancelAll();
    }
  }

  /**
   * Ask the kernel about the chosen files, then upload the ones it accepted.
   * @param {File[]} files
   */
  async addFiles(files) {
    if (!files.length) return;
    this._setNotice("");
    const described = files.map((f) => ({ name: f.name, size: f.size, type: f.type || "" }));
    try {
      const { uploads } = await this.rpc.request(P.ADD_FILES, { files: described });
      uploads.forEach((record, i) => {
        if (record.status === "queued") this.engine.add(record.id, files[i]);
      });
    } catch (err) {
      this._setNotice(describeError(err));
    }
  }

  /** @param {string} id */
  cancel(id) {
    this.engine.cancel(id);
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
    this.model.off("change:concurrency", this._onConcurrency);
    this.engine.cancelAll();
    this.rpc.close();
  }
}

/** @param {any} err */
function describeError(err) {
  const hint = err?.hint ? ` ${err.hint}` : "";
  return `${err?.message ?? String(err)}${hint}`;
}

export default {
  /** @param {{model: any}} ctx */
  initialize({ model }) {
    const id = modelId(model);
    const controller = new Controller(model);
    controllers.set(id, controller);
    return () => {
      controller.dispose();
      if (controllers.get(id) === controller) controllers.delete(id);
    };
  },

  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    const controller = controllers.get(modelId(model));
    const view = createView(el, model, {
      onFiles: (files) => controller.addFiles(files),
      onCancel: (id) => controller.cancel(id),
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
