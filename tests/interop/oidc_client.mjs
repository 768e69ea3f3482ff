// An OpenID Connect relying party written with openid-client v6 (panva, OpenID-certified), not
// by us, driven through gatepass's hosted pages by a small scripted "browser" (cookies kept,
// redirects followed by hand, HTML forms read and submitted as a browser would).
//
// Usage: node oidc_client.mjs ISSUER
//   environment: CLIENT_ID, CLIENT_SECRET (absent: a public client), REDIRECT_URI,
//   POST_LOGOUT_REDIRECT_URI, USERNAME, PASSWORD, SCOPE
// Steps: discovery; an authorization URL with PKCE (S256), nonce and state; the login form
// filled in; consent allowed if asked; the code exchanged with ID-token validation; userinfo;
// refresh; single sign-on (prompt=none); the end-session URL followed to the registered
// post-logout URI; what is left afterwards. Prints one JSON object; exits non-zero on a failure.
import * as client from 'openid-client'

const [issuerArg] = process.argv.slice(2)
const env = process.env
const redirectUri = env.REDIRECT_URI
const postLogoutUri = env.POST_LOGOUT_REDIRECT_URI
const scope = env.SCOPE || 'openid profile email'

// ---------------------------------------------------------------- a scripted browser
// a URL without its query and fragment (`origin` is "null" for a private-use scheme)
const bare = (url) => url.href.split(/[?#]/)[0]

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" }

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+[0-9]*);/gi, (m, e) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)
      return String.fromCodePoint(code)
    }
    return ENTITIES[e.toLowerCase()] ?? m
  })
}

function attributes(tag) {
  const out = {}
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g
  const body = tag.replace(/^<\s*[a-z]+/i, '').replace(/\/?>$/, '')
  for (const m of body.matchAll(re)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '')
  }
  return out
}

// Every form of a page: action, method, its named inputs and its submit buttons.
function forms(html) {
  const found = []
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form\s*>/gi)) {
    const attrs = attributes(m[0].match(/^<form\b[^>]*>/i)[0])
    const fields = []
    const buttons = []
    for (const t of m[1].matchAll(/<(input|button)\b[^>]*>/gi)) {
      const a = attributes(t[0])
      const type = (a.type || (t[1].toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase()
      if (type === 'submit' || type === 'image') buttons.push(a)
      else if ('name' in a && !['button', 'reset', 'file'].includes(type)) {
        if ((type === 'checkbox' || type === 'radio') && !('checked' in a)) continue
        fields.push({ name: a.name, type, value: a.value ?? (type === 'checkbox' ? 'on' : '') })
      }
    }
    found.push({ action: attrs.action, method: (attrs.method || 'get').toLowerCase(), fields, buttons })
  }
  return found
}

class Browser {
  constructor() {
    this.jar = new Map() // one site (the issuer), so one jar: name -> value
    this.setCookies = [] // every Set-Cookie seen, for the test to check the attributes
  }

  cookieHeader() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  keep(response) {
    for (const line of response.headers.getSetCookie()) {
      this.setCookies.push(line)
      const [pair, ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const gone = attrs.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a))
        || attrs.some((a) => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now())
      // A Secure cookie is kept and sent back over http here, as browsers do for loopback
      // (127.0.0.1 is a potentially trustworthy origin); the test server listens only there.
      if (gone) this.jar.delete(name)
      else this.jar.set(name, value)
    }
  }

  async request(url, { method = 'GET', body } = {}) {
    const headers = { accept: 'text/html' }
    if (this.jar.size) headers.cookie = this.cookieHeader()
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      headers.origin = new URL(url).origin // a browser's form POST carries its page's origin
    }
    const response = await fetch(url, { method, body, headers, redirect: 'manual' })
    this.keep(response)
    return response
  }

  // Follow redirects and answer forms until a redirect to `target` (not fetched: it is the
  // client's own URI). `answer(form, page)` returns the submitter button (or null) and the
  // fields to fill; `seen` collects what happened on the way.
  async navigate(url, target, answer, seen = []) {
    let next = { url: new URL(url), method: 'GET', body: undefined }
    for (let step = 0; step < 12; step += 1) {
      const response = await this.request(next.url, next)
      if (response.status >= 300 && response.status < 400) {
        const location = new URL(response.headers.get('location'), next.url)
        await response.arrayBuffer()
        seen.push({ status: response.status, redirect: bare(location) })
        if (bare(location) === target) return { landed: location, seen }
        next = { url: location, method: 'GET', body: undefined }
        continue
      }
      const html = await response.text()
      const pageForms = forms(html)
      seen.push({
        status: response.status,
        url: next.url.pathname,
        headers: {
          csp: response.headers.get('content-security-policy'),
          cache: response.headers.get('cache-control'),
        },
        forms: pageForms.map((f) => ({
          method: f.method,
          fields: f.fields.map((x) => x.name),
          buttons: f.buttons.map((b) => `${b.name ?? ''}=${b.value ?? ''}`),
        })),
      })
      if (response.status !== 200 || pageForms.length !== 1) {
        return { landed: null, seen, page: html.slice(0, 2000) }
      }
      const form = pageForms[0]
      const choice = answer(form)
      if (choice === null) return { landed: null, seen, page: html.slice(0, 2000) }
      const params = new URLSearchParams()
      for (const f of form.fields) params.append(f.name, choice.fill[f.name] ?? f.value)
      if (choice.button?.name) params.append(choice.button.name, choice.button.value ?? '')
      const action = new URL(form.action || next.url.href, next.url)
      if (form.method === 'post') next = { url: action, method: 'POST', body: params.toString() }
      else {
        action.search = params.toString()
        next = { url: action, method: 'GET', body: undefined }
      }
    }
    throw new Error('too many steps')
  }
}

// What a user does on gatepass's pages: signs in, allows; on any other form, the first button.
function user(form) {
  const names = form.fields.map((f) => f.name)
  if (names.includes('password')) {
    return { fill: { username: env.USERNAME, password: env.PASSWORD }, button: form.buttons[0] }
  }
  const allow = form.buttons.find((b) => b.name === 'consent' && b.value === 'allow')
  if (allow) return { fill: {}, button: allow }
  return { fill: {}, button: form.buttons[0] }
}

function noForms() {
  return null // a silent request must not show a page
}

// ---------------------------------------------------------------- the relying party
const out = {}
const clientAuth = env.CLIENT_SECRET ? client.ClientSecretBasic(env.CLIENT_SECRET) : client.None()
// openid-client refuses http issuers unless told: the test server listens on loopback only
const config = await client.discovery(new URL(issuerArg), env.CLIENT_ID, undefined, clientAuth, {
  execute: [client.allowInsecureRequests],
})
const meta = config.serverMetadata()
out.discovery = {
  issuer: meta.issuer,
  authorization_endpoint: meta.authorization_endpoint,
  token_endpoint: meta.token_endpoint,
  userinfo_endpoint: meta.userinfo_endpoint,
  end_session_endpoint: meta.end_session_endpoint,
  jwks_uri: meta.jwks_uri,
  code_challenge_methods_supported: meta.code_challenge_methods_supported,
  supportsPKCE: config.serverMetadata().supportsPKCE(),
}

const browser = new Browser()

async function authorize(extra, answer) {
  const verifier = client.randomPKCECodeVerifier()
  const nonce = client.randomNonce()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
    ...extra,
  })
  const walk = await browser.navigate(url, redirectUri, answer)
  if (walk.landed === null) {
    throw new Error(`no redirect to the client: ${JSON.stringify(walk.seen)} ${walk.page}`)
  }
  return { walk, verifier, nonce, state, url }
}

// 1. login (and consent when asked), then the code exchange with every check openid-client has
const first = await authorize({}, user)
out.login = {
  seen: first.walk.seen,
  callback_params: [...first.walk.landed.searchParams.keys()].sort(),
  callback_iss: first.walk.landed.searchParams.get('iss'),
  set_cookies: browser.setCookies.map((c) => c.replace(/=[^;]*/, '=<value>')),
}
const tokens = await client.authorizationCodeGrant(config, first.walk.landed, {
  pkceCodeVerifier: first.verifier,
  expectedNonce: first.nonce,
  expectedState: first.state,
})
const claims = tokens.claims()
out.tokens = {
  token_type: tokens.token_type,
  scope: tokens.scope,
  has_refresh_token: typeof tokens.refresh_token === 'string',
  expires_in: tokens.expiresIn(),
  claims, // nonce, iss, aud, exp, iat and the signature were checked by openid-client
  nonce_sent: first.nonce,
}

// 2. userinfo for the ID token's subject
out.userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)

// 3. refresh (rotating: the new refresh token is another one)
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
out.refresh = {
  token_type: refreshed.token_type,
  rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
  id_token_sub: refreshed.id_token ? refreshed.claims().sub : null,
}
const liveRefresh = refreshed.refresh_token ?? tokens.refresh_token

// 4. single sign-on: prompt=none with the session cookie, no page on the way
const sso = await authorize({ prompt: 'none' }, noForms)
const ssoTokens = await client.authorizationCodeGrant(config, sso.walk.landed, {
  pkceCodeVerifier: sso.verifier,
  expectedNonce: sso.nonce,
  expectedState: sso.state,
})
out.sso = {
  pages: sso.walk.seen.filter((s) => s.forms).length,
  sub: ssoTokens.claims().sub,
  sid_same: ssoTokens.claims().sid === claims.sid,
  auth_time_same: ssoTokens.claims().auth_time === claims.auth_time,
}

// 5. RP-initiated logout: the end-session URL, followed to the registered post-logout URI
const logoutState = client.randomState()
const endSession = client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: postLogoutUri,
  state: logoutState,
})
const logout = await browser.navigate(endSession, postLogoutUri, user)
out.logout = {
  end_session_url_path: bare(endSession),
  seen: logout.seen,
  landed: logout.landed ? bare(logout.landed) : null,
  state_echoed: logout.landed ? logout.landed.searchParams.get('state') === logoutState : false,
  page: logout.page ?? null,
}

// 6. what is left: the login's refresh token, its access token, the session cookie
async function outcome(call) {
  try {
    await call()
    return { ok: true }
  } catch (err) {
    // ResponseBodyError: an OAuth error body; WWWAuthenticateChallengeError: a 401 challenge
    const challenge = err.cause?.[0]?.parameters?.error
    return { ok: false, status: err.status ?? null, error: err.error ?? challenge ?? err.code ?? String(err) }
  }
}
out.after_logout = {
  refresh: await outcome(() => client.refreshTokenGrant(config, liveRefresh)),
  userinfo: await outcome(() => client.fetchUserInfo(config, ssoTokens.access_token, claims.sub)),
}
const silent = await authorize({ prompt: 'none' }, noForms)
out.after_logout.prompt_none = {
  error: silent.walk.landed.searchParams.get('error'),
  state_echoed: silent.walk.landed.searchParams.get('state') === silent.state,
  iss: silent.walk.landed.searchParams.get('iss'),
}

process.stdout.write(JSON.stringify(out))
