// The browser session with gatepass (DESIGN "Browser sessions").
//
// The access token lives in this module's memory only: never in localStorage, sessionStorage or
// a cookie a script can read. The refresh token lives only in gatepass's cookie
// (`__Secure-gp_refresh`: HttpOnly; Secure; SameSite=Strict; Path=/auth), which the browser sends
// to /auth/refresh and /auth/logout and which no script here can see. A reload starts with no
// access token and gets one from /auth/refresh (the cookie alone). A 401 from the API is answered
// by one silent refresh and one retry. Two tabs refreshing at the same moment present the same
// cookie; gatepass's grace window gives both the same new one.

const CSRF = { "X-Requested-With": "video-platform" }; // required by gatepass's cookie endpoints
const FLAG = "video-platform:signed-in"; // "this tab had a session" (a flag, never a token)

export const REASONS = {
  self: "You signed out.",
  otherTab: "You signed out in another tab.",
  ended:
    "Your sign-in was ended elsewhere: you signed out on another device, an administrator ended " +
    "it, or your session was used from another browser (a possible theft of its cookie), which " +
    "ends it everywhere. Playback is no longer authorised. Sign in again to continue.",
};

let accessToken = null;
let refreshing = null; // one refresh at a time in this tab
let lastRefusal = ""; // what the API said when it last refused the token
const listeners = new Set();
const channel = "BroadcastChannel" in self ? new BroadcastChannel("video-session") : null;

export function onSignedOut(fn) {
  listeners.add(fn);
}

export function signedIn() {
  return accessToken !== null;
}

function end(reason, { tellOtherTabs = false } = {}) {
  const had = accessToken !== null || sessionStorage.getItem(FLAG) === "1";
  accessToken = null;
  sessionStorage.removeItem(FLAG);
  if (tellOtherTabs && channel) channel.postMessage({ type: "signed-out" });
  for (const fn of listeners) fn(had ? reason : null);
}

channel?.addEventListener("message", (event) => {
  if (event.data?.type === "signed-out" && accessToken !== null) end(REASONS.otherTab);
});

function started(token) {
  accessToken = token;
  sessionStorage.setItem(FLAG, "1");
}

export async function login(username, password) {
  const r = await fetch("/auth/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { ...CSRF, "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    if (r.status === 429) throw new Error("Too many attempts: wait a little and try again.");
    throw new Error("The username or password is not right.");
  }
  started(body.access_token);
}

// A new access token from the refresh cookie: true, or false when the login has ended (the app
// is then signed out). Concurrent callers in this tab share one request.
export function refresh() {
  refreshing ??= doRefresh().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function doRefresh() {
  const r = await fetch("/auth/refresh", { method: "POST", credentials: "same-origin", headers: CSRF });
  if (r.ok) {
    started((await r.json()).access_token);
    return true;
  }
  if (r.status === 400 || r.status === 401) {
    const said = lastRefusal ? ` (The API said: ${lastRefusal})` : "";
    end(REASONS.ended + said);
    return false;
  }
  throw new Error(`The sign-in service answered ${r.status}; try again shortly.`);
}

// fetch() for the app's API with the access token; one silent refresh and retry on a 401.
export async function api(path, init = {}) {
  for (let attempt = 0; ; attempt++) {
    if (accessToken === null && !(await refresh())) return null;
    const r = await fetch(path, {
      ...init,
      credentials: "omit",
      headers: { ...(init.headers || {}), Authorization: `Bearer ${accessToken}` },
    });
    if (r.status !== 401 || attempt > 0) return r;
    const body = await r.clone().json().catch(() => ({}));
    lastRefusal = body?.detail?.error_description || "";
    accessToken = null;
  }
}

export async function logout() {
  await fetch("/auth/logout", { method: "POST", credentials: "same-origin", headers: CSRF });
  end(REASONS.self, { tellOtherTabs: true });
}
