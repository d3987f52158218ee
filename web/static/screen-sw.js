/* The screen kiosk's Service Worker (served at /screen-sw.js, controlling /screen).
 *
 * It keeps a screen playing when the village network drops:
 * - /api/v1/media/<sha256>: cache first (the files are immutable, named by their hash);
 * - the schedule and the device's own record: network first, the last good answer when the
 *   network is down (marked `X-Kuanyue-Cache: fallback`, so the page knows its clock is old);
 * - the page, its script and style: network first (a new kiosk arrives when online), cached
 *   for an offline start.
 * Emergencies, pairing, play logs and heartbeats always go to the network: a stale emergency
 * answer must never be shown. The page itself verifies each file's sha256 before it is kept.
 */
"use strict";

const MEDIA_CACHE = "kuanyue-screen-media-v1";
const API_CACHE = "kuanyue-screen-api-v1";
const PAGE_CACHE = "kuanyue-screen-page-v1";
const OURS = [MEDIA_CACHE, API_CACHE, PAGE_CACHE];

const ROOT = new URL("./", self.location).pathname; // "/" (or the site's prefix)
const PAGE = `${ROOT}screen`;
const SHELL = [PAGE, `${ROOT}static/screen.js`, `${ROOT}static/screen.css`, `${ROOT}static/favicon.svg`];
const MEDIA = `${ROOT}api/v1/media/`;
const FALLBACK_API = [`${ROOT}api/v1/device`, `${ROOT}api/v1/device/schedule`];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(PAGE_CACHE);
    await Promise.allSettled(SHELL.map((path) => cache.add(new Request(path, { cache: "no-cache" }))));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("kuanyue-screen-") && !OURS.includes(name)) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function cacheFirst(request) {
  const cache = await caches.open(MEDIA_CACHE);
  const hit = await cache.match(request.url, { ignoreVary: true, ignoreSearch: true });
  if (hit) return hit;
  const response = await fetch(request);
  // A whole file only (never a 206 part), and only what the server vouches for.
  if (response.status === 200) await cache.put(request.url, response.clone());
  return response;
}

async function networkFirst(request, cacheName, key) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.status === 200) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const hit = await cache.match(key, { ignoreVary: true, ignoreSearch: true });
    if (!hit) throw error;
    const headers = new Headers(hit.headers);
    headers.set("X-Kuanyue-Cache", "fallback");
    return new Response(await hit.blob(), { status: hit.status, statusText: hit.statusText, headers });
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith(MEDIA)) {
    event.respondWith(cacheFirst(request));
  } else if (FALLBACK_API.includes(url.pathname)) {
    event.respondWith(networkFirst(request, API_CACHE, url.pathname));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(networkFirst(request, PAGE_CACHE, url.pathname));
  }
});
