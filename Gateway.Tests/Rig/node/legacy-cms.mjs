// A legacy CMS written as the seed application is: Express, express-session with connect-redis, Passport with a
// local strategy and serializeUser by id. It trusts only its own session, never X-Auth-* headers: the gateway
// signs it in by writing that session itself (Gateway:LegacySignIn).
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';

const port = Number(process.env.PORT ?? 0);
const secrets = (process.env.SESSION_SECRETS ?? 'cms-test-secret').split(',');

// Numeric ids, as a SQL-backed CMS has them; one user has a string id to prove the id keeps its JSON type.
const users = [
  { id: 1, username: 'alice', password: 'cms-alice', email: 'alice@example.test' },
  { id: 2, username: 'admin', password: 'cms-admin', email: 'admin@example.test' },
  { id: 3, username: 'mallory', password: 'cms-mallory', email: 'mallory@example.test' },
  { id: 'u-77', username: 'string-id', password: 'cms-string', email: 'string@example.test' },
];
const byId = (id) => users.find((u) => u.id === id);
const byName = (name) => users.find((u) => u.username === name);

const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (e) => console.error('legacy cms redis error', e.message));
await client.connect();

passport.use(new LocalStrategy((username, password, done) => {
  const user = byName(username);
  return done(null, user && user.password === password ? user : false);
}));
passport.serializeUser((user, done) => done(null, user.id));
passport.deserializeUser((id, done) => done(null, byId(id) ?? false));

const app = express();
app.disable('x-powered-by');
app.use(express.urlencoded({ extended: false }));
app.use(session({ name: 'connect.sid', secret: secrets, store: new RedisStore({ client, prefix: 'sess:' }),
  resave: false, saveUninitialized: false, cookie: { httpOnly: true, path: '/' } }));
app.use(passport.session());

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

// Who Passport says the user is: the page the tests and the browser journey read.
app.get(['/', '/cms', '/cms/*rest', '/admin', '/admin/*rest'], (req, res) => {
  res.set('Cache-Control', 'no-store');
  res.send(req.user
    ? page('CMS', `<h1 id="who">Signed in as ${esc(req.user.username)}</h1><p id="cms-user-id">${esc(req.user.id)}</p><a id="cms-logout" href="/cms-logout">Sign out</a>`)
    : page('CMS', '<h1 id="who">Guest</h1>'));
});
app.get('/whoami', (req, res) => res.json({ user: req.user ? req.user.username : null, id: req.user ? req.user.id : null, sessionID: req.sessionID }));
app.get('/healthz', (req, res) => res.send('ok'));

// The CMS's own login (used before the gateway went in, and by the adoption tests).
app.post('/cms-login', passport.authenticate('local', { failureRedirect: '/?failed=1' }), (req, res) => res.redirect('/'));
// The CMS's own logout: Passport's logout, then the session destroyed.
app.get('/cms-logout', (req, res, next) => req.logout((err) => {
  if (err) return next(err);
  req.session.destroy(() => res.redirect('/?cms-logout=1'));
}));

// Passport's logIn regenerates the session: a new id for the same user, as a CMS does on a privilege change.
app.post('/cms/rotate', (req, res, next) => {
  if (!req.user) return res.status(401).json({ error: 'guest' });
  return req.login(req.user, (err) => (err ? next(err) : res.json({ sessionID: req.sessionID })));
});

// User directory for the gateway's lookups (user id by name, name by id).
app.get('/api/users/by-name/:name', (req, res) => {
  const user = byName(req.params.name);
  return user ? res.json({ user: { id: user.id, username: user.username } }) : res.status(404).json({ error: 'no such user' });
});
app.get('/api/users/:id', (req, res) => {
  const user = users.find((u) => String(u.id) === req.params.id);
  return user ? res.json({ id: user.id, profile: { username: user.username } }) : res.status(404).json({ error: 'no such user' });
});

const server = app.listen(port, '127.0.0.1', () => console.log(`LEGACY_CMS_LISTENING ${server.address().port}`));
process.on('SIGTERM', () => { server.close(); client.quit().finally(() => process.exit(0)); });
