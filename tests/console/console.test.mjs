// The staff console in a real browser: Debian's Chromium driven by playwright-core, against the
// real `mla-broker` binary (SQLite, development mode, loaded by `mla-broker demo`), and a second
// broker whose staff sign in at an identity provider (a small OpenID Connect provider of this test's
// own, with PKCE). Run by `tests/console/run`; MLA_BROKER_BIN names the binary, and
// MLA_SCREENSHOTS a folder for screenshots of the main pages (the README's).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.MLA_BROKER_BIN;
const SCREENSHOTS = process.env.MLA_SCREENSHOTS;
const CHROMIUM = process.env.MLA_CHROMIUM || '/usr/bin/chromium';
assert.ok(BIN, 'MLA_BROKER_BIN names the mla-broker binary');

// ------------------------------------------------------------------------------------------------
// The broker, its tokens and its REST API.

/** Starts `mla-broker serve` on free ports; resolves once it reports serving. */
function serve(env) {
  const child = spawn(BIN, ['serve'], {
    env: { ...process.env, ...env, MLA_GRPC_ADDR: '127.0.0.1:0', MLA_HTTP_ADDR: '127.0.0.1:0',
      MLA_LOG_FORMAT: 'json', MLA_LOG: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const seen = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the broker did not serve:\n${seen.join('\n')}`)), 60000);
    createInterface({ input: child.stderr }).on('line', (line) => {
      seen.push(line);
      let entry = {};
      try { entry = JSON.parse(line); } catch { /* not JSON */ }
      if (entry.message === 'mla-broker is serving gRPC and the REST gateway') {
        clearTimeout(timer);
        resolve({ child, url: `http://${entry.http_addr}` });
      }
    });
    child.on('exit', (code) => reject(new Error(`the broker exited (${code}):\n${seen.join('\n')}`)));
  });
}

function stop(broker) {
  if (broker && broker.child.exitCode === null) broker.child.kill('SIGTERM');
}

let dataDir;
let broker;
const env = () => ({ MLA_DATA_DIR: dataDir });

function token(sub, role, partner) {
  const args = ['token', '--sub', sub, '--role', role, ...(partner ? ['--partner', partner] : [])];
  return execFileSync(BIN, args, { env: { ...process.env, ...env() } }).toString().trim();
}

async function rest(url, bearer, method, path, body, headers = {}) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return json;
}

const act = (bearer, id, body) => rest(broker.url, bearer, 'POST', `/v1/requests/${id}/transitions`, body);

const FR = () => token('fr-system', 'partner', 'FR-MOJ');

/** A request France sends and submits: it arrives SUBMITTED at the NCIJC. */
async function incoming(fields = {}) {
  const fr = FR();
  const created = await rest(broker.url, fr, 'POST', '/v1/requests', {
    request_type: 'EVIDENCE', requesting_authority: 'Parquet national antiterroriste',
    title: 'Testimony of witness W-17', summary_of_facts: 'The witness saw the accused in Mosul in 2015.',
    measures: ['Hear witness W-17'], purpose: 'Criminal proceedings', legal_basis: 'UNTOC art. 18', ...fields,
  });
  await act(fr, created.id, { action: 'SUBMIT' });
  return created.id;
}

/** Acknowledged and under review: where the decision is taken. */
async function underReview(fields) {
  const id = await incoming(fields);
  await act(token('rana', 'registrar'), id, { action: 'ACKNOWLEDGE' });
  await act(token('layla', 'legal_officer'), id, { action: 'START_REVIEW' });
  return id;
}

// ------------------------------------------------------------------------------------------------
// The browser.

let browser;
const violations = [];

async function open(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // The Content-Security-Policy reports what it blocks on the console: none may happen.
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  page.on('pageerror', (error) => violations.push(`page error: ${error.message}`));
  await page.goto(`${url}/console/`);
  return page;
}

async function signIn(page, subject, role) {
  await page.fill('#dev-subject', subject);
  await page.selectOption('#dev-role', role);
  await page.click('#dev-sign-in button[type=submit]');
  await page.waitForSelector('#who:not(:empty)');
}

async function openRequest(page, id) {
  await page.evaluate((hash) => { location.hash = hash; }, `#/requests/${id}`);
  await page.waitForSelector('#request-state');
}

const stateOf = (page) => page.getAttribute('#request-state', 'data-state');

/** The id of the request whose page is open. */
const requestOnScreen = async (page) =>
  decodeURIComponent(await page.evaluate(() => location.hash.slice('#/requests/'.length)));

async function takeAction(page, action, fill) {
  await page.click(`button.action[data-action=${action}]`);
  const form = `form.action-form[data-action=${action}]`;
  await page.waitForSelector(form);
  if (fill) await fill(form);
  await page.click(`${form} button[type=submit]`);
}

async function screenshot(page, name) {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mla-console-'));
  execFileSync(BIN, ['demo'], { env: { ...process.env, ...env() }, stdio: 'ignore' });
  broker = await serve(env());
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // As root on a machine without a network: no sandbox, no background traffic.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  stop(broker);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------------

test('the console is served with a strict policy and no inline code', async () => {
  const response = await fetch(`${broker.url}/console/`);
  assert.equal(response.status, 200);
  const policy = response.headers.get('content-security-policy');
  assert.match(policy, /script-src 'self';/);
  assert.match(policy, /style-src 'self';/);
  assert.match(policy, /frame-ancestors 'none'/);
  assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);
  const html = await response.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.doesNotMatch(html, /\sstyle=|<style/, 'no inline style');
  assert.doesNotMatch(html, /\son[a-z]+=/, 'no inline event handler');
});

test('a partner cannot use the console', async () => {
  const page = await open(broker.url);
  await page.fill('#dev-token', FR());
  await page.click('form:has(#dev-token) button[type=submit]');
  await page.waitForSelector('#notice .error');
  assert.match(await page.textContent('#notice'), /for NCIJC staff/);
  assert.equal(await page.isVisible('#nav'), false);
  // Nor can a development sign-in ask for a partner's role.
  const answer = await fetch(`${broker.url}/console/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'fr', role: 'partner' }),
  });
  assert.equal(answer.status, 400);
  await page.context().close();
});

test("a registrar acknowledges a request and the judge's open page updates live", async () => {
  const id = await incoming({ title: 'Bank records of the accused' });
  const judge = await open(broker.url);
  await signIn(judge, 'amal', 'judge');
  await openRequest(judge, id);
  assert.equal(await stateOf(judge), 'SUBMITTED');
  await judge.waitForSelector('#live:not([hidden])');

  const registrar = await open(broker.url);
  await signIn(registrar, 'rana', 'registrar');
  // The registrar's queue holds it: it awaits the registrar's role.
  await registrar.waitForSelector(`table.queue a[href="#/requests/${id}"]`);
  await screenshot(registrar, 'queue');
  await registrar.click(`table.queue a[href="#/requests/${id}"]`);
  await registrar.waitForSelector('#request-state');
  await takeAction(registrar, 'ACKNOWLEDGE');
  await registrar.waitForSelector('#request-state[data-state=RECEIVED]');

  // Nobody touched the judge's page: the live feed brought the change.
  await judge.waitForSelector('#request-state[data-state=RECEIVED]', { timeout: 10000 });
  assert.match(await judge.textContent('#notice'), /just changed/);
  assert.match(await judge.textContent('#timeline'), /Acknowledge/);
  await screenshot(judge, 'request');
  await registrar.context().close();
  await judge.context().close();
});

/** Fills the new-request form with a complete request's fields. */
async function fillNewRequest(page, fields) {
  await page.click('#nav-new');
  const form = 'form.new-request';
  await page.waitForSelector(form);
  if (fields.paper) {
    await page.check(`${form} input[name=kind][value=PAPER]`);
    await page.selectOption(`${form} select[name=received_via]`, fields.paper.received_via);
    await page.fill(`${form} input[name=letter_reference]`, fields.paper.letter_reference);
  }
  await page.selectOption(`${form} select[name=partner_code]`, fields.partner_code);
  for (const name of ['requesting_authority', 'title', 'legal_basis']) {
    await page.fill(`${form} input[name=${name}]`, fields[name]);
  }
  for (const name of ['summary_of_facts', 'measures', 'purpose']) {
    await page.fill(`${form} textarea[name=${name}]`, fields[name]);
  }
  for (const person of fields.persons || []) {
    await page.click(`${form} button.add-person`);
    const row = `${form} fieldset.person:last-of-type`;
    await page.fill(`${row} input[name=person_name]`, person.name);
    await page.selectOption(`${row} select[name=person_role]`, person.role);
    await page.fill(`${row} input[name=person_nationality]`, person.nationality);
  }
  return form;
}

test('a paper request goes from the letter to CLOSED in the console alone', async () => {
  // Jordan's ministry writes letters: a registrar registers its request from the letter.
  const page = await open(broker.url);
  await signIn(page, 'rana', 'registrar');
  const form = await fillNewRequest(page, {
    paper: { received_via: 'DIPLOMATIC_NOTE', letter_reference: 'NV-2026-311' }, partner_code: 'JO-MOJ',
    requesting_authority: 'Amman public prosecutor', title: 'Records of a money transfer',
    summary_of_facts: 'A transfer from Mosul to Amman in 2016.', measures: 'Obtain the bank records',
    purpose: 'Criminal proceedings', legal_basis: 'Riyadh Convention art. 1',
  });
  // Only the partners that write on paper are offered for a request received on paper.
  const offered = await page.$$eval(`${form} select[name=partner_code] option`, (options) => options.map((o) => o.value));
  assert.deepEqual(offered, ['JO-MOJ']);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'new-request');
  // A letter that lacks what submission requires is refused with the rule's reason, the form kept.
  await page.fill(`${form} textarea[name=measures]`, '');
  await page.click(`${form} button[type=submit]`);
  await page.waitForSelector(`${form} .problem[data-reason=INCOMPLETE_REQUEST]`);
  assert.match(await page.textContent(`${form} .problem`), /measures/);
  await page.fill(`${form} textarea[name=measures]`, 'Obtain the bank records');
  await page.click(`${form} button[type=submit]`);
  await page.waitForSelector('#request-state[data-state=SUBMITTED]');
  assert.match(await page.textContent('#notice'), /Created: IN-/);
  const id = await requestOnScreen(page);
  const registered = await rest(broker.url, token('amal', 'judge'), 'GET', `/v1/requests/${id}/events`);
  assert.equal(registered.events[0].actor.on_behalf_of_partner, 'JO-MOJ');
  assert.equal(registered.events[0].details.paper.letter_reference, 'NV-2026-311');
  const steps = [
    ['rana', 'registrar', 'ACKNOWLEDGE', 'RECEIVED'],
    ['layla', 'legal_officer', 'START_REVIEW', 'UNDER_REVIEW'],
    ['amal', 'judge', 'ACCEPT', 'ACCEPTED'],
    ['omar', 'evidence_officer', 'START_EXECUTION', 'IN_EXECUTION'],
    ['omar', 'evidence_officer', 'COMPLETE_EXECUTION', 'EXECUTED'],
  ];
  for (const [subject, role, action, reached] of steps) {
    if (await page.isVisible('#sign-out')) await page.click('#sign-out');
    await signIn(page, subject, role);
    await openRequest(page, id);
    await takeAction(page, action);
    await page.waitForSelector(`#request-state[data-state=${reached}]`);
  }
  // Jordan's letter closing the request, recorded by the registrar on its behalf.
  await page.click('#sign-out');
  await signIn(page, 'rana', 'registrar');
  await openRequest(page, id);
  await page.click('button[data-on-behalf=CLOSE]');
  const closing = 'form.action-form[data-on-behalf=JO-MOJ]';
  await page.waitForSelector(closing);
  await page.selectOption(`${closing} select[name=received_via]`, 'POST');
  await page.fill(`${closing} input[name=letter_reference]`, 'NV-2026-402');
  await page.click(`${closing} button[type=submit]`);
  await page.waitForSelector('#request-state[data-state=CLOSED]');
  const trail = await rest(broker.url, token('amal', 'judge'), 'GET', `/v1/requests/${id}/events`);
  assert.deepEqual(trail.events.map((e) => e.action),
    ['CREATE', 'ACKNOWLEDGE', 'START_REVIEW', 'ACCEPT', 'START_EXECUTION', 'COMPLETE_EXECUTION', 'CLOSE']);
  await page.context().close();
});

test('a legal officer drafts a request to a partner in the console and a judge sends it', async () => {
  const page = await open(broker.url);
  await signIn(page, 'layla', 'legal_officer');
  const form = await fillNewRequest(page, {
    partner_code: 'FR-MOJ', requesting_authority: 'Investigative Court of Karkh',
    title: 'Hearing of a witness in Lyon', summary_of_facts: 'The witness saw the accused in Mosul in 2015.',
    measures: 'Hear the witness\nObtain the travel records', purpose: 'Criminal proceedings',
    legal_basis: 'UNTOC art. 18', persons: [{ name: 'أحمد عبد الله', role: 'WITNESS', nationality: 'iq' }],
  });
  await page.click(`${form} button[type=submit]`);
  await page.waitForSelector('#request-state[data-state=DRAFT]');
  const id = await requestOnScreen(page);
  const draft = await rest(broker.url, token('layla', 'legal_officer'), 'GET', `/v1/requests/${id}`);
  assert.equal(draft.direction, 'OUTGOING');
  assert.deepEqual(draft.measures, ['Hear the witness', 'Obtain the travel records']);
  assert.deepEqual(draft.persons.map((p) => [p.name, p.role, p.nationality]), [['أحمد عبد الله', 'WITNESS', 'IQ']]);
  // Sending it is a judge's decision, not the drafter's.
  assert.equal(await page.isVisible('button.action[data-action=SUBMIT]'), false);
  await page.click('#sign-out');
  await signIn(page, 'amal', 'judge');
  await openRequest(page, id);
  await takeAction(page, 'SUBMIT');
  await page.waitForSelector('#request-state[data-state=SUBMITTED]');
  await page.context().close();
});

test("a refusal without consultation shows the rule's reason", async () => {
  const id = await underReview({ title: 'Extradition of a suspect' });
  const judge = await open(broker.url);
  await signIn(judge, 'amal', 'judge');
  await openRequest(judge, id);
  await takeAction(judge, 'REFUSE', async (form) => {
    await judge.check(`${form} input[value=DEATH_PENALTY_RISK]`);
    await judge.fill(`${form} textarea[name=reason]`, 'The offence carries the death penalty in Iraq.');
  });
  const problem = await judge.waitForSelector('.problem[data-reason=CONSULTATION_REQUIRED]');
  assert.match(await problem.textContent(), /CONSULTATION_REQUIRED/);
  assert.match(await problem.textContent(), /condition/i, 'the broker explains the rule');
  await screenshot(judge, 'refusal');
  // Nothing changed.
  await openRequest(judge, id);
  assert.equal(await stateOf(judge), 'UNDER_REVIEW');
  await judge.context().close();
});

test('an action on a version someone else changed first is refused and explained', async () => {
  const id = await underReview({ title: 'Seizure of a vehicle' });
  const judge = await open(broker.url);
  await signIn(judge, 'amal', 'judge');
  await openRequest(judge, id);
  await judge.waitForSelector('#live:not([hidden])');
  await judge.click('button.action[data-action=ACCEPT]');
  await judge.waitForSelector('form.action-form[data-action=ACCEPT]');

  // Meanwhile a legal officer asks France a question, and France answers it.
  await act(token('layla', 'legal_officer'), id, { action: 'REQUEST_CLARIFICATION', reason: 'Which vehicle?' });
  await act(FR(), id, { action: 'PROVIDE_CLARIFICATION', reason: 'The white pickup.' });
  await judge.waitForSelector('.changed');

  await judge.click('form.action-form[data-action=ACCEPT] button[type=submit]');
  await judge.waitForSelector('#notice .error');
  assert.match(await judge.textContent('#notice'), /changed this request after you opened it/);
  // Not accepted; the page shows the current version, whose trail holds the clarification.
  assert.equal(await stateOf(judge), 'UNDER_REVIEW');
  assert.match(await judge.textContent('#timeline'), /The white pickup/);
  const current = await rest(broker.url, token('amal', 'judge'), 'GET', `/v1/requests/${id}`);
  assert.equal(current.state, 'UNDER_REVIEW');
  await judge.context().close();
});

test('an Arabic request renders right to left, in the Arabic console too', async () => {
  const title = 'سماع شهادة الشاهد في الموصل';
  const id = await incoming({ title, summary_of_facts: 'شاهد الشاهد المتهم في الموصل عام ٢٠١٥.' });
  const judge = await open(broker.url);
  await signIn(judge, 'amal', 'judge');
  await openRequest(judge, id);
  // English console: the Arabic title still reads right to left.
  const direction = () => judge.$eval('h1 span[dir=auto]', (el) => [el.textContent, getComputedStyle(el).direction]);
  assert.deepEqual(await direction(), [title, 'rtl']);
  await judge.click('#language');
  await judge.waitForSelector('html[dir=rtl][lang=ar]');
  // The page is drawn again in Arabic once the request is read again.
  await judge.waitForSelector('h1 span[dir=auto]');
  assert.deepEqual(await direction(), [title, 'rtl']);
  assert.equal(await judge.textContent('a[href="#/"]'), 'قائمة العمل');
  await screenshot(judge, 'arabic');
  await judge.click('#language');
  await judge.context().close();
});

test('the statistics page draws its charts from the real figures', async () => {
  const year = new Date().getUTCFullYear();
  const until = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  const figures = await rest(broker.url, token('amal', 'judge'), 'GET',
    `/v1/statistics?period_start=${year}-01-01T00:00:00Z&period_end=${until}T00:00:00Z`);
  assert.ok(figures.requests > 0, 'the demo and this test submitted requests');

  const judge = await open(broker.url);
  await signIn(judge, 'amal', 'judge');
  await judge.evaluate(() => { location.hash = '#/statistics'; });
  await judge.waitForSelector('#by-partner .bar');
  assert.equal(await judge.textContent('#total-requests'), String(figures.requests));
  const partners = await judge.$$eval('#by-partner tr', (rows) => rows.map((row) =>
    [row.querySelector('th').textContent, row.querySelector('.n').textContent]));
  assert.deepEqual(partners, figures.by_partner.map((c) => [c.partner_code, String(c.requests)]));
  // The longest bar is the largest count.
  const widths = await judge.$$eval('#by-partner .bar', (bars) => bars.map((bar) => bar.getBoundingClientRect().width));
  const largest = figures.by_partner.reduce((best, c, i) => (c.requests > figures.by_partner[best].requests ? i : best), 0);
  assert.equal(widths.indexOf(Math.max(...widths)), largest);
  assert.ok(await judge.isVisible('#response-times'));
  // Each stage's histogram has every bucket of the scale, with the figures' counts.
  const decisions = await judge.$$eval('#distribution-to_decision .n', (cells) => cells.map((cell) => cell.textContent));
  assert.deepEqual(decisions, figures.to_decision.distribution.map((b) => String(b.requests)));
  assert.equal(decisions.length, 7);
  await screenshot(judge, 'statistics');
  await judge.context().close();
});

test('the human-rights report shows the assurances and the refusals of the period, printable', async () => {
  const judgeToken = token('amal', 'judge');
  // An assurance against the death penalty sought and given.
  const assured = await underReview({ title: 'Hearing of a detained suspect' });
  await act(judgeToken, assured, { action: 'PROPOSE_CONDITIONS',
    conditions: [{ kind: 'DEATH_PENALTY_NON_IMPOSITION', text: '' }] });
  await act(FR(), assured, { action: 'ACCEPT_CONDITIONS' });
  // A refusal on the risk of torture, consultation waived with its reason.
  const refused = await underReview({ title: 'Transfer of a detainee' });
  const waiver = 'The person is held where torture is documented; no assurance could cure it.';
  await act(judgeToken, refused, { action: 'REFUSE', refusal_grounds: ['TORTURE_RISK'],
    reason: 'Substantial grounds for believing the person would be tortured.', consultation_waived_reason: waiver });

  const year = new Date().getUTCFullYear();
  const until = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  const report = await rest(broker.url, judgeToken, 'GET',
    `/v1/reports/human-rights?period_start=${year}-01-01T00:00:00Z&period_end=${until}T00:00:00Z`);
  const page = await open(broker.url);
  await signIn(page, 'amal', 'judge');
  await page.evaluate(() => { location.hash = '#/report'; });
  await page.waitForSelector('table#assurances');
  const rows = (id) => page.$$eval(`table#${id} tbody tr`, (trs) => trs.map((tr) => tr.textContent));
  const assurances = await rows('assurances');
  assert.equal(assurances.length, report.assurances.length);
  const given = report.assurances.find((a) => a.request_id === assured);
  assert.equal(given.status, 'ACCEPTED');
  assert.ok(assurances.some((row) => row.includes(given.reference) && row.includes('Accepted')), assurances.join('\n'));
  const refusals = await rows('refusals');
  assert.equal(refusals.length, report.refusals.length);
  const entry = report.refusals.find((r) => r.request_id === refused);
  assert.ok(refusals.some((row) => row.includes(entry.reference) && row.includes('Torture risk') && row.includes(waiver)),
    refusals.join('\n'));
  assert.ok(await page.isVisible('table#releases'));
  await screenshot(page, 'report');
  await page.context().close();
});

// ------------------------------------------------------------------------------------------------
// Sign-in at an identity provider: the authorization code flow with PKCE, against a provider of
// this test's own that checks the code verifier as Keycloak does.

function identityProvider(secret, issuer) {
  const pending = new Map();
  const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type' };
  const b64 = (data) => Buffer.from(data).toString('base64url');
  return createServer(async (request, response) => {
    const url = new URL(request.url, issuer());
    if (request.method === 'OPTIONS') return response.writeHead(204, cors).end();
    if (url.pathname === '/.well-known/openid-configuration') {
      response.writeHead(200, { 'content-type': 'application/json', ...cors });
      return response.end(JSON.stringify({ issuer: issuer(), authorization_endpoint: `${issuer()}/auth`,
        token_endpoint: `${issuer()}/token` }));
    }
    if (url.pathname === '/auth') {
      const q = url.searchParams;
      assert.equal(q.get('response_type'), 'code');
      assert.equal(q.get('client_id'), 'mla-console');
      assert.equal(q.get('code_challenge_method'), 'S256');
      const code = randomBytes(16).toString('hex');
      pending.set(code, { challenge: q.get('code_challenge'), redirect: q.get('redirect_uri') });
      const back = new URL(q.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state'));
      return response.writeHead(302, { location: back.toString() }).end();
    }
    if (url.pathname === '/token' && request.method === 'POST') {
      let body = '';
      for await (const chunk of request) body += chunk;
      const form = new URLSearchParams(body);
      const grant = pending.get(form.get('code'));
      pending.delete(form.get('code'));
      const verified = grant && grant.redirect === form.get('redirect_uri')
        && b64(createHash('sha256').update(form.get('code_verifier') || '').digest()) === grant.challenge;
      if (!verified) {
        response.writeHead(400, { 'content-type': 'application/json', ...cors });
        return response.end(JSON.stringify({ error: 'invalid_grant' }));
      }
      const now = Math.floor(Date.now() / 1000);
      const header = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
      const claims = b64(JSON.stringify({ iss: issuer(), aud: 'mla-broker', sub: 'idp-judge', roles: ['judge'],
        iat: now, nbf: now, exp: now + 300 }));
      const signature = createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');
      response.writeHead(200, { 'content-type': 'application/json', ...cors });
      return response.end(JSON.stringify({ access_token: `${header}.${claims}.${signature}`, token_type: 'Bearer' }));
    }
    response.writeHead(404).end();
  });
}

test('staff sign in at the identity provider with PKCE, and the code leaves the address', async () => {
  const secret = randomBytes(32).toString('hex');
  let issuer = '';
  const provider = identityProvider(secret, () => issuer);
  await new Promise((resolve) => provider.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${provider.address().port}`;
  const dir = mkdtempSync(join(tmpdir(), 'mla-console-oidc-'));
  let other;
  try {
    other = await serve({ MLA_DATA_DIR: dir, MLA_JWT_ISSUER: issuer, MLA_JWT_HS256_SECRET: secret,
      MLA_CONSOLE_CLIENT_ID: 'mla-console' });
    const config = await (await fetch(`${other.url}/console/config.json`)).json();
    assert.deepEqual(config, { oidc: { issuer, client_id: 'mla-console' }, development: false });
    const page = await open(other.url);
    assert.equal(await page.isVisible('#dev-sign-in'), false, 'no development sign-in outside development mode');
    await page.click('#sign-in-oidc');
    await page.waitForSelector('#who:not(:empty)');
    assert.match(await page.textContent('#who'), /idp-judge/);
    assert.doesNotMatch(page.url(), /code=|state=/);
    // The provider's token works with the broker: the queue loads.
    await page.waitForSelector('table.queue');
    await page.waitForFunction(() => document.querySelector('[role=status]')?.textContent !== 'Loading…');
    assert.equal(await page.$('.problem'), null);
    await page.context().close();
  } finally {
    stop(other);
    provider.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no policy violation or script error happened on any page', () => {
  assert.deepEqual(violations, []);
});
