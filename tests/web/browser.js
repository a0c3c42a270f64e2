#!/usr/bin/env node
// Drives mimic's dashboard in headless Chromium (Debian's chromium through puppeteer-core): log in,
// see the status, start the bot, watch a log line arrive, move the reply-rate slider and see the
// running bot take it, import a persona card and find its character book on the lore page, see the
// schedule page, start a short training job and watch its progress reach 100%, stop the bot.
// usage: CARD=FILE node browser.js BASE_URL PASSWORD TRAIN_ARGS...   (exit 0 when every step passed)
'use strict';
const puppeteer = require('puppeteer-core');

const [base, password, ...trainArgs] = process.argv.slice(2);
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const cardFile = process.env.CARD;
const T = 60000;

function step(s) { process.stdout.write('browser: ' + s + '\n'); }

async function textOf(page, sel) { return page.$eval(sel, (e) => e.textContent); }

(async () => {
  const browser = await puppeteer.launch({
    executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  const problems = [];
  const watch = (page) => {
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
  };
  try {
    const page = await browser.newPage();
    watch(page);
    await page.goto(base + '/status');
    if (!page.url().endsWith('/login')) throw new Error('not sent to the login page: ' + page.url());
    step('redirected to the login page');
    await page.type('#password', 'wrong password here');
    await page.click('button[type=submit]');
    await page.waitForFunction(() => document.getElementById('error').textContent.length > 0, { timeout: T, polling: 200 });
    await page.$eval('#password', (e) => { e.value = ''; });
    await page.type('#password', password);
    await Promise.all([page.waitForNavigation({ timeout: T, polling: 200 }), page.click('button[type=submit]')]);
    if (!page.url().endsWith('/status')) throw new Error('no status page after login: ' + page.url());
    step('logged in');
    await page.waitForFunction(() => document.getElementById('state').textContent === 'stopped', { timeout: T, polling: 200 });
    step('status: stopped');

    await page.click('#start');
    await page.waitForFunction(() => document.getElementById('state').textContent === 'running', { timeout: T, polling: 200 });
    await page.waitForFunction(() => document.getElementById('bot').textContent.includes('connected') &&
      !document.getElementById('bot').textContent.includes('not connected'), { timeout: T, polling: 200 });
    await page.waitForFunction(() => document.querySelector('#toasts .note') &&
      document.getElementById('toasts').textContent.includes('bot started'), { timeout: T, polling: 200 });
    step('bot started, gateway connected, notification shown');

    const logs = await browser.newPage();
    watch(logs);
    await logs.goto(base + '/logs');
    await logs.waitForFunction(() => document.getElementById('log').textContent.includes('READY as'), { timeout: T, polling: 200 });
    step('log page shows the bot\'s output');

    const live = await browser.newPage();
    watch(live);
    await live.goto(base + '/live');
    await live.waitForSelector('#key-bot-response_rate', { timeout: T, polling: 200 });
    await live.$eval('#key-bot-response_rate', (e) => {
      e.value = '0.45';
      e.dispatchEvent(new Event('input'));
      e.dispatchEvent(new Event('change'));
    });
    await live.waitForFunction(() => document.getElementById('src-bot-response_rate').textContent.startsWith('live'), { timeout: T, polling: 200 });
    step('slider moved: the setting is live');
    await logs.waitForFunction(() => document.getElementById('log').textContent.includes('live setting bot.response_rate = 0.45'), { timeout: T, polling: 200 });
    step('a new log line arrived: the running bot took the new rate');

    const personas = await browser.newPage();
    watch(personas);
    await personas.goto(base + '/personas');
    await personas.waitForFunction(() => document.getElementById('personas').textContent.includes('no personas yet'), { timeout: T, polling: 200 });
    const input = await personas.$('#card');
    await input.uploadFile(cardFile);
    await personas.click('#import-form button[type=submit]');
    await personas.waitForFunction(() => document.querySelector('#personas tr[data-name="Elio"]') &&
      document.getElementById('import-msg').textContent.startsWith('imported'), { timeout: T, polling: 200 });
    step('persona card imported: Elio is listed');

    const lore = await browser.newPage();
    watch(lore);
    await lore.goto(base + '/lore');
    await lore.type('#q', 'aunt');
    await lore.click('#search-form button[type=submit]');
    await lore.waitForFunction(() => document.getElementById('results').textContent.includes('Olga is his aunt.'), { timeout: T, polling: 200 });
    step('lore search finds the card\'s character book');

    const sched = await browser.newPage();
    watch(sched);
    await sched.goto(base + '/schedule');
    await sched.waitForFunction(() => document.getElementById('jobs').textContent.includes('no scheduled jobs'), { timeout: T, polling: 200 });
    step('schedule page shows the scheduler\'s jobs');

    const setup = await browser.newPage();
    watch(setup);
    await setup.goto(base + '/setup');
    await setup.waitForFunction(() => document.getElementById('token-state').textContent.startsWith('The bot has a token') &&
      document.getElementById('ram').textContent.includes('memory'), { timeout: T, polling: 200 })
      .catch(async (e) => { throw new Error(e.message + ' (the page: ' + (await setup.$eval('main', (m) => m.innerText)) + ')'); });
    step('first-run page: the token is set, the machine\'s memory shown');

    // Eight tabs are open now: the pages share one event stream for notices (a Web Lock and a
    // BroadcastChannel), so they never use up Chromium's six connections per host.
    const train = await browser.newPage();
    watch(train);
    await train.goto(base + '/training');
    await train.select('#kind', 'train');
    await train.type('#args', trainArgs.join(' '));
    await train.click('#start-job button[type=submit]');
    await train.waitForFunction(() => {
      const row = document.querySelector('#jobs tr[data-state]');
      return row && row.dataset.state === 'done' && row.querySelector('.progress').getAttribute('aria-valuenow') === '100';
    }, { timeout: 240000, polling: 250 });
    step('training job finished: progress 100%');
    await train.waitForFunction(() => document.getElementById('curve-job').textContent.length > 0, { timeout: T, polling: 200 });
    step('loss curve drawn');

    await page.bringToFront();
    await page.click('#stop');
    await page.waitForFunction(() => document.getElementById('state').textContent === 'stopped', { timeout: T, polling: 200 });
    step('bot stopped');
    await page.click('#start');
    await page.waitForFunction(() => document.getElementById('state').textContent === 'running', { timeout: T, polling: 200 });
    step('bot started again');

    const csp = problems.filter((p) => /Content Security Policy|Refused to/i.test(p));
    if (csp.length) throw new Error('CSP violations: ' + csp.join(' | '));
    if (problems.length) step('console errors (not failing): ' + problems.slice(0, 10).join(' | '));
    step('all passed');
    await browser.close();
    process.exit(0);
  } catch (e) {
    process.stdout.write('browser: FAILED: ' + (e && e.stack || e) + '\n');
    if (problems.length) process.stdout.write('browser: console: ' + problems.slice(0, 10).join(' | ') + '\n');
    await browser.close();
    process.exit(1);
  }
})();
