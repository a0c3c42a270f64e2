// The login form: the password goes to /api/login as JSON; the session cookie comes back HttpOnly.
const form = document.getElementById('login-form');
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = document.getElementById('error');
  err.textContent = '';
  const r = await fetch('/api/login', {
    method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ password: document.getElementById('password').value }),
  });
  let j = {};
  try { j = await r.json(); } catch (e) { j = {}; }
  if (r.ok) location.href = '/'; // the status page, or the first run while the bot has no token
  else err.textContent = j.error || ('HTTP ' + r.status);
});
