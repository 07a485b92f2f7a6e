// The legacy CMS stand-in: Express 5 with express-session on a shared Redis (connect-redis),
// like the CMS the gateway fronts. It trusts X-Auth-* only when X-Auth-Assertion verifies
// against the gateway's JWKS, so the tests prove a real downstream can rely on them.
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const port = Number(process.env.PORT ?? 0);
const redisUrl = process.env.REDIS_URL;
const secret = process.env.SESSION_SECRET ?? 'cms-test-secret';
const jwksUrl = process.env.GATEWAY_JWKS_URL;
const issuer = process.env.ASSERTION_ISSUER ?? 'gateway';
const audience = process.env.ASSERTION_AUDIENCE ?? 'cms';

const app = express();
app.disable('x-powered-by');
app.set('trust proxy', true);

let store;
if (redisUrl) {
  const client = createClient({ url: redisUrl });
  client.on('error', (e) => console.error('cms redis error', e.message));
  await client.connect();
  store = new RedisStore({ client, prefix: 'sess:' });
}
app.use(session({ name: 'connect.sid', secret, store, resave: false, saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: 'lax', path: '/' } }));

const jwks = jwksUrl ? createRemoteJWKSet(new URL(jwksUrl), { cacheMaxAge: 60_000, cooldownDuration: 0 }) : null;

async function identity(req) {
  const assertion = req.get('x-auth-assertion');
  if (!assertion || !jwks) return { verified: false, reason: assertion ? 'no-jwks' : 'no-assertion' };
  try {
    const { payload } = await jwtVerify(assertion, jwks, { issuer, audience, algorithms: ['ES256'] });
    const user = req.get('x-auth-user');
    if (payload.sub !== user) return { verified: false, reason: 'sub-mismatch' };
    return { verified: true, user, email: req.get('x-auth-email'), name: decodeURIComponent(req.get('x-auth-name') ?? ''),
      roles: (req.get('x-auth-roles') ?? '').split(',').filter(Boolean), claims: payload };
  } catch (e) {
    return { verified: false, reason: e.code ?? e.message };
  }
}

const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

app.get('/', (req, res) => res.send(page('CMS home', '<h1 id="public">Public CMS home</h1><a id="admin" href="/admin">Admin</a>')));
app.get('/healthz', (req, res) => res.send('ok'));

app.get(['/whoami', '/api/whoami', '/admin/whoami'], async (req, res) => {
  const headers = Object.fromEntries(Object.entries(req.headers));
  res.json({ identity: await identity(req), headers, rawHeaders: req.rawHeaders, cmsSession: req.session?.user ?? null });
});

app.get('/admin', async (req, res) => {
  const id = await identity(req);
  if (!id.verified) return res.status(401).send(page('CMS', `<p id="denied">not signed in (${esc(id.reason)})</p>`));
  res.send(page('CMS admin', `<h1 id="who">Signed in as ${esc(id.name)}</h1><p id="user">${esc(id.user)}</p>
    <p id="roles">${esc(id.roles.join(','))}</p><a id="logout" href="/admin/logout">Log out</a>`));
});

// The CMS's own session, so tests can prove the gateway purges it on logout.
app.post('/legacy/login', async (req, res) => {
  const id = await identity(req);
  req.session.regenerate((err) => {
    if (err) return res.status(500).send('session error');
    req.session.user = id.verified ? id.user : 'legacy-user';
    req.session.save(() => res.json({ sessionId: req.sessionID }));
  });
});
app.get('/legacy/me', (req, res) => res.json({ user: req.session?.user ?? null, sessionId: req.session?.user ? req.sessionID : null }));

// The CMS's logout as it stands today; the gateway is meant to intercept this path.
app.get('/admin/logout', (req, res) => {
  req.session.destroy(() => { res.clearCookie('connect.sid', { path: '/' }); res.redirect('/?cms-logout=1'); });
});

// Hostile upstream behaviours for the gateway's tests.
app.get('/set-cookie', (req, res) => {
  const names = String(req.query.names ?? '').split(',').filter(Boolean);
  res.append('Set-Cookie', names.map((n) => `${n}=from-upstream; Path=/`));
  res.send('cookies set');
});
app.get('/hang', (req, res) => { /* never answers */ });
app.get('/cacheable', (req, res) => { res.set('Cache-Control', 'public, max-age=600'); res.send('cacheable'); });

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`CMS_LISTENING ${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.closeAllConnections?.(); process.exit(0); });
