// The browser session with gatepass (DESIGN "Browser sessions").
//
// Signing in goes through gatepass's hosted login page, so this app never sees a password: an
// authorization request (OAuth 2.0 code flow, PKCE S256) to /oauth/authorize as the app's own
// public client, back to this page with ?code&state&iss, and the code redeemed at /auth/login.
// The PKCE verifier and the state wait in sessionStorage from the redirect to the callback only.
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
const PENDING = "video-platform:pending"; // {state, verifier} from the redirect to the callback
const SIGNING_OUT = "video-platform:signing-out"; // the state of an RP-initiated logout
const SCOPE = "profile videos:read";

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
let config = null;
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

// The app's client id (registered at setup, served by nginx as /config.json).
async function clientId() {
  if (config === null) {
    const r = await fetch("/config.json", { credentials: "omit" });
    if (!r.ok) throw new Error(`The app's configuration could not be read (${r.status}).`);
    config = await r.json();
  }
  return config.client_id;
}

// This page is the redirect URI (and the post-logout one), registered character for character.
function redirectUri() {
  return `${location.origin}/`;
}

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

// RFC 7636 §4.2: BASE64URL(SHA-256(verifier)).
async function s256(verifier) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

// "Sign in": off to gatepass's hosted login page; the browser comes back to handleCallback().
export async function signIn() {
  const state = randomText();
  const verifier = randomText(48); // 64 characters of [A-Za-z0-9_-] (RFC 7636 §4.1: 43-128)
  const query = new URLSearchParams({
    response_type: "code",
    client_id: await clientId(),
    redirect_uri: redirectUri(),
    scope: SCOPE,
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: "S256",
  });
  sessionStorage.setItem(PENDING, JSON.stringify({ state, verifier }));
  location.assign(`/oauth/authorize?${query}`);
}

// The page was loaded with a query (the answer of /oauth/authorize or /oauth/logout): take it
// out of the address bar and the history at once, then act on it. Returns "signed-in",
// "signed-out" (back from the logout), or null (no callback here).
export async function handleCallback() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error") && !params.has("state")) return null;
  history.replaceState(null, "", location.pathname); // the code must not stay in the URL
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  const signingOut = sessionStorage.getItem(SIGNING_OUT);
  sessionStorage.removeItem(SIGNING_OUT);
  if (!params.has("code") && !params.has("error")) {
    if (signingOut !== null && params.get("state") === signingOut) return "signed-out";
    return null;
  }
  // RFC 6749 §10.12 (state, against cross-site request forgery) and RFC 9207 (iss, against
  // mix-up): an answer this tab did not ask for, or from another server, is dropped.
  if (pending === null || params.get("state") !== pending.state) {
    throw new Error("That sign-in answer was not for this tab: sign in again.");
  }
  if (params.get("iss") !== location.origin) {
    throw new Error("That sign-in answer came from an unexpected server: sign in again.");
  }
  if (params.has("error")) {
    if (params.get("error") === "access_denied") throw new Error("Sign-in was cancelled.");
    throw new Error(`Sign-in did not complete (${params.get("error").slice(0, 64)}).`);
  }
  const r = await fetch("/auth/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { ...CSRF, "Content-Type": "application/json" },
    body: JSON.stringify({
      code: params.get("code"),
      code_verifier: pending.verifier,
      redirect_uri: redirectUri(),
      client_id: await clientId(),
    }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    if (r.status === 429) throw new Error("Too many attempts: wait a little and try again.");
    throw new Error("The sign-in could not be completed (it may have expired): sign in again.");
  }
  started(body.access_token);
  return "signed-in";
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

// "Sign out": this app's login ends (/auth/logout clears the refresh cookie), the other tabs
// are told, then gatepass's own session ends too (RP-initiated logout), so that the next
// "Sign in" asks for the password again. gatepass asks the user to confirm (no ID token is
// sent: the app never holds one) and sends the browser back here with the state.
export async function logout() {
  await fetch("/auth/logout", { method: "POST", credentials: "same-origin", headers: CSRF });
  end(REASONS.self, { tellOtherTabs: true });
  const state = randomText();
  sessionStorage.setItem(SIGNING_OUT, state);
  const query = new URLSearchParams({
    client_id: await clientId(),
    post_logout_redirect_uri: redirectUri(),
    state,
  });
  location.assign(`/oauth/logout?${query}`);
}
