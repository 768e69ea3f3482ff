// The single-page app: sign-in (on gatepass's hosted page), the catalogue, playback, and "you were signed out".
import * as player from "/player.js";
import * as session from "/session.js";

const $ = (id) => document.getElementById(id);
const video = $("player");
const HEARTBEAT_MS = 15000; // while signed in, ask the API now and then: a login ended
// elsewhere (sign-out, theft detected, admin) shows here without waiting for a click

function show(view) {
  $("loading").hidden = true;
  $("signin").hidden = view !== "signin";
  $("library").hidden = view !== "library";
  $("signout").hidden = view !== "library";
  $("who").hidden = view !== "library";
}

function status(text) {
  $("status").textContent = text;
}

session.onSignedOut((reason) => {
  player.stop(video);
  $("videos").replaceChildren();
  status("");
  if (reason) {
    $("notice-reason").textContent = reason;
    $("notice").hidden = false;
  }
  show("signin");
});

async function loadLibrary() {
  const me = await session.api("/api/me");
  if (me === null) return;
  if (!me.ok) throw new Error(`The API answered ${me.status}.`);
  const { plan } = await me.json();
  $("who").textContent = plan === "subscriber" ? "Subscriber" : "Free plan";
  const r = await session.api("/api/videos");
  if (r === null) return;
  const items = (await r.json()).videos.map((v) => {
    const li = document.createElement("li");
    const title = document.createElement("span");
    title.textContent = v.title;
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.video = v.id;
    button.textContent = v.entitled ? "Play" : "Play (subscribers)";
    if (!v.entitled) li.className = "locked";
    button.addEventListener("click", () => playVideo(v.id));
    li.append(title, button);
    return li;
  });
  $("videos").replaceChildren(...items);
  $("notice").hidden = true;
  show("library");
}

async function playVideo(id) {
  status("Asking for a playback URL…");
  const r = await session.api(`/api/videos/${encodeURIComponent(id)}/play`, { method: "POST" });
  if (r === null) return; // signed out meanwhile
  if (r.status === 403) {
    player.stop(video);
    status("This video is for subscribers.");
    return;
  }
  if (!r.ok) {
    status(`Could not start playback (${r.status}).`);
    return;
  }
  const { playlist } = await r.json();
  status(`Playing ${id}.`);
  video.dataset.video = id;
  player.play(video, playlist, status);
}

function failed(e) {
  $("signin-error").textContent = e.message;
  $("signin-error").hidden = false;
  show("signin");
}

$("signin-button").addEventListener("click", () => {
  $("signin-error").hidden = true;
  session.signIn().catch(failed);
});

$("signout").addEventListener("click", () => session.logout());

setInterval(() => {
  if (session.signedIn() && !document.hidden) session.api("/api/me");
}, HEARTBEAT_MS);

// A hook for people (and tests) looking at a running app: it exposes no token.
window.videoApp = Object.freeze({
  refreshNow: () => session.refresh(),
  checkSession: async () => (await session.api("/api/me"))?.status ?? 401,
  hlsErrors: player.errors,
});

// At page load: back from gatepass (a code to redeem, or the end of a sign-out), or else a
// silent refresh through the cookie alone.
(async () => {
  try {
    const back = await session.handleCallback();
    if (back === "signed-out") {
      $("notice-reason").textContent = session.REASONS.self;
      $("notice").hidden = false;
      show("signin");
    } else if (back === "signed-in" || (await session.refresh())) {
      await loadLibrary();
    }
  } catch (e) {
    failed(e);
  }
})();
