/* The screen kiosk (/screen): pairs with the server, then plays the screen device's timeline by
 * the wall clock, with emergencies on top and a Service Worker cache underneath.
 *
 * - Credential: the URL fragment (/screen#<id>.<token>, then wiped from the address bar), else
 *   localStorage, else a pairing code shown until `kuanyue device pair <code> <屏幕名>` is run.
 * - Clock: server_time (GET /api/v1/device, and every emergency poll) corrects this machine's
 *   clock; items start at their wall-clock time, and an item already under way starts at its
 *   offset.
 * - Media: fetched with the Authorization header, checked against its sha256, kept in the
 *   Cache Storage (the Service Worker serves the same cache when this page is reloaded
 *   offline) and played from blob: URLs, since a <video src> cannot carry the header.
 * - Emergencies: polled every emergency_poll_s (10 s); a red banner with the call's sound
 *   interrupts whatever plays. Offline, the schedule's own emergency items are played.
 * - Play logs are queued in localStorage and posted in batches; a heartbeat reports the cache.
 * window.kuanyueScreen exposes the state (tests and whoever debugs a screen in a village).
 */
(() => {
  "use strict";

  const body = document.body;
  const VERSION = body.dataset.playerVersion || "screen/1";
  const API = new URL("api/v1/", new URL(body.dataset.sw || "/screen-sw.js", location)).href;
  const KEY = "kuanyue.screen.credential";
  const INFO_KEY = "kuanyue.screen.device";
  const PLAYS_KEY = "kuanyue.screen.plays";
  const MEDIA_CACHE = "kuanyue-screen-media-v1";
  const API_CACHE = "kuanyue-screen-api-v1";
  const PREFETCH_AHEAD_MS = 6 * 3600 * 1000;
  const PREFETCH_MAX = 40; // distinct files: a village's evening repeats the same few clips
  const TICK_MS = 250;
  const CREDENTIAL = /^\d+\.[A-Za-z0-9_-]+$/;

  const $ = (id) => document.getElementById(id);
  const el = {
    pairing: $("pairing"), code: $("pairing-code"), codeCmd: $("pairing-code-cmd"),
    pairingStatus: $("pairing-status"), idle: $("idle"), idleVillage: $("idle-village"),
    idleClock: $("idle-clock"), idleNext: $("idle-next"), idleStatus: $("idle-status"),
    card: $("card"), cardTitle: $("card-title"), cardTitleEn: $("card-title-en"),
    cardVillage: $("card-village"), still: $("still"), stillImg: $("still-img"),
    video: $("player"), audio: $("audio"), alarm: $("alarm"), alarmTitle: $("alarm-title"),
    alarmTitleEn: $("alarm-title-en"), alarmPlayer: $("alarm-player"), sound: $("sound"),
    offline: $("offline"),
  };

  const state = {
    version: VERSION,
    phase: "starting", // starting | pairing | playing
    credential: null,
    device: null,
    settings: { schedule_poll_s: 60, emergency_poll_s: 10, horizon_h: 48, clock_warn_s: 5 },
    offsetMs: 0, // server clock − this machine's clock
    schedule: null,
    etag: null,
    emergency: { active: false, items: [], checkedAt: 0 },
    online: true,
    mode: "none", // idle | video | audio | still | alarm
    current: null, // key of the main item playing
    alarm: null, // key of the emergency item playing
    log: [], // [{key, id, kind, title, at (server ms), src}] — what started, for tests
    errors: [],
    cached: [], // media URLs known to be in the cache
    needsGesture: false,
  };
  window.kuanyueScreen = state;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const now = () => Date.now() + state.offsetMs;
  const show = (node, on) => { node.hidden = !on; };
  const note = (text) => { state.errors.push(text); if (state.errors.length > 50) state.errors.shift(); };
  const splitTitle = (title) => {
    const text = title || "";
    const at = text.indexOf(" / ");
    return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 3)];
  };

  // --- talking to the API ------------------------------------------------------------------

  async function api(path, options = {}) {
    const headers = new Headers(options.headers || {});
    if (state.credential) headers.set("Authorization", `Bearer ${state.credential}`);
    return fetch(new URL(path, API).href, { ...options, headers });
  }

  function setOnline(online) {
    state.online = online;
    show(el.offline, !online && state.phase === "playing");
  }

  function correctClock(serverTime, sentAt, receivedAt) {
    const server = Date.parse(serverTime);
    if (Number.isNaN(server) || receivedAt - sentAt > 3000) return;
    state.offsetMs = server - (sentAt + receivedAt) / 2;
  }

  // A response the Service Worker took from its cache (offline) says so; its clock is stale.
  const fromCache = (response) => response.headers.get("X-Kuanyue-Cache") === "fallback";

  // --- the credential and pairing ------------------------------------------------------------

  function credentialFromFragment() {
    if (!location.hash || location.hash.length < 2) return null;
    const value = decodeURIComponent(location.hash.slice(1)).trim();
    // Off the address bar at once: a screen in a hall is photographed.
    history.replaceState(null, "", location.pathname + location.search);
    return CREDENTIAL.test(value) ? value : null;
  }

  async function forgetCredential() {
    localStorage.removeItem(KEY);
    localStorage.removeItem(INFO_KEY);
    state.credential = null;
    if (window.caches) await caches.delete(API_CACHE);
  }

  async function pairingCode() {
    state.phase = "pairing";
    showOnly("pairing");
    for (;;) {
      let offer;
      try {
        const response = await fetch(new URL("screen/pairing", API).href, { method: "POST" });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        offer = await response.json();
      } catch (error) {
        el.pairingStatus.textContent = "无法连接服务器，正在重试… / Cannot reach the server, retrying…";
        note(`pairing: ${error}`);
        await sleep(5000);
        continue;
      }
      el.code.textContent = offer.code;
      el.codeCmd.textContent = offer.code;
      el.pairingStatus.textContent = "";
      const pollUrl = new URL(offer.poll || `screen/pairing/${offer.code}`, API).href;
      const expires = Date.now() + (offer.expires_s || 600) * 1000;
      while (Date.now() < expires) {
        await sleep(2000);
        let response;
        try {
          response = await fetch(pollUrl, { cache: "no-store" });
        } catch (error) {
          el.pairingStatus.textContent = "网络中断，正在重试… / Network down, retrying…";
          continue;
        }
        if (response.status === 404) break; // expired or unknown: a new code
        if (response.status === 200) {
          const answer = await response.json();
          if (answer.paired && CREDENTIAL.test(answer.credential || "")) return answer.credential;
        }
        el.pairingStatus.textContent = "";
      }
    }
  }

  // --- device, schedule, emergencies ---------------------------------------------------------

  function useDevice(info) {
    state.device = info;
    Object.assign(state.settings, info.settings || {});
    el.idleVillage.textContent = info.village || "";
    el.cardVillage.textContent = [info.village, info.name].filter(Boolean).join(" · ");
  }

  /** "ok", "unauthorized" or "offline". */
  async function loadDevice() {
    const sentAt = Date.now();
    let response;
    try {
      response = await api("device", { cache: "no-store" });
    } catch (error) {
      note(`device: ${error}`);
      const saved = localStorage.getItem(INFO_KEY);
      if (saved) useDevice(JSON.parse(saved));
      return "offline";
    }
    if (response.status === 401 || response.status === 403) return "unauthorized";
    if (!response.ok) return "offline";
    const info = await response.json();
    if (!fromCache(response)) correctClock(info.server_time, sentAt, Date.now());
    localStorage.setItem(INFO_KEY, JSON.stringify(info));
    useDevice(info);
    return fromCache(response) ? "offline" : "ok";
  }

  function parseItem(item) {
    return {
      ...item,
      key: `${item.id}@${item.start}`,
      startMs: Date.parse(item.start),
      endMs: Date.parse(item.end),
    };
  }

  async function loadSchedule() {
    const headers = state.etag && state.schedule ? { "If-None-Match": state.etag } : {};
    let response;
    try {
      response = await api("device/schedule", { headers, cache: "no-store" });
    } catch (error) {
      note(`schedule: ${error}`);
      setOnline(false);
      return;
    }
    if (response.status === 401) return unauthorized();
    if (response.status === 304) { setOnline(true); return; }
    if (!response.ok) { note(`schedule: HTTP ${response.status}`); return; }
    const snapshot = await response.json();
    setOnline(!fromCache(response));
    state.etag = response.headers.get("ETag") || `"${snapshot.version}"`;
    const items = (snapshot.items || []).map(parseItem).sort((a, b) => a.startMs - b.startMs);
    state.schedule = { version: snapshot.version, tz: snapshot.tz, items };
    prefetch(!fromCache(response)).catch((error) => note(`prefetch: ${error}`));
  }

  async function pollEmergency() {
    const sentAt = Date.now();
    let response;
    try {
      response = await api("device/emergency", { cache: "no-store" });
    } catch (error) {
      setOnline(false);
      return; // offline: keep what we knew; the schedule's emergency items still play
    }
    if (response.status === 401) return unauthorized();
    if (!response.ok) return;
    const answer = await response.json();
    setOnline(true);
    correctClock(answer.server_time, sentAt, Date.now());
    state.emergency = {
      active: Boolean(answer.active),
      items: (answer.items || []).map(parseItem).sort((a, b) => a.startMs - b.startMs),
      checkedAt: Date.now(),
    };
    tick();
    for (const item of state.emergency.items) if (item.media) cacheMedia(item.media).catch(() => {});
  }

  async function unauthorized() {
    // The token was rotated or the device disabled: pair again.
    await forgetCredential();
    location.reload();
  }

  // --- media: verified, cached, played from blob: URLs -------------------------------------------

  const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

  /** The file's bytes as a Blob, from the cache or the network (then verified and cached). */
  async function mediaBlob(url, sha256, mime) {
    const cache = window.caches ? await caches.open(MEDIA_CACHE) : null;
    const hit = cache ? await cache.match(url, { ignoreVary: true, ignoreSearch: true }) : null;
    if (hit && hit.ok) return hit.blob();
    const response = await api(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const buffer = await response.arrayBuffer();
    if (sha256 && window.crypto && crypto.subtle) {
      const got = hex(await crypto.subtle.digest("SHA-256", buffer));
      if (got !== sha256) {
        if (cache) await cache.delete(url);
        throw new Error(`${url}: sha256 mismatch`);
      }
    }
    const type = mime || response.headers.get("Content-Type") || "application/octet-stream";
    if (cache) {
      await cache.put(url, new Response(buffer.slice(0), {
        headers: { "Content-Type": type, "Content-Length": String(buffer.byteLength) },
      }));
    }
    if (!state.cached.includes(url)) state.cached.push(url);
    return new Blob([buffer], { type });
  }

  const vttSha = (url) => (url.match(/([0-9a-f]{64})$/) || [])[1];

  async function cacheMedia(media) {
    const cache = await caches.open(MEDIA_CACHE);
    if (await cache.match(media.url, { ignoreVary: true, ignoreSearch: true })) {
      if (!state.cached.includes(media.url)) state.cached.push(media.url);
      return;
    }
    await mediaBlob(media.url, media.sha256, media.mime);
  }

  /** Fetch the coming items' files into the cache (and, online, drop files no longer due). */
  async function prefetch(fresh) {
    if (!window.caches || !state.schedule) return;
    const t = now();
    const wanted = [];
    for (const item of state.schedule.items) {
      if (item.endMs <= t || item.startMs > t + PREFETCH_AHEAD_MS) continue;
      if (item.media) wanted.push({ url: item.media.url, sha256: item.media.sha256, mime: item.media.mime });
      if (item.vtt) wanted.push({ url: item.vtt, sha256: vttSha(item.vtt), mime: "text/vtt" });
    }
    const seen = new Set();
    const files = wanted.filter((f) => !seen.has(f.url) && seen.add(f.url)).slice(0, PREFETCH_MAX);
    for (const file of files) {
      try {
        await cacheMedia(file);
      } catch (error) {
        note(`prefetch ${file.url}: ${error}`);
      }
    }
    if (!fresh) return;
    // Every file of the whole snapshot stays (and the emergency's); the rest goes.
    const keep = new Set();
    for (const item of [...state.schedule.items, ...state.emergency.items]) {
      if (item.media) keep.add(new URL(item.media.url, location).href);
      if (item.vtt) keep.add(new URL(item.vtt, location).href);
    }
    const cache = await caches.open(MEDIA_CACHE);
    for (const request of await cache.keys()) if (!keep.has(request.url)) await cache.delete(request);
  }

  // --- playing ---------------------------------------------------------------------------------

  let playToken = 0;
  let objectUrls = [];

  function showOnly(name) {
    show(el.pairing, name === "pairing");
    show(el.idle, name === "idle");
    show(el.card, name === "audio");
    show(el.still, name === "still");
    show(el.video, name === "video");
  }

  function releaseUrls(keep = []) {
    for (const url of objectUrls) if (!keep.includes(url)) URL.revokeObjectURL(url);
    objectUrls = objectUrls.filter((url) => keep.includes(url));
  }

  function stopElement(media) {
    media.pause();
    for (const track of Array.from(media.querySelectorAll("track"))) track.remove();
    media.removeAttribute("src");
    media.load();
  }

  async function playWithFallback(media) {
    media.muted = false;
    try {
      await media.play();
    } catch (error) {
      if (error.name !== "NotAllowedError") throw error;
      // No autoplay with sound (a kiosk without --autoplay-policy): play muted, ask for a tap.
      media.muted = true;
      state.needsGesture = true;
      show(el.sound, true);
      await media.play();
    }
  }

  el.sound.addEventListener("click", () => {
    state.needsGesture = false;
    show(el.sound, false);
    for (const media of [el.video, el.audio, el.alarmPlayer]) media.muted = false;
  });

  /** Seek to where the wall clock says the item is, once the element knows its length. */
  function seekToClock(media, item) {
    return new Promise((resolve) => {
      const go = () => {
        const offset = (now() - item.startMs) / 1000;
        if (offset > 0.3 && Number.isFinite(media.duration)) {
          media.currentTime = Math.min(offset, Math.max(media.duration - 0.05, 0));
        }
        resolve(offset);
      };
      if (media.readyState >= 1) go();
      else media.addEventListener("loadedmetadata", go, { once: true });
    });
  }

  function finish(status) {
    const playing = state.playing;
    if (!playing) return;
    state.playing = null;
    queuePlay(playing, status);
  }

  function stopMain(status = "interrupted") {
    playToken += 1;
    finish(status);
    stopElement(el.video);
    stopElement(el.audio);
    releaseUrls();
    state.current = null;
  }

  async function startItem(item, media, kind) {
    const token = ++playToken;
    state.current = item.key;
    state.playing = { item, startedAt: now() };
    state.mode = kind;
    const [zh, en] = splitTitle(item.title);
    state.log.push({ key: item.key, id: item.id, kind, title: item.title, at: now() });
    try {
      const src = URL.createObjectURL(await mediaBlob(item.media.url, item.media.sha256, item.media.mime));
      objectUrls.push(src);
      let vtt = null;
      if (kind === "video" && item.vtt) {
        try {
          vtt = URL.createObjectURL(await mediaBlob(item.vtt, vttSha(item.vtt), "text/vtt"));
          objectUrls.push(vtt);
        } catch (error) {
          note(`vtt: ${error}`); // the picture plays without its subtitles
        }
      }
      if (token !== playToken) return;
      if (kind === "still") {
        el.stillImg.src = src;
        el.stillImg.alt = zh;
        showOnly("still");
        return;
      }
      if (kind === "audio") {
        el.cardTitle.textContent = zh;
        el.cardTitleEn.textContent = en;
        showOnly("audio");
      } else {
        showOnly("video");
      }
      media.src = src;
      if (vtt) {
        const track = document.createElement("track");
        Object.assign(track, { kind: "subtitles", srclang: "zh-Hans", label: "中文", default: true, src: vtt });
        media.appendChild(track);
        track.track.mode = "showing";
      }
      state.log[state.log.length - 1].src = src;
      const offset = await seekToClock(media, item);
      if (token !== playToken) return;
      if (offset > (media.duration || item.media.duration_s || 0)) {
        stopMain("skipped");
        state.current = item.key;
        idle();
        return;
      }
      await playWithFallback(media);
    } catch (error) {
      if (token !== playToken) return;
      note(`play ${item.id}: ${error}`);
      finish("failed");
      idle(`${zh} 暂时无法播放 / cannot play now`);
    }
  }

  function playAlarm(item) {
    const key = item ? item.key : "banner";
    if (state.alarm === key) return;
    state.alarm = key;
    stopElement(el.alarmPlayer);
    const titled = item || state.emergency.items.find((i) => i.media) || {};
    const [zh, en] = splitTitle(titled.title || "紧急通知 / emergency");
    el.alarmTitle.textContent = zh;
    el.alarmTitleEn.textContent = en;
    show(el.alarm, true);
    state.log.push({ key, id: item ? item.id : null, kind: "alarm", title: titled.title, at: now() });
    if (!item || !item.media) return;
    mediaBlob(item.media.url, item.media.sha256, item.media.mime)
      .then(async (blob) => {
        if (state.alarm !== key) return;
        el.alarmPlayer.src = URL.createObjectURL(blob);
        show(el.alarmPlayer, item.kind === "video");
        await seekToClock(el.alarmPlayer, item);
        await playWithFallback(el.alarmPlayer);
      })
      .catch((error) => note(`alarm ${item.id}: ${error}`));
  }

  function stopAlarm() {
    if (state.alarm === null) return;
    state.alarm = null;
    if (el.alarmPlayer.src) URL.revokeObjectURL(el.alarmPlayer.src);
    stopElement(el.alarmPlayer);
    show(el.alarm, false);
  }

  const clockFormat = () => {
    const tz = (state.schedule && state.schedule.tz) || (state.device && state.device.tz) || undefined;
    try {
      return new Intl.DateTimeFormat("zh-Hans-CN", { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    } catch (error) {
      return new Intl.DateTimeFormat("zh-Hans-CN", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    }
  };

  function idle(status = "") {
    state.mode = "idle";
    showOnly("idle");
    const t = now();
    const format = clockFormat();
    el.idleClock.textContent = format.format(new Date(t));
    const next = state.schedule && state.schedule.items.find((i) => i.startMs > t && i.media && i.layer !== "emergency");
    if (next) {
      const [zh, en] = splitTitle(next.title);
      el.idleNext.textContent = `下一个 ${format.format(new Date(next.startMs))}：${zh}${en ? ` / Next: ${en}` : ""}`;
    } else {
      el.idleNext.textContent = state.schedule ? "今天没有更多节目 / Nothing more scheduled" : "正在载入节目单… / Loading the schedule…";
    }
    el.idleStatus.textContent = status;
  }

  /** The emergency item sounding now: the emergency poll's when it answers, the schedule's offline. */
  function emergencyNow(t) {
    const fresh = Date.now() - state.emergency.checkedAt < (state.settings.emergency_poll_s * 3 + 5) * 1000;
    if (fresh && !state.emergency.active) return { on: false };
    const pool = fresh ? state.emergency.items : (state.schedule ? state.schedule.items : []);
    const item = pool.find((i) => i.layer === "emergency" && i.startMs <= t && t < i.endMs);
    if (fresh) return { on: true, item: item && item.media ? item : null };
    return { on: Boolean(item), item: item && item.media ? item : null };
  }

  function tick() {
    if (state.phase !== "playing") return;
    const t = now();
    const alarm = emergencyNow(t);
    if (alarm.on) {
      if (state.current !== null) stopMain("interrupted");
      if (state.mode !== "alarm") showOnly("alarm");
      state.mode = "alarm";
      playAlarm(alarm.item);
      return;
    }
    stopAlarm();
    const items = state.schedule ? state.schedule.items : [];
    const item = items.find((i) => i.startMs <= t && t < i.endMs && i.layer !== "emergency");
    if (!item || !item.media || !["video", "audio", "still"].includes(item.kind)) {
      if (state.current !== null) stopMain(state.playing && t >= state.playing.item.endMs ? "completed" : "interrupted");
      if (state.mode !== "idle" || t - (state.idleDrawn || 0) > 1000) { idle(); state.idleDrawn = t; }
      return;
    }
    if (item.key === state.current) {
      if (item.kind !== "still" && state.mode !== "idle") {
        const media = item.kind === "video" ? el.video : el.audio;
        if (media.ended) { finish("completed"); idle(); } // the file ends before the item
      } else if (state.mode === "idle" && t - (state.idleDrawn || 0) > 1000) {
        idle(el.idleStatus.textContent); state.idleDrawn = t;
      }
      return;
    }
    const ended = state.playing && t >= state.playing.item.endMs;
    stopMain(ended ? "completed" : "interrupted");
    startItem(item, item.kind === "video" ? el.video : el.audio, item.kind);
  }

  // --- play logs and heartbeat ---------------------------------------------------------------

  function queuePlay(playing, status) {
    const { item, startedAt } = playing;
    const queue = JSON.parse(localStorage.getItem(PLAYS_KEY) || "[]");
    const id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    queue.push({
      id, item_id: String(item.id || ""), sha256: item.media ? item.media.sha256 : "",
      start: new Date(startedAt).toISOString(), end: new Date(now()).toISOString(), status,
    });
    localStorage.setItem(PLAYS_KEY, JSON.stringify(queue.slice(-5000)));
  }

  async function sendPlays() {
    const queue = JSON.parse(localStorage.getItem(PLAYS_KEY) || "[]");
    if (!queue.length) return;
    const batch = queue.slice(0, 500);
    try {
      const response = await api("device/plays", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ plays: batch }),
      });
      if (!response.ok) return;
      const acknowledged = new Set((await response.json()).acknowledged || []);
      const rest = JSON.parse(localStorage.getItem(PLAYS_KEY) || "[]").filter((p) => !acknowledged.has(p.id));
      localStorage.setItem(PLAYS_KEY, JSON.stringify(rest));
    } catch (error) {
      // offline: the queue waits
    }
  }

  async function heartbeat() {
    const report = { player_version: VERSION, clock: new Date().toISOString() };
    try {
      if (navigator.storage && navigator.storage.estimate) {
        const { usage, quota } = await navigator.storage.estimate();
        report.cache_bytes = Math.round(usage || 0);
        report.free_bytes = Math.max(0, Math.round((quota || 0) - (usage || 0)));
      }
      await api("device/heartbeat", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(report),
      });
    } catch (error) {
      // offline
    }
  }

  function every(seconds, fn) {
    const run = async () => {
      try { await fn(); } catch (error) { note(String(error)); }
      setTimeout(run, Math.max(1, seconds()) * 1000);
    };
    setTimeout(run, Math.max(1, seconds()) * 1000);
  }

  // --- start ---------------------------------------------------------------------------------

  async function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    // The first answers may come before the worker is in charge, and unchanged polls (304)
    // bring no copy: once it is, fetch the device and the schedule whole through it, so a
    // restart without the network has them.
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (state.phase !== "playing") return;
      state.etag = null;
      loadDevice();
      loadSchedule();
    });
    try {
      await navigator.serviceWorker.register(body.dataset.sw, { scope: body.dataset.scope });
    } catch (error) {
      note(`service worker: ${error}`);
    }
  }

  async function main() {
    registerWorker();
    let credential = credentialFromFragment();
    if (credential && credential !== localStorage.getItem(KEY)) await forgetCredential();
    credential = credential || localStorage.getItem(KEY);
    for (;;) {
      if (!credential) credential = await pairingCode();
      localStorage.setItem(KEY, credential);
      state.credential = credential;
      const status = await loadDevice();
      if (status !== "unauthorized") break;
      await forgetCredential();
      credential = null;
    }
    state.phase = "playing";
    idle();
    await Promise.all([loadSchedule(), pollEmergency()]);
    setInterval(tick, TICK_MS);
    tick();
    every(() => state.settings.schedule_poll_s, loadSchedule);
    every(() => state.settings.emergency_poll_s, pollEmergency);
    every(() => 300, loadDevice);
    every(() => 60, sendPlays);
    every(() => 60, heartbeat);
    addEventListener("online", () => { loadSchedule(); pollEmergency(); });
    state.flush = () => Promise.all([sendPlays(), heartbeat()]); // for tests and debugging
  }

  main().catch((error) => note(`main: ${error}`));
})();
