// A DPoP client written with oauth4webapi (panva), not by us: it obtains DPoP-bound tokens from
// a real gatepass (client_credentials; password, then the refresh grant, as a public client)
// and calls gatepass's /api/profile and an SDK-protected service with them.
// Usage: node dpop_client.mjs ISSUER SERVICE_URL  (client ids and secret in the environment)
// Prints one JSON object: what each step saw. Exits non-zero on any failure.
import * as oauth from 'oauth4webapi'

const [issuerArg, serviceUrl] = process.argv.slice(2)
const env = process.env
const insecure = { [oauth.allowInsecureRequests]: true } // loopback http in the test

const issuer = new URL(issuerArg)
const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
)

// retry once when the server asks for a nonce (RFC 9449 §8): oauth4webapi keeps the nonce
async function withNonce(call) {
  try {
    return await call()
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return await call()
    throw err
  }
}

async function resource(token, DPoP, url) {
  try {
    const response = await withNonce(() =>
      oauth.protectedResourceRequest(
        token, 'GET', new URL(url), new Headers(), null, { DPoP, ...insecure },
      ),
    )
    return { status: response.status, body: await response.json() }
  } catch (err) {
    if (err instanceof oauth.WWWAuthenticateChallengeError) {
      return { status: err.status, challenges: err.cause }
    }
    throw err
  }
}

const out = {}
const keyPair = await oauth.generateKeyPair('ES256') // a non-extractable private key

// client_credentials
{
  const client = { client_id: env.CC_CLIENT_ID }
  const DPoP = oauth.DPoP(client, keyPair)
  const result = await withNonce(async () =>
    oauth.processClientCredentialsResponse(
      as, client,
      await oauth.clientCredentialsGrantRequest(
        as, client, oauth.ClientSecretBasic(env.CC_CLIENT_SECRET), {}, { DPoP, ...insecure },
      ),
    ),
  )
  out.cc = {
    token_type: result.token_type,
    profile: await resource(result.access_token, DPoP, `${issuerArg}/api/profile`),
    service: await resource(result.access_token, DPoP, `${serviceUrl}/things`),
    // the same token without its key, as a bearer token
    as_bearer: (await fetch(`${issuerArg}/api/profile`, {
      headers: { authorization: `Bearer ${result.access_token}` },
    })).status,
  }
}

// password (a public client), then the refresh grant with the same key
{
  const client = { client_id: env.PUBLIC_CLIENT_ID }
  const DPoP = oauth.DPoP(client, keyPair)
  const login = await withNonce(async () =>
    oauth.processGenericTokenEndpointResponse(
      as, client,
      await oauth.genericTokenEndpointRequest(
        as, client, oauth.None(), 'password',
        { username: env.USERNAME, password: env.PASSWORD }, { DPoP, ...insecure },
      ),
    ),
  )
  const refreshed = await withNonce(async () =>
    oauth.processRefreshTokenResponse(
      as, client,
      await oauth.refreshTokenGrantRequest(
        as, client, oauth.None(), login.refresh_token, { DPoP, ...insecure },
      ),
    ),
  )
  // another key cannot use the next refresh token (bound to the first key, RFC 9449 §5)
  const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
  let stolen
  try {
    await withNonce(async () =>
      oauth.processRefreshTokenResponse(
        as, client,
        await oauth.refreshTokenGrantRequest(
          as, client, oauth.None(), refreshed.refresh_token, { DPoP: thief, ...insecure },
        ),
      ),
    )
    stolen = 'accepted'
  } catch (err) {
    stolen = err?.error ?? String(err)
  }
  out.refresh = {
    login_token_type: login.token_type,
    token_type: refreshed.token_type,
    profile: await resource(refreshed.access_token, DPoP, `${issuerArg}/api/profile`),
    service: await resource(refreshed.access_token, DPoP, `${serviceUrl}/things`),
    stolen_refresh: stolen,
  }
}

console.log(JSON.stringify(out))
