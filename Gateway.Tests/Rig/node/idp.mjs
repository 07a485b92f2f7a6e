// A real OpenID Provider (node oidc-provider) for the gateway's login and logout tests.
// Accounts: any login name typed into the dev interaction form; claims are derived from it
// (user "alice" gets email alice@example.test and role "editor"; "admin*" also gets "admin").
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.CLIENT_ID ?? 'gateway';
const clientSecret = process.env.CLIENT_SECRET ?? 'gateway-test-secret';
const redirectUris = (process.env.REDIRECT_URIS ?? '').split(' ').filter(Boolean);
const postLogoutUris = (process.env.POST_LOGOUT_REDIRECT_URIS ?? '').split(' ').filter(Boolean);
const backchannel = process.env.BACKCHANNEL_LOGOUT_URI;
const ignoreMaxAge = process.env.IGNORE_MAX_AGE === 'true';
const names = { jose: 'José Łukasz', crlf: 'Eve\r\nX-Auth-Roles: admin' };
// The tests pass the signing key, so they can also sign hostile tokens "from" this provider.
const jwks = process.env.IDP_JWKS ? JSON.parse(process.env.IDP_JWKS) : undefined;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutUris, response_types: ['code'], grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_post',
    ...(backchannel ? { backchannel_logout_uri: backchannel, backchannel_logout_session_required: true } : {}),
  }],
  pkce: { required: () => true, methods: ['S256'] },
  claims: { acr: null, openid: ['sub', 'sid'], email: ['email'], profile: ['name'], roles: ['roles'] },
  scopes: ['openid', 'email', 'profile', 'roles'],
  conformIdTokenClaims: false,
  // The classes a sign-in here can report (ACR below); without any, the provider never puts acr in an id_token.
  acrValues: ['urn:gw:password', 'urn:gw:mfa'],
  // A provider that ignores max_age (as some do) takes no pushed requests either, so the parameter is seen (and dropped) at /auth.
  features: { pushedAuthorizationRequests: { enabled: !ignoreMaxAge }, devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true }, backchannelLogout: { enabled: true }, revocation: { enabled: true } },
  // Every code grant gets a refresh token, rotated on each use: a refresh token used twice is refused.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  cookies: { keys: ['idp-test-cookie-key'] },
  ...(jwks ? { jwks } : {}),
  ttl: { IdToken: 300, AccessToken: Number(process.env.ACCESS_TOKEN_TTL ?? 300), AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600, RefreshToken: 3600 },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() {
      const roles = ['editor', ...(sub.startsWith('admin') ? ['admin'] : [])];
      return { sub, email: `${sub}@example.test`, name: names[sub] ?? sub, roles };
    } };
  },
});
provider.proxy = false;

// The authentication context class every sign-in here reports (ACR), e.g. a provider whose logins are all single-factor.
if (process.env.ACR) {
  const finished = provider.interactionFinished.bind(provider);
  provider.interactionFinished = (req, res, result, options) =>
    finished(req, res, result?.login ? { ...result, login: { ...result.login, acr: process.env.ACR } } : result, options);
}

// What the tests count: refresh grants served and refused, and revocations, at /test/stats.
const stats = { refreshed: 0, refreshRefused: 0, revoked: 0, refusedRevocations: 0 };
provider.on('grant.success', (ctx) => { if (ctx.oidc.params.grant_type === 'refresh_token') stats.refreshed++; });
provider.on('grant.error', (ctx) => { if (ctx.oidc.params?.grant_type === 'refresh_token') stats.refreshRefused++; });
provider.use(async (ctx, next) => {
  if (ctx.path === '/test/stats') { ctx.body = stats; return; }
  if (ctx.path === '/test/fail-revocation') { stats.failRevocation = true; ctx.body = 'ok'; return; }
  // A provider that ignores max_age: the parameter never reaches the authorization endpoint.
  if (ctx.path === '/auth' && ignoreMaxAge) { const q = new URLSearchParams(ctx.querystring); q.delete('max_age'); q.delete('prompt'); ctx.querystring = q.toString(); }
  if (ctx.path === '/test/throttle-token') { stats.throttle = ctx.query.on === 'true'; ctx.body = 'ok'; return; }
  if (ctx.path === '/token' && stats.throttle) { stats.throttled = (stats.throttled ?? 0) + 1; ctx.status = 429; ctx.body = { error: 'slow_down' }; return; }
  if (ctx.path === '/token/revocation' && stats.failRevocation) { stats.refusedRevocations++; ctx.status = 503; return; }
  await next();
  if (ctx.path === '/token/revocation' && ctx.status === 200) stats.revoked++;
});
const server = provider.listen(port, '127.0.0.1', () => console.log(`IDP_LISTENING ${port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(); process.exit(0); });
