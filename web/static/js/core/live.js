// Live updates from the API's Server-Sent Events (GET /orders/{id}/live, GET /dispatch/live).
// EventSource cannot send the bearer token, so the stream is read with fetch and parsed here; it reconnects with
// Last-Event-ID (the server replays what was missed) and backs off while the network is down. Callers keep a
// slow poll as well: a stream is a bonus that makes the page react at once, never the only way to learn news.
import { session } from "./api.js";

const BASE = "/api/v1";
const MAX_BACKOFF_MS = 30_000;

/**
 * Follow `path`: onEvent({type, id, data}) for every message (data parsed from JSON when it is JSON),
 * onState("live" | "down" | "unavailable"). Returns stop(). A 404/406/403 answer means there is no such stream
 * for this user: the state becomes "unavailable" and nothing is retried.
 */
export function follow(path, { onEvent, onState = () => {} } = {}) {
  let stopped = false;
  let controller = null;
  let lastId = null;
  let backoff = 1000;
  let timer = null;
  let waiting = false;

  async function connect() {
    if (stopped) return;
    controller = new AbortController();
    const headers = { Accept: "text/event-stream" };
    if (session.token) headers.Authorization = `Bearer ${session.token}`;
    if (lastId) headers["Last-Event-ID"] = lastId;
    try {
      const response = await fetch(BASE + path, { headers, signal: controller.signal, cache: "no-store" });
      if ([401, 403, 404, 405, 406].includes(response.status)) {
        onState("unavailable");
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      backoff = 1000;
      onState("live");
      await read(response.body.getReader());
    } catch (error) {
      if (stopped || error.name === "AbortError") return;
    }
    if (stopped) return;
    onState("down");
    waiting = true;
    timer = setTimeout(() => {
      waiting = false;
      connect();
    }, backoff);
    backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
  }

  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  function dispatch(block) {
    let type = "message";
    let id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    if (id) lastId = id;
    if (!data.length && type === "message") return;
    const text = data.join("\n");
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    try {
      onEvent?.({ type, id, data: parsed });
    } catch (error) {
      console.warn("live event handler failed", error);
    }
  }

  const onOnline = () => {
    if (stopped || !waiting) return;
    clearTimeout(timer);
    waiting = false;
    backoff = 1000;
    connect();
  };
  window.addEventListener("online", onOnline);
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    window.removeEventListener("online", onOnline);
    controller?.abort();
  };
}
