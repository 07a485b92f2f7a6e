// The legacy CMS stand-in: Express 5 with express-session on a shared Redis (connect-redis),
// like the CMS the gateway fronts. It trusts X-Auth-* only when X-Auth-Assertion verifies
// against the gateway's JWKS, so the tests prove a real downstream can rely on them.
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 0);
const redisUrl = process.env.REDIS_URL;
const secret = process.env.SESSION_SECRET ?? 'cms-test-secret';
const jwksUrl = process.env.GATEWAY_JWKS_URL;
const issuer = process.env.ASSERTION_ISSUER ?? 'gateway';
const audience = process.env.ASSERTION_AUDIENCE ?? 'cms';
const mySessionsUrl = process.env.GATEWAY_MY_SESSIONS_URL ?? '/_gateway/my-sessions';

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
    // The gateway's contract: every X-Auth-* value but the assertion is percent-encoded UTF-8; decode before comparing.
    const user = decodeURIComponent(req.get('x-auth-user') ?? '');
    if (payload.sub !== user) return { verified: false, reason: 'sub-mismatch' };
    return { verified: true, user, email: decodeURIComponent(req.get('x-auth-email') ?? ''), name: decodeURIComponent(req.get('x-auth-name') ?? ''),
      roles: (req.get('x-auth-roles') ?? '').split(',').filter(Boolean), claims: payload };
  } catch (e) {
    return { verified: false, reason: e.code ?? e.message };
  }
}

const style = `<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.4}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{text-align:left;border-bottom:1px solid #ddd;padding:.3rem .5rem;vertical-align:top}
th{width:12rem;color:#555;font-weight:600}code{font-size:.85em;word-break:break-all}.ok{color:#176b1a;font-weight:600}.bad{color:#b00;font-weight:600}
nav a{margin-right:1.5rem}</style>`;
const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${style}</head><body>${body}</body></html>`;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

app.get('/', (req, res) => res.send(page('CMS home', '<h1 id="public">Public CMS home</h1><a id="admin" href="/admin">Admin</a>')));
app.get('/healthz', (req, res) => res.send('ok'));
// The CMS's own login page (Passport's, in the real one): a gateway with Gateway:Paths:Prefix leaves it alone.
app.get('/login', (req, res) => res.send(page('CMS login', '<h1 id="cms-login">The CMS login page</h1>')));

app.get(['/whoami', '/api/whoami', '/admin/whoami'], async (req, res) => {
  const headers = Object.fromEntries(Object.entries(req.headers));
  res.json({ identity: await identity(req), headers, rawHeaders: req.rawHeaders, cmsSession: req.session?.user ?? null });
});

// The demo page: what the CMS received from the gateway, and whether it can trust it.
app.get('/admin', async (req, res) => {
  const id = await identity(req);
  if (!id.verified) return res.status(401).send(page('CMS', `<p id="denied">not signed in (${esc(id.reason)})</p>`));
  const headerRows = ['x-auth-user', 'x-auth-email', 'x-auth-name', 'x-auth-roles'].map((h) => {
    const raw = req.get(h) ?? '';
    return `<tr><th>${h}</th><td><code>${esc(raw)}</code>${raw.includes('%') ? ` &rarr; ${esc(decodeURIComponent(raw))}` : ''}</td></tr>`;
  }).join('');
  const claims = id.claims;
  const claimRows = Object.entries(claims).map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(Array.isArray(v) ? v.join(', ') : v)}</code></td></tr>`).join('');
  const expiresIn = claims.exp - Math.floor(Date.now() / 1000);
  const leaked = (req.get('cookie') ?? '').split(';').map((c) => c.trim().split('=')[0]).filter((n) => /gw_session|gw_af|gw_oidc/i.test(n));
  res.send(page('CMS admin', `<h1 id="who">Signed in as ${esc(id.name)}</h1>
    <p id="user" hidden>${esc(id.user)}</p><p id="roles" hidden>${esc(id.roles.join(','))}</p>
    <nav><a id="my-sessions" href="${esc(mySessionsUrl)}">Your sessions</a><a id="logout" href="/admin/logout">Log out</a></nav>
    <h2>Identity headers the CMS received</h2><table id="headers">${headerRows}</table>
    <h2>X-Auth-Assertion</h2>
    <p id="assertion" class="ok">Verified against the gateway's JWKS (${esc(jwksUrl)}): ES256, issuer ${esc(claims.iss)}, audience ${esc(claims.aud)}, sub equals X-Auth-User.</p>
    <p id="expiry">Expires in ${expiresIn} s (at ${new Date(claims.exp * 1000).toISOString()}).</p>
    <table id="claims">${claimRows}</table>
    <h2>Cookies</h2>
    <p id="gateway-cookie" class="${leaked.length ? 'bad' : 'ok'}">${leaked.length ? `The gateway's cookie reached the CMS: ${esc(leaked.join(', '))}` : "The gateway's session cookie never reached the CMS."}</p>`));
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

// Long-lived connections the gateway must close when their session ends: an event stream and a WebSocket.
app.get('/admin/events', (req, res) => {
  res.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  res.write(`data: hello ${decodeURIComponent(req.get('x-auth-user') ?? '')}\n\n`);
  const timer = setInterval(() => res.write('data: tick\n\n'), 200);
  req.on('close', () => clearInterval(timer));
});
// A long poll that looks like any request: text/plain, chunked, answered late (?late=ms before any header) or slowly.
app.get('/admin/longpoll', (req, res) => {
  const late = Number(req.query.late ?? 0);
  let timer;
  const start = setTimeout(() => {
    res.set({ 'Content-Type': 'text/plain' });
    res.write(`hello ${decodeURIComponent(req.get('x-auth-user') ?? '')}\n`);
    timer = setInterval(() => res.write('tick\n'), 200);
  }, late);
  req.on('close', () => { clearTimeout(start); clearInterval(timer); });
});
const sockets = new WebSocketServer({ noServer: true });
app.get('/cacheable', (req, res) => { res.set('Cache-Control', 'public, max-age=600'); res.send('cacheable'); });

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`CMS_LISTENING ${server.address().port}`);
});
server.on('upgrade', (req, socket, head) => {
  if (!req.url.startsWith('/admin/ws')) return socket.destroy();
  sockets.handleUpgrade(req, socket, head, (ws) => {
    ws.send(`hello ${decodeURIComponent(req.headers['x-auth-user'] ?? '')}`);
    ws.on('message', (m) => ws.send(`echo ${m}`));
  });
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.closeAllConnections?.(); process.exit(0); });
