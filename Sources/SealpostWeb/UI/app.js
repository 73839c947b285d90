// Sealpost web client: plain JavaScript, no build step, no libraries, nothing fetched
// from anywhere but the local daemon that served this file.
'use strict';

const I18N = {
  en: {
    appName: 'Sealpost',
    language: 'Language',
    loginNeeded: 'Open the link that “sealpost web” printed in your terminal.',
    loginHint: 'Each link logs in once. If this one was used already, run sealpost web again: it prints a fresh link.',
    loginFailed: 'This login link is not valid any more. Run sealpost web again for a fresh one.',
    online: 'Connected',
    offline: 'Node unreachable',
    reconnecting: 'Reconnecting…',
    newChat: 'New chat',
    noConversations: 'No conversations yet. Start one with “New chat”.',
    pickConversation: 'Choose a conversation, or start a new one.',
    e2eNote: "Messages are end-to-end encrypted and kept only on your unit's node and this device.",
    older: 'Show earlier messages',
    composePlaceholder: 'Write a message (Enter sends, Shift+Enter for a new line)',
    send: 'Send',
    directoryHint: 'Search the directory of every unit by name or address.',
    searchPlaceholder: 'Name or address',
    nobody: 'Nobody matches.',
    close: 'Close',
    you: 'You',
    group: 'Group',
    members: n => `${n} members`,
    unitOf: u => `Unit: ${u}`,
    sending: 'Sending…',
    stored: 'On my node',
    storedTitle: 'Stored on your node. Delivery to the recipient and read receipts are not shown yet.',
    failed: 'Not sent',
    burn: 'Burn-after-reading message. View it once with: sealpost view',
    damaged: "This record cannot be opened with this device's history key.",
    sendFailed: 'Not sent: ',
    today: 'Today',
    newMessage: 'New message',
    searchHistory: 'Search messages',
    noHits: 'No message matches.',
    unlockNeeded: 'Your keys and history on this device are sealed by your passphrase.',
    passphrase: 'Passphrase',
    unlock: 'Unlock',
    wrongPassphrase: 'Wrong passphrase.',
    groupOp: {
      create: (a, m) => `${a} created the group · members: ${m}`,
      add: (a, m) => `${a} added members · members now: ${m}`,
      remove: (a, m) => `${a} removed members · members now: ${m}`,
      leave: (a, m) => `${a} left the group · members now: ${m}`,
      admin: (a, m) => `${a} changed the admins · members: ${m}`,
      refused: (a, m, r) => `Group request refused: ${r}`,
    },
  },
  zh: {
    appName: 'Sealpost',
    language: '语言',
    loginNeeded: '请打开终端中 “sealpost web” 打印的链接。',
    loginHint: '每个链接只能登录一次。如果已经用过，请重新运行 sealpost web，它会打印新的链接。',
    loginFailed: '该登录链接已失效。请重新运行 sealpost web 获取新链接。',
    online: '已连接',
    offline: '无法连接节点',
    reconnecting: '正在重新连接…',
    newChat: '发起会话',
    noConversations: '暂无会话。点击“发起会话”开始。',
    pickConversation: '请选择一个会话，或发起新会话。',
    e2eNote: '消息端到端加密，仅保存在本单位节点和本设备上。',
    older: '查看更早的消息',
    composePlaceholder: '输入消息（Enter 发送，Shift+Enter 换行）',
    send: '发送',
    directoryHint: '按姓名或地址搜索各单位通讯录。',
    searchPlaceholder: '姓名或地址',
    nobody: '没有匹配的人员。',
    close: '关闭',
    you: '我',
    group: '群组',
    members: n => `${n} 名成员`,
    unitOf: u => `单位：${u}`,
    sending: '发送中…',
    stored: '已存至本单位节点',
    storedTitle: '已保存在您的节点上。送达和已读回执暂未显示。',
    failed: '未发送',
    burn: '阅后即焚消息。请用 sealpost view 查看（仅一次）',
    damaged: '无法用本设备的历史密钥打开此记录。',
    sendFailed: '未发送：',
    today: '今天',
    newMessage: '新消息',
    searchHistory: '搜索聊天记录',
    noHits: '没有匹配的消息。',
    unlockNeeded: '本设备上的密钥和聊天记录已用您的口令加密。',
    passphrase: '口令',
    unlock: '解锁',
    wrongPassphrase: '口令错误。',
    groupOp: {
      create: (a, m) => `${a} 创建了群组 · 成员：${m}`,
      add: (a, m) => `${a} 添加了成员 · 现有成员：${m}`,
      remove: (a, m) => `${a} 移除了成员 · 现有成员：${m}`,
      leave: (a, m) => `${a} 退出了群组 · 现有成员：${m}`,
      admin: (a, m) => `${a} 更改了管理员 · 成员：${m}`,
      refused: (a, m, r) => `群组请求被拒绝：${r}`,
    },
  },
};

function detectLanguage() {
  const saved = localStorage.getItem('sealpost.lang');
  if (saved && I18N[saved]) return saved;
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const l of langs) {
    const low = String(l).toLowerCase();
    if (low.startsWith('zh')) return 'zh';
    if (low.startsWith('en')) return 'en';
  }
  return 'en';
}

const app = {
  lang: detectLanguage(),
  csrf: '',
  me: null,
  online: false,
  socketUp: false,
  conversations: new Map(),   // address -> conversation
  current: null,              // address of the open conversation
  oldestRow: null,
  more: false,
  shown: new Map(),           // message id -> element, for the open conversation
  socket: null,
};

const $ = id => document.getElementById(id);
const t = (key, ...args) => {
  const v = I18N[app.lang][key] ?? I18N.en[key] ?? key;
  return typeof v === 'function' ? v(...args) : v;
};

function applyLanguage() {
  document.documentElement.lang = app.lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('appName');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  $('lang').value = app.lang;
  renderStatus();
  renderConversations();
  if (app.current) renderHeader();
  for (const el of app.shown.values()) refreshState(el);
}

// --- talking to the daemon -------------------------------------------------------

async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-Sealpost-CSRF'] = app.csrf;
  }
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (!response.ok) {
    const error = new Error(data.error || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

async function boot() {
  $('lang').addEventListener('change', e => {
    app.lang = e.target.value;
    localStorage.setItem('sealpost.lang', app.lang);
    applyLanguage();
  });
  applyLanguage();
  const match = /^#token=([A-Za-z0-9_-]{1,64})$/.exec(location.hash);
  let loginFailed = false;
  if (match) {
    // The token leaves the address bar (and the history) before anything else happens.
    history.replaceState(null, '', location.pathname);
    try {
      const r = await api('POST', '/api/login', { token: match[1] });
      app.csrf = r.csrf;
    } catch (e) {
      // A used link: fine if this browser is logged in already.
      loginFailed = true;
    }
  }
  let state;
  try {
    state = await api('GET', '/api/state');
  } catch (e) {
    showLogin(loginFailed);
    return;
  }
  app.csrf = state.csrf;
  if (state.locked) {
    showUnlock(state.me.address);
    return;
  }
  app.me = state.me;
  app.online = state.online;
  for (const c of state.conversations) app.conversations.set(c.address, c);
  $('login').classList.add('hidden');
  $('unlock').classList.add('hidden');
  $('app').classList.remove('hidden');
  $('me-name').textContent = app.me.name;
  $('me-address').textContent = app.me.address;
  wire();
  applyLanguage();
  connect();
}

function showUnlock(address) {
  $('login').classList.add('hidden');
  $('app').classList.add('hidden');
  $('unlock').classList.remove('hidden');
  $('unlock-address').textContent = address;
  $('passphrase').focus();
  $('unlock-form').addEventListener('submit', async e => {
    e.preventDefault();
    const button = $('unlock-button');
    button.disabled = true;
    $('unlock-error').classList.add('hidden');
    try {
      await api('POST', '/api/unlock', { passphrase: $('passphrase').value });
      $('passphrase').value = '';
      location.reload();
    } catch (err) {
      $('unlock-error').textContent = err.status === 401 ? t('wrongPassphrase') : err.message;
      $('unlock-error').classList.remove('hidden');
      button.disabled = false;
      $('passphrase').select();
    }
  });
}

function showLogin(failed) {
  $('app').classList.add('hidden');
  $('login').classList.remove('hidden');
  const err = $('login-error');
  err.textContent = failed ? t('loginFailed') : '';
  err.classList.toggle('hidden', !failed);
}

function connect() {
  const socket = new WebSocket(`ws://${location.host}/api/events`);
  app.socket = socket;
  socket.addEventListener('open', () => { app.socketUp = true; renderStatus(); resync(); });
  socket.addEventListener('message', e => {
    let event;
    try { event = JSON.parse(e.data); } catch (err) { return; }
    onEvent(event);
  });
  socket.addEventListener('close', () => {
    app.socketUp = false;
    renderStatus();
    setTimeout(connect, 2000);
  });
}

/// After a reconnect: what changed while the socket was down.
async function resync() {
  try {
    const state = await api('GET', '/api/state');
    app.online = state.online;
    for (const c of state.conversations) app.conversations.set(c.address, c);
    renderStatus();
    renderConversations();
    if (app.current) {
      const h = await api('GET', `/api/history?conversation=${encodeURIComponent(app.current)}&limit=50`);
      for (const m of h.messages) addMessage(m, false);
      scrollToEnd();
    }
  } catch (e) { /* the next event or reconnect tries again */ }
}

function onEvent(event) {
  switch (event.type) {
    case 'message':
      if (event.conversation) app.conversations.set(event.conversation.address, event.conversation);
      if (!event.message.outgoing && document.visibilityState !== 'visible') notify(event);
      if (event.message.conversation === app.current) {
        const atEnd = nearEnd();
        addMessage(event.message, false);
        if (atEnd || event.message.outgoing) scrollToEnd();
        if (!event.message.outgoing && document.visibilityState === 'visible') markRead();
      }
      renderConversations();
      break;
    case 'state': {
      const el = app.shown.get(event.id);
      if (el) updateState(el, event.state, event.reason);
      break;
    }
    case 'conversation':
      app.conversations.set(event.conversation.address, event.conversation);
      renderConversations();
      if (event.conversation.address === app.current) renderHeader();
      break;
    case 'status':
      app.online = event.online;
      renderStatus();
      break;
  }
}

/// A desktop notification while the tab is in the background: who wrote, never what
/// (the text would show on the screen and in the system's notification history).
function notify(event) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const c = event.conversation;
  const title = c ? c.name : event.message.from;
  const n = new Notification(title, { body: t('newMessage'), tag: event.message.conversation, icon: '/icon.svg' });
  n.addEventListener('click', () => { window.focus(); openConversation(event.message.conversation); n.close(); });
}

/// Asked once, on the person's first send (browsers only ask after a gesture).
function askForNotifications() {
  if ('Notification' in window && Notification.permission === 'default') Notification.requestPermission();
}

// --- rendering -------------------------------------------------------------------

function renderStatus() {
  const el = $('status');
  const state = !app.socketUp ? 'reconnecting' : app.online ? 'online' : 'offline';
  el.dataset.state = state;
  el.textContent = t(state);
}

function initial(name) { return (name || '?').trim().charAt(0).toUpperCase() || '?'; }

function formatTime(ms) {
  const d = new Date(ms);
  const now = new Date();
  const locale = app.lang === 'zh' ? 'zh-CN' : 'en-GB';
  const time = d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.toLocaleDateString(locale, { month: '2-digit', day: '2-digit' })} ${time}`;
}

/// A group event, recorded as JSON by the daemon, in the reader's language.
function groupEventText(m) {
  let e;
  try { e = JSON.parse(m.text); } catch (err) { return m.text; }
  const say = (I18N[app.lang].groupOp || I18N.en.groupOp)[e.op];
  const members = (e.members || []).map(nameOf).join(app.lang === 'zh' ? '、' : ', ');
  return say ? say(nameOf(e.actor), members, e.reason) : m.text;
}

function preview(m) {
  if (!m) return '';
  if (m.kind === 'group_event') return groupEventText(m);
  if (m.kind === 'burn') return '🔥 ' + t('burn');
  if (m.kind === 'damaged') return t('damaged');
  const text = m.text.replace(/\s+/g, ' ');
  return m.outgoing ? `${t('you')}${app.lang === 'zh' ? '：' : ': '}${text}` : text;
}

function renderConversations() {
  const list = $('conversations');
  const items = [...app.conversations.values()].sort((a, b) => ((b.last && b.last.row) || 0) - ((a.last && a.last.row) || 0));
  list.replaceChildren();
  for (const c of items) {
    const li = document.createElement('li');
    li.className = 'conv' + (c.address === app.current ? ' active' : '');
    li.dataset.address = c.address;
    const avatar = document.createElement('div');
    avatar.className = 'avatar' + (c.is_group ? ' group' : '');
    avatar.textContent = initial(c.name);
    const body = document.createElement('div');
    body.className = 'conv-body';
    const top = document.createElement('div');
    top.className = 'conv-top';
    const name = document.createElement('span');
    name.className = 'conv-name';
    name.textContent = c.name;
    const time = document.createElement('span');
    time.className = 'conv-time';
    time.textContent = c.last ? formatTime(c.last.sent_at) : '';
    top.append(name, time);
    const bottom = document.createElement('div');
    bottom.className = 'conv-bottom';
    const last = document.createElement('span');
    last.className = 'conv-last';
    last.textContent = c.last ? preview(c.last) : (c.is_group ? t('group') : c.address);
    bottom.append(last);
    if (c.unread > 0 && c.address !== app.current) {
      const badge = document.createElement('span');
      badge.className = 'unread';
      badge.textContent = c.unread > 99 ? '99+' : String(c.unread);
      bottom.append(badge);
    }
    body.append(top, bottom);
    li.append(avatar, body);
    li.addEventListener('click', () => openConversation(c.address));
    list.append(li);
  }
  $('no-conversations').classList.toggle('hidden', items.length > 0);
}

function renderHeader() {
  const c = app.conversations.get(app.current);
  if (!c) return;
  $('chat-title').textContent = c.name;
  const avatar = $('chat-avatar');
  avatar.className = 'avatar' + (c.is_group ? ' group' : '');
  avatar.textContent = initial(c.name);
  $('chat-sub').textContent = c.is_group
    ? `${c.address} · ${t('members', (c.members || []).length)}`
    : `${c.address} · ${t('unitOf', c.address.split('@')[1] || '')}`;
}

function nameOf(address) {
  if (app.me && address === app.me.address) return t('you');
  const c = app.conversations.get(address);
  return c && !c.is_group ? c.name : address;
}

function messageElement(m) {
  const li = document.createElement('li');
  li.dataset.id = m.id;
  li.dataset.row = m.row;
  li.dataset.state = m.state;
  li.dataset.reason = m.reason || '';
  const system = m.kind === 'group_event' || m.kind.startsWith('reminder') || m.kind.startsWith('burn_') || m.kind === 'burned';
  li.className = 'msg ' + (system ? 'system' : m.outgoing ? 'out' : 'in') + (m.kind === 'burn' ? ' notice' : '');
  const c = app.conversations.get(m.conversation);
  if (!m.outgoing && !system && c && c.is_group) {
    const sender = document.createElement('div');
    sender.className = 'sender';
    sender.textContent = m.from_name || nameOf(m.from);
    li.append(sender);
  }
  const bubble = document.createElement('div');
  bubble.className = 'bubble';
  bubble.textContent = m.kind === 'burn' ? '🔥 ' + t('burn') + ' ' + m.id
    : m.kind === 'damaged' ? t('damaged') : m.kind === 'group_event' ? groupEventText(m) : m.text;
  li.append(bubble);
  const meta = document.createElement('div');
  meta.className = 'meta';
  const time = document.createElement('span');
  time.className = 'time';
  time.textContent = formatTime(m.sent_at);
  meta.append(time);
  if (m.label) {
    // The classification label (密级), as the sender sealed it: 敏感 sensitive.
    const badge = document.createElement('span');
    badge.className = 'label';
    badge.textContent = m.label;
    meta.append(badge);
  }
  if (m.outgoing) {
    // Later states (delivered to the recipient's node, seen) need receipts in the protocol; they go here.
    const state = document.createElement('span');
    state.className = 'state';
    meta.append(state);
  }
  li.append(meta);
  refreshState(li);
  return li;
}

function refreshState(li) {
  const state = li.querySelector('.state');
  if (!state) return;
  state.dataset.state = li.dataset.state;
  const s = li.dataset.state;
  state.textContent = s === 'sending' ? '⏳ ' + t('sending') : s === 'stored' ? '✓ ' + t('stored')
    : s === 'failed' ? '! ' + t('failed') + (li.dataset.reason ? ': ' + li.dataset.reason : '') : s;
  state.title = s === 'stored' ? t('storedTitle') : '';
}

// An own message's states only move forward, whatever order the answer to the POST
// and the live events arrive in. (delivered and seen will come with read receipts.)
const STATE_RANK = { sending: 0, stored: 1, failed: 1, delivered: 2, seen: 3 };

function updateState(el, state, reason) {
  if ((STATE_RANK[state] ?? 0) < (STATE_RANK[el.dataset.state] ?? 0)) return;
  el.dataset.state = state;
  el.dataset.reason = reason || '';
  refreshState(el);
}

/// Adds a message in row order; one element per id, whatever repeats.
function addMessage(m, atTop) {
  const existing = app.shown.get(m.id);
  if (existing) {
    updateState(existing, m.state, m.reason);
    return;
  }
  const el = messageElement(m);
  app.shown.set(m.id, el);
  const list = $('message-list');
  if (atTop) { list.prepend(el); return; }
  let after = list.lastElementChild;
  while (after && Number(after.dataset.row) > m.row) after = after.previousElementSibling;
  if (after) after.after(el); else list.prepend(el);
  if (app.oldestRow === null || m.row < app.oldestRow) app.oldestRow = m.row;
}

function nearEnd() {
  const box = $('messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function scrollToEnd() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
}

async function openConversation(address) {
  app.current = address;
  app.shown.clear();
  app.oldestRow = null;
  $('message-list').replaceChildren();
  $('send-error').classList.add('hidden');
  $('empty').classList.add('hidden');
  $('conversation').classList.remove('hidden');
  renderHeader();
  renderConversations();
  $('text').focus();
  try {
    const h = await api('GET', `/api/history?conversation=${encodeURIComponent(address)}&limit=50`);
    if (app.current !== address) return;
    for (const m of h.messages) addMessage(m, false);
    app.more = h.more;
    $('older').classList.toggle('hidden', !h.more);
    scrollToEnd();
    markRead();
  } catch (e) {
    showSendError(e.message);
  }
}

let loadingOlder = false;

async function loadOlder() {
  if (loadingOlder || !app.current || !app.more || app.oldestRow === null) return;
  loadingOlder = true;
  try { await loadOlderPage(); } catch (e) { showSendError(e.message); } finally { loadingOlder = false; }
}

async function loadOlderPage() {
  const address = app.current;
  const box = $('messages');
  const before = box.scrollHeight;
  const h = await api('GET', `/api/history?conversation=${encodeURIComponent(address)}&before=${app.oldestRow}&limit=50`);
  if (app.current !== address) return;
  for (const m of h.messages.slice().reverse()) {
    addMessage(m, true);
    if (m.row < app.oldestRow) app.oldestRow = m.row;
  }
  app.more = h.more;
  $('older').classList.toggle('hidden', !h.more);
  box.scrollTop = box.scrollHeight - before;
}

async function markRead() {
  const c = app.conversations.get(app.current);
  if (!c || !c.unread) return;
  const rows = [...app.shown.values()].map(el => Number(el.dataset.row));
  if (!rows.length) return;
  try {
    const r = await api('POST', '/api/read', { conversation: c.address, through: Math.max(...rows) });
    app.conversations.set(r.conversation.address, r.conversation);
    renderConversations();
  } catch (e) { /* shown as unread until the next try */ }
}

function showSendError(message) {
  const el = $('send-error');
  el.textContent = t('sendFailed') + message;
  el.classList.remove('hidden');
}

async function send() {
  askForNotifications();
  const box = $('text');
  const text = box.value;
  if (!text.trim() || !app.current) return;
  $('send').disabled = true;
  $('send-error').classList.add('hidden');
  try {
    const r = await api('POST', '/api/send', { to: app.current, text });
    box.value = '';
    addMessage(r.message, false);
    scrollToEnd();
  } catch (e) {
    showSendError(e.message);
  } finally {
    $('send').disabled = false;
    box.focus();
  }
}

// --- search over the history (done by the daemon, on this device) ---------------------

let historyTimer = null;

async function searchHistory() {
  const q = $('history-search').value.trim();
  const results = $('search-results');
  const searching = q.length > 0;
  results.classList.toggle('hidden', !searching);
  $('conversations').classList.toggle('hidden', searching);
  $('no-conversations').classList.toggle('hidden', searching || app.conversations.size > 0);
  if (!searching) { $('search-empty').classList.add('hidden'); return; }
  let r;
  try { r = await api('GET', `/api/search?q=${encodeURIComponent(q)}`); } catch (e) { return; }
  if ($('history-search').value.trim() !== q) return;
  results.replaceChildren();
  for (const m of r.results) {
    const li = document.createElement('li');
    li.className = 'hit-item';
    li.dataset.id = m.id;
    const top = document.createElement('div');
    top.className = 'hit-top';
    const name = document.createElement('span');
    name.className = 'hit-name';
    const c = app.conversations.get(m.conversation);
    name.textContent = c ? c.name : m.conversation;
    const time = document.createElement('span');
    time.className = 'conv-time';
    time.textContent = formatTime(m.sent_at);
    top.append(name, time);
    const text = document.createElement('div');
    text.className = 'hit-text';
    // The match is marked with elements, never with HTML built from the text.
    const at = m.text.toLowerCase().indexOf(q.toLowerCase());
    const start = Math.max(0, at - 20);
    if (at >= 0) {
      const mark = document.createElement('mark');
      mark.textContent = m.text.slice(at, at + q.length);
      text.append((start > 0 ? '…' : '') + m.text.slice(start, at), mark, m.text.slice(at + q.length));
    } else {
      text.textContent = m.text;
    }
    li.append(top, text);
    li.addEventListener('click', () => showHit(m));
    results.append(li);
  }
  $('search-empty').classList.toggle('hidden', r.results.length > 0);
}

/// Opens the hit's conversation and scrolls to it, loading earlier pages as needed.
async function showHit(m) {
  await openConversation(m.conversation);
  for (let i = 0; i < 40 && !app.shown.has(m.id) && app.more; i++) await loadOlderPage();
  const el = app.shown.get(m.id);
  if (!el) return;
  el.classList.add('hit');
  el.scrollIntoView({ block: 'center' });
}

// --- the directory -------------------------------------------------------------------

let searchTimer = null;

function openDialog() {
  $('dialog').classList.remove('hidden');
  $('search').value = '';
  $('results').replaceChildren();
  $('results-empty').classList.add('hidden');
  $('search').focus();
  search();
}

function closeDialog() { $('dialog').classList.add('hidden'); }

async function search() {
  const q = $('search').value.trim();
  try {
    const r = await api('GET', `/api/directory?q=${encodeURIComponent(q)}`);
    if ($('search').value.trim() !== q) return;
    const list = $('results');
    list.replaceChildren();
    for (const e of r.entries) {
      const li = document.createElement('li');
      li.className = 'result';
      li.dataset.address = e.address;
      const avatar = document.createElement('div');
      avatar.className = 'avatar' + (e.group ? ' group' : '');
      avatar.textContent = initial(e.name);
      const body = document.createElement('div');
      const name = document.createElement('div');
      name.className = 'result-name';
      name.textContent = e.name;
      const sub = document.createElement('div');
      sub.className = 'result-sub';
      sub.textContent = `${e.address} · ${e.group ? t('group') : t('unitOf', e.unit)}`;
      body.append(name, sub);
      li.append(avatar, body);
      li.addEventListener('click', () => startChat(e));
      list.append(li);
    }
    $('results-empty').classList.toggle('hidden', r.entries.length > 0);
  } catch (e) {
    $('results-empty').textContent = e.message;
    $('results-empty').classList.remove('hidden');
  }
}

function startChat(entry) {
  if (!app.conversations.has(entry.address)) {
    app.conversations.set(entry.address, {
      address: entry.address, name: entry.name, is_group: !!entry.group, unread: 0, last: null, members: [],
    });
  }
  closeDialog();
  openConversation(entry.address);
}

function wire() {
  $('compose').addEventListener('submit', e => { e.preventDefault(); send(); });
  $('text').addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  $('older').addEventListener('click', loadOlder);
  $('messages').addEventListener('scroll', () => { if ($('messages').scrollTop < 10) loadOlder(); });
  $('new-chat').addEventListener('click', openDialog);
  $('close-dialog').addEventListener('click', closeDialog);
  $('dialog').addEventListener('click', e => { if (e.target === $('dialog')) closeDialog(); });
  document.addEventListener('keydown', e => { if (e.key === 'Escape') closeDialog(); });
  $('search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 200); });
  for (const type of ['input', 'search']) {
    $('history-search').addEventListener(type, () => { clearTimeout(historyTimer); historyTimer = setTimeout(searchHistory, 200); });
  }
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') markRead(); });
}

document.addEventListener('DOMContentLoaded', boot);
