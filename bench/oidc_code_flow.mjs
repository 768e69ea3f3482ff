// panva's oidc-provider 9, configured for the authorization code flow, for bench/authorize.py.
//   node bench/oidc_code_flow.mjs NODE_DIR PORT
// NODE_DIR is where `bash ../shared/peers/run_all.sh setup` installed oidc-provider
// (/tmp/gatepass-peers/oidc): the package is loaded from there, nothing of it is in the project.
//
// One confidential client `bench-code` (client_secret_basic, PKCE S256 required, redirect URI
// http://127.0.0.1:9/cb, grant authorization_code only: no refresh token, as the gatepass client
// of the benchmark), treated as first-party: the grant is made on the spot (oidc-provider's
// documented `loadExistingGrant` pattern for skipping consent), as gatepass skips consent for
// `--first-party`. Its interaction URL logs the fixed account `user-1` in at once (no password:
// the benchmark measures the silent re-authorization of a logged-in user, not the login).
// Store: the stock MemoryAdapter over an LRU of BENCH_LRU_SIZE (default 4,000,000) entries, so
// that nothing is evicted during a run. Opaque access token + ID token signed RS256.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import http from 'node:http'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [nodeDir, portArg] = process.argv.slice(2)
const load = async (file) =>
  (await import(pathToFileURL(path.join(nodeDir, 'node_modules', 'oidc-provider', file)).href)).default
const Provider = await load('lib/index.js')
const MemoryAdapter = await load('lib/adapters/memory_adapter.js')
const LRU = await load('lib/helpers/lru.js')

const PORT = Number(portArg)
const ISSUER = `http://127.0.0.1:${PORT}`
const rs = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })
const store = new LRU({ maxSize: Number(process.env.BENCH_LRU_SIZE || 4_000_000) })

const provider = new Provider(ISSUER, {
  adapter: (name) => new MemoryAdapter(name, store),
  clients: [{
    client_id: 'bench-code',
    client_secret: 'bench-secret-0123456789',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:9/cb'],
  }],
  jwks: { keys: [{ ...rs, kid: 'rs1', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid'],
  pkce: { required: () => true },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  async loadExistingGrant(ctx) {
    const { client, session, result } = ctx.oidc
    const grantId = result?.consent?.grantId || session.grantIdFor(client.clientId)
    if (grantId) return ctx.oidc.provider.Grant.find(grantId)
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId })
    grant.addOIDCScope('openid')
    await grant.save()
    session.grantIdFor(client.clientId, grant.jti)
    return grant
  },
  ttl: {
    AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Grant: 86400, Interaction: 3600,
    Session: 86400,
  },
  features: { devInteractions: { enabled: false } },
})
provider.proxy = false

const app = provider.callback()
http.createServer(async (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    try {
      await provider.interactionFinished(req, res, { login: { accountId: 'user-1' } })
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err))
    }
    return
  }
  app(req, res)
}).listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider (code flow) ${ISSUER} pid=${process.pid}`)
})
