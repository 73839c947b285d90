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
    storedTitle: "Stored on your node; not yet on the recipient's node.",
    delivered: 'Delivered',
    deliveredTitle: "Stored on the recipient's node.",
    seen: 'Seen',
    seenTitle: 'The recipient has seen it.',
    groupReceipts: (d, s, n) => `Delivered ${d}/${n} · Seen ${s}/${n}`,
    readReceipts: 'Send read receipts',
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
    newGroup: 'New group',
    reminders: 'Reminders',
    sendCard: 'Send a contact card',
    membersButton: 'Members',
    attach: '📎 File',
    remindButton: '⏰ Reminder',
    burnButton: '🔥 Burn after reading',
    dropHint: 'or drop files here',
    dropHere: 'Drop to send',
    addMemberPlaceholder: 'Add a member: name or address',
    leaveGroup: 'Leave the group',
    dueSection: 'Due',
    upcomingSection: 'Upcoming',
    doneSection: 'Done',
    noReminders: 'No reminders yet. Set one from a conversation with “⏰ Reminder”.',
    groupHint: "The group lives on your unit's node; members may be in any unit.",
    groupName: 'Name',
    cancel: 'Cancel',
    create: 'Create',
    remindTitle: 'Set a reminder',
    when: 'When',
    what: 'What',
    in10m: 'in 10 min',
    in1h: 'in 1 hour',
    tomorrow9: 'tomorrow 9:00',
    setReminder: 'Set reminder',
    burnTitle: 'Burn after reading',
    burnHint: 'Viewed once, then deleted from every node. The viewer sees it with their name written over it.',
    burnPlaceholder: 'Text (optional with images)',
    burnImages: 'Images (up to 6, 2 MiB each)',
    closeGone: 'Close — it is gone',
    veiled: 'Hidden while this window is not in front.',
    captureReported: 'A capture was reported to the sender.',
    pickCardTitle: 'Send a contact card',
    pickCardHint: 'Choose whose card to send. The receiver can check it against their own node.',
    chatWith: 'Chat',
    verified: '✓ Verified',
    verifiedTitle: "Signed by the person's unit, checked against the key your node holds for it.",
    unverified: '⚠ Not verified',
    external: 'External contact: not on Sealpost',
    cardOf: 'Contact card',
    reminderFor: t => `⏰ Reminder for ${t}`,
    reminderDue: '⏰ Reminder due',
    reminderDueFrom: n => `set by ${n}`,
    reminderLate: ' (late: your node was down at the time)',
    reminderDoneBy: n => `${n} marked the reminder done`,
    reminderCancelledBy: n => `${n} cancelled the reminder`,
    markDone: 'Mark done',
    doneMark: '✓ Done',
    notDone: '○ not yet',
    toWhom: n => `to ${n}`,
    fromWhom: n => `from ${n}`,
    remindTo: n => `For: ${n}`,
    remindNeedsTime: 'Choose a time in the future.',
    burnIn: n => n > 0 ? `🔥 Burn-after-reading message with ${n} image${n === 1 ? '' : 's'}` : '🔥 Burn-after-reading message',
    burnOut: n => n > 0 ? `🔥 Burn-after-reading message sent (${n} image${n === 1 ? '' : 's'})` : '🔥 Burn-after-reading message sent',
    viewOnce: 'View once',
    viewedHere: 'Viewed here; deleted from the node.',
    burnGone: 'Already viewed or expired: it no longer exists.',
    expired: 'Expired: its readable-until time (保密期限) has passed and its content was deleted from this device.',
    readableUntil: time => `readable until ${time}`,
    viewAgain: 'View again',
    receiptsNone: 'No deletion receipt yet.',
    receipt: (node, ev, subj) => ev === 'viewed' ? `${node}: deleted after ${subj} viewed it` : ev === 'expired' ? `${node}: expired unviewed for ${subj}, deleted` : `${node}: passed on to ${subj}, deleted its copy`,
    signed: 'signed ✓',
    notSigned: r => `NOT VERIFIED: ${r}`,
    captured: (n, how, t) => `⚠ ${n} captured it (${how}) at ${t}`,
    captureNotice: (n, how, t) => `⚠ ${n} captured a burn-after-reading message (${how}) at ${t}`,
    burnTooMany: 'At most 6 images.',
    burnTooLarge: n => `${n} is over 2 MiB.`,
    burnEmpty: 'Write a text or add an image.',
    fileSize: b => formatBytes(b),
    download: 'Download',
    downloading: 'Downloading…',
    retry: 'Retry',
    handingOver: p => `Preparing ${p}%`,
    progress: (d, tot, rate, eta) => `${formatBytes(d)} of ${formatBytes(tot)} · ${formatBytes(rate)}/s` + (eta === null || eta === undefined ? '' : ` · ${formatDuration(eta)} left`),
    transferFailed: r => `Stopped: ${r}`,
    viewOnceFile: 'View-once file: open it with “sealpost fetch”.',
    watermarkFor: (who, when) => `${who} · ${when}`,
    copy: 'Copy',
    forward: 'Forward…',
    forwardTitle: 'Forward',
    forwardHint: "The message goes on with its signed origin; its sender's forward policy and your node decide whether it may.",
    forwardTo: 'To (addresses or groups, separated by commas)',
    forwardNote: 'Note (optional)',
    forwardSend: 'Forward',
    forwardNoOne: 'Give at least one address, e.g. wu@traffic.',
    forwarded: n => `Forwarded to ${n}.`,
    downgrade: 'Downgrade…',
    downgradeTitle: 'Downgrade (lower the label)',
    downgradeHint: l => `Now ${l}. Only people your unit's operator allows may lower the label of your unit's messages; your node countersigns it and records it, and your later forwards carry it.`,
    downgradeTo: 'New label',
    downgradeReason: 'Reason (required, recorded and signed)',
    downgradeSend: 'Downgrade',
    downgradeNeedsReason: 'Say why: the reason is recorded with the downgrade.',
    downgradeRefused: r => `Your node refused the downgrade: ${r}`,
    downgraded: l => `Downgraded to ${l}.`,
    downgradedBy: (by, reason) => `downgraded by ${by}: ${reason}`,
    labelCameAs: l => `effective label; it came labelled ${l}`,
    actions: 'Actions',
    admin: 'admin',
    makeAdmin: 'Make admin',
    remove: 'Remove',
    you2: '(you)',
    confirmLeave: 'Leave this group? You will receive nothing sent to it after.',
    groupCreated: 'The group will appear when your node confirms it.',
    groupSent: "Sent to the group's node; the list changes when it answers.",
    reminderSet: 'Reminder set.',
    cardSent: 'Card sent.',
    newReminder: 'Reminder due',
    groupOp: {
      create: (a, m) => `${a} created the group · members: ${m}`,
      add: (a, m) => `${a} added members · members now: ${m}`,
      remove: (a, m) => `${a} removed members · members now: ${m}`,
      leave: (a, m) => `${a} left the group · members now: ${m}`,
      admin: (a, m) => `${a} made admins · members: ${m}`,
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
    storedTitle: '已保存在您的节点上，尚未到达对方节点。',
    delivered: '已送达',
    deliveredTitle: '已保存在对方的节点上。',
    seen: '已读',
    seenTitle: '对方已看到这条消息。',
    groupReceipts: (d, s, n) => `已送达 ${d}/${n} · 已读 ${s}/${n}`,
    readReceipts: '发送已读回执',
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
    newGroup: '新建群组',
    reminders: '提醒',
    sendCard: '发送名片',
    membersButton: '成员',
    attach: '📎 文件',
    remindButton: '⏰ 提醒',
    burnButton: '🔥 阅后即焚',
    dropHint: '或将文件拖到这里',
    dropHere: '松开即发送',
    addMemberPlaceholder: '添加成员：姓名或地址',
    leaveGroup: '退出群组',
    dueSection: '已到期',
    upcomingSection: '即将到期',
    doneSection: '已完成',
    noReminders: '暂无提醒。在会话中点击“⏰ 提醒”设置。',
    groupHint: '群组建在本单位节点上，成员可以来自任何单位。',
    groupName: '名称',
    cancel: '取消',
    create: '创建',
    remindTitle: '设置提醒',
    when: '时间',
    what: '内容',
    in10m: '10 分钟后',
    in1h: '1 小时后',
    tomorrow9: '明天 9:00',
    setReminder: '设置提醒',
    burnTitle: '阅后即焚',
    burnHint: '只能查看一次，随后从所有节点删除。查看者会看到写有自己姓名的水印。',
    burnPlaceholder: '文字（有图片时可不填）',
    burnImages: '图片（最多 6 张，每张 2 MiB 以内）',
    closeGone: '关闭（内容将不复存在）',
    veiled: '窗口不在前台时内容已隐藏。',
    captureReported: '已向发送者报告截屏行为。',
    pickCardTitle: '发送名片',
    pickCardHint: '选择要发送谁的名片。接收方可用自己的节点核验。',
    chatWith: '发消息',
    verified: '✓ 已核验',
    verifiedTitle: '由该人员所在单位签名，并已用您节点保存的密钥核验。',
    unverified: '⚠ 未核验',
    external: '外部联系人：不在 Sealpost 上',
    cardOf: '名片',
    reminderFor: t => `⏰ 提醒：${t}`,
    reminderDue: '⏰ 提醒到期',
    reminderDueFrom: n => `由 ${n} 设置`,
    reminderLate: '（延迟：到期时节点未运行）',
    reminderDoneBy: n => `${n} 已将提醒标记为完成`,
    reminderCancelledBy: n => `${n} 取消了提醒`,
    markDone: '标记完成',
    doneMark: '✓ 已完成',
    notDone: '○ 未完成',
    toWhom: n => `发给 ${n}`,
    fromWhom: n => `来自 ${n}`,
    remindTo: n => `提醒对象：${n}`,
    remindNeedsTime: '请选择一个将来的时间。',
    burnIn: n => n > 0 ? `🔥 阅后即焚消息（${n} 张图片）` : '🔥 阅后即焚消息',
    burnOut: n => n > 0 ? `🔥 已发送阅后即焚消息（${n} 张图片）` : '🔥 已发送阅后即焚消息',
    viewOnce: '查看（仅一次）',
    viewedHere: '已在本设备查看；节点上已删除。',
    burnGone: '已被查看或已过期，内容已不存在。',
    expired: '已过期：保密期限已到，内容已从本设备删除。',
    readableUntil: time => `保密期限至 ${time}`,
    viewAgain: '再次查看',
    receiptsNone: '尚无删除回执。',
    receipt: (node, ev, subj) => ev === 'viewed' ? `${node}：${subj} 查看后已删除` : ev === 'expired' ? `${node}：${subj} 未查看，已过期删除` : `${node}：已转交 ${subj} 并删除副本`,
    signed: '签名有效 ✓',
    notSigned: r => `未核验：${r}`,
    captured: (n, how, t) => `⚠ ${n} 于 ${t} 截屏（${how}）`,
    captureNotice: (n, how, t) => `⚠ ${n} 于 ${t} 截取了阅后即焚消息（${how}）`,
    burnTooMany: '最多 6 张图片。',
    burnTooLarge: n => `${n} 超过 2 MiB。`,
    burnEmpty: '请输入文字或添加图片。',
    fileSize: b => formatBytes(b),
    download: '下载',
    downloading: '正在下载…',
    retry: '重试',
    handingOver: p => `准备中 ${p}%`,
    progress: (d, tot, rate, eta) => `${formatBytes(d)} / ${formatBytes(tot)} · ${formatBytes(rate)}/秒` + (eta === null || eta === undefined ? '' : ` · 剩余 ${formatDuration(eta)}`),
    transferFailed: r => `已中断：${r}`,
    viewOnceFile: '一次性文件：请用 “sealpost fetch” 打开。',
    watermarkFor: (who, when) => `${who} · ${when}`,
    copy: '复制',
    forward: '转发…',
    forwardTitle: '转发',
    forwardHint: '消息带着签名的来源继续传递；能否转发由原发送人的转发策略和本单位节点决定。',
    forwardTo: '发给（地址或群组，用逗号分隔）',
    forwardNote: '附言（可不填）',
    forwardSend: '转发',
    forwardNoOne: '请至少填写一个地址，例如 wu@traffic。',
    forwarded: n => `已转发给 ${n}。`,
    downgrade: '降级…',
    downgradeTitle: '降级（降低密级）',
    downgradeHint: l => `当前密级：${l}。只有本单位管理员授权的人员才能降低本单位消息的密级；本单位节点会会签并记录，之后的转发都带着这次降级。`,
    downgradeTo: '新密级',
    downgradeReason: '理由（必填，会被记录并签名）',
    downgradeSend: '降级',
    downgradeNeedsReason: '请填写理由：理由会与降级一起记录。',
    downgradeRefused: r => `本单位节点拒绝降级：${r}`,
    downgraded: l => `已降级为 ${l}。`,
    downgradedBy: (by, reason) => `已由 ${by} 降级：${reason}`,
    labelCameAs: l => `实际密级；收到时标为 ${l}`,
    actions: '操作',
    admin: '管理员',
    makeAdmin: '设为管理员',
    remove: '移除',
    you2: '（我）',
    confirmLeave: '确定退出该群组？退出后将收不到群内新消息。',
    groupCreated: '节点确认后群组即会出现。',
    groupSent: '已发送至群组所在节点，确认后成员列表将更新。',
    reminderSet: '提醒已设置。',
    cardSent: '名片已发送。',
    newReminder: '提醒到期',
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
  for (const [id, el] of app.shown) {
    if (!el._m) { refreshState(el); continue; }
    const fresh = messageElement(el._m);
    el.replaceWith(fresh);
    app.shown.set(id, fresh);
  }
  if (app.panel === 'reminders') renderReminders();
  if (app.panel === 'group') renderGroupPanel();
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
  $('read-receipts').addEventListener('change', async e => {
    try {
      const r = await api('POST', '/api/settings', { read_receipts: e.target.checked });
      e.target.checked = r.read_receipts;
    } catch (err) {
      e.target.checked = !e.target.checked;
    }
  });
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
  app.labels = state.labels || [];
  $('read-receipts').checked = state.read_receipts !== false;
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
      if (!event.message.outgoing && document.visibilityState !== 'visible' && NOTIFIED_KINDS.has(event.message.kind)) notify(event);
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
      if (el) updateState(el, event.state, event.reason, event.receipts);
      break;
    }
    case 'settings':
      $('read-receipts').checked = event.read_receipts;
      break;
    case 'conversation':
      app.conversations.set(event.conversation.address, event.conversation);
      renderConversations();
      if (event.conversation.address === app.current) renderHeader();
      if (event.conversation.address === app.pendingOpen) { app.pendingOpen = null; openConversation(event.conversation.address); }
      break;
    case 'status':
      app.online = event.online;
      renderStatus();
      break;
    case 'update':
      replaceMessage(event.message);
      break;
    case 'reminder_due':
      reminderDue(event.message);
      break;
    case 'reminders':
      loadReminders();
      break;
    case 'transfer':
      onTransfer(event);
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
  if (m.kind === 'burn') return m.outgoing ? t('burnOut', (m.burn || {}).images || 0) : t('burnIn', (m.burn || {}).images || 0);
  if (m.kind === 'damaged') return t('damaged');
  if (m.kind !== 'text') return noticeText(m);
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
  $('send-card').classList.toggle('hidden', !!c.is_group);
  $('show-members').classList.toggle('hidden', !c.is_group);
  if (app.panel === 'group') renderGroupPanel();
}

function nameOf(address) {
  if (app.me && address === app.me.address) return t('you');
  const c = app.conversations.get(address);
  if (c && !c.is_group) return c.name;
  for (const g of app.conversations.values()) {
    if (g.member_names && g.member_names[address] && g.member_names[address] !== address) return g.member_names[address];
  }
  return address;
}

function messageElement(m) {
  const li = document.createElement('li');
  li.dataset.id = m.id;
  li.dataset.row = m.row;
  li.dataset.state = m.state;
  li.dataset.reason = m.reason || '';
  if (m.receipts) li.dataset.receipts = JSON.stringify(m.receipts);
  const system = SYSTEM_KINDS.has(m.kind);
  li.className = 'msg ' + (system ? 'system' : m.outgoing ? 'out' : 'in') + ' kind-' + m.kind;
  li._m = m;
  const c = app.conversations.get(m.conversation);
  if (!m.outgoing && !system && c && c.is_group) {
    const sender = document.createElement('div');
    sender.className = 'sender';
    sender.textContent = m.from_name || nameOf(m.from);
    li.append(sender);
  }
  const bubble = document.createElement('div');
  bubble.className = 'bubble';
  const render = RENDERERS[m.kind];
  if (render) render(m, bubble, li);
  else bubble.textContent = m.kind === 'damaged' ? t('damaged') : m.kind === 'group_event' ? groupEventText(m) : m.text;
  li.append(bubble);
  const meta = document.createElement('div');
  meta.className = 'meta';
  const time = document.createElement('span');
  time.className = 'time';
  time.textContent = formatTime(m.sent_at);
  meta.append(time);
  // The classification label (密级): the content's own (a downgrade's, a forward's origin's), else as the sender sealed it.
  const shownLabel = m.effective_label || m.label;
  const label = document.createElement('span');
  label.className = shownLabel ? 'label-slot label' : 'label-slot';
  label.dataset.slot = 'label';
  if (shownLabel) label.textContent = shownLabel;
  if (m.label && shownLabel !== m.label) { label.classList.add('lowered'); label.title = t('labelCameAs', m.label); }
  meta.append(label);
  if (m.readable_until > 0 && m.kind !== 'expired') meta.append(el('span', 'until', t('readableUntil', formatTime(m.readable_until))));
  if (!system) meta.append(actionMenu(m));
  if (m.outgoing) {
    const state = document.createElement('span');
    state.className = 'state';
    meta.append(state);
  }
  li.append(meta);
  if (m.downgrade) li.append(el('div', 'downgrade-line', t('downgradedBy', m.downgrade.by, m.downgrade.reason)));
  refreshState(li);
  return li;
}

function refreshState(li) {
  const state = li.querySelector('.state');
  if (!state) return;
  state.dataset.state = li.dataset.state;
  const s = li.dataset.state;
  // A group's message: counts of its members' receipts once one member's node has it.
  const r = li.dataset.receipts ? JSON.parse(li.dataset.receipts) : null;
  if (r && r.recipients > 1 && r.delivered > 0 && s !== 'failed') {
    state.textContent = (r.seen === r.recipients ? '✓✓ ' : '✓ ') + t('groupReceipts', r.delivered, r.seen, r.recipients);
    state.title = '';
    return;
  }
  state.textContent = s === 'sending' ? '⏳ ' + t('sending') : s === 'stored' ? '✓ ' + t('stored')
    : s === 'delivered' ? '✓✓ ' + t('delivered') : s === 'seen' ? '✓✓ ' + t('seen')
    : s === 'failed' ? '! ' + t('failed') + (li.dataset.reason ? ': ' + li.dataset.reason : '') : s;
  state.title = s === 'stored' ? t('storedTitle') : s === 'delivered' ? t('deliveredTitle') : s === 'seen' ? t('seenTitle') : '';
}

// An own message's states only move forward, whatever order the answer to the POST
// and the live events arrive in (delivered and seen come from receipts).
const STATE_RANK = { sending: 0, stored: 1, failed: 1, delivered: 2, seen: 3 };

function updateState(el, state, reason, receipts) {
  if ((STATE_RANK[state] ?? 0) < (STATE_RANK[el.dataset.state] ?? 0)) return;
  if (receipts) el.dataset.receipts = JSON.stringify(receipts);
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
    // Files still on their way to this conversation keep their progress line at the end.
    for (const u of app.uploads.values()) if (u.to === address) $('message-list').append(u.element);
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
    const shown = m.kind === 'text' ? m.text : noticeText(m);
    const at = shown.toLowerCase().indexOf(q.toLowerCase());
    const start = Math.max(0, at - 20);
    if (at >= 0) {
      const mark = document.createElement('mark');
      mark.textContent = shown.slice(at, at + q.length);
      text.append((start > 0 ? '…' : '') + shown.slice(start, at), mark, shown.slice(at + q.length));
    } else {
      text.textContent = shown;
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

function openDialog(mode) {
  app.dialogMode = mode === 'card' ? 'card' : 'chat';
  $('dialog-title').textContent = app.dialogMode === 'card' ? t('pickCardTitle') : t('newChat');
  $('dialog-hint').textContent = app.dialogMode === 'card' ? t('pickCardHint') : t('directoryHint');
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
      if (app.dialogMode === 'card' && e.group) continue;
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
      li.addEventListener('click', () => (app.dialogMode === 'card' ? sendCard(e) : startChat(e)));
      list.append(li);
    }
    $('results-empty').classList.toggle('hidden', r.entries.length > 0);
  } catch (e) {
    $('results-empty').textContent = e.message;
    $('results-empty').classList.remove('hidden');
  }
}

function startChat(entry) {
  closeAllDialogs();
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
  $('new-chat').addEventListener('click', () => openDialog('chat'));
  wireFeatures();
  $('close-dialog').addEventListener('click', closeDialog);
  $('dialog').addEventListener('click', e => { if (e.target === $('dialog')) closeDialog(); });
  document.addEventListener('keydown', e => { if (e.key === 'Escape' && $('burn-viewer').classList.contains('hidden')) closeAllDialogs(); });
  $('search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 200); });
  for (const type of ['input', 'search']) {
    $('history-search').addEventListener(type, () => { clearTimeout(historyTimer); historyTimer = setTimeout(searchHistory, 200); });
  }
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') markRead(); });
}

// --- kinds of messages -------------------------------------------------------------------

/// What a notification is shown for while the tab is in the background (a due reminder has
/// its own; group changes and receipts do not call for one).
const NOTIFIED_KINDS = new Set(['text', 'file', 'card', 'burn', 'reminder', 'capture']);

/// Notices about a conversation, shown centred, not as someone's bubble.
const SYSTEM_KINDS = new Set(['group_event', 'reminder_due', 'reminder_done', 'reminder_cancelled', 'burned', 'burn_expired',
  'burn_receipt', 'capture']);

function parseJSON(text) { try { return JSON.parse(text) || {}; } catch (e) { return {}; } }

function formatBytes(n) {
  n = Number(n) || 0;
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function formatDuration(s) {
  s = Math.max(0, Math.round(Number(s) || 0));
  if (s < 60) return app.lang === 'zh' ? `${s} 秒` : `${s} s`;
  const m = Math.floor(s / 60), r = s % 60;
  if (m < 60) return app.lang === 'zh' ? `${m} 分 ${r} 秒` : `${m} min ${r} s`;
  return app.lang === 'zh' ? `${Math.floor(m / 60)} 小时 ${m % 60} 分` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function formatFull(ms) {
  const locale = app.lang === 'zh' ? 'zh-CN' : 'en-GB';
  return new Date(ms).toLocaleString(locale, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(label, onClick, className) {
  const b = el('button', className || '', label);
  b.type = 'button';
  b.addEventListener('click', e => { e.stopPropagation(); onClick(e, b); });
  return b;
}

/// The one-line text of a notice or a structured message (conversation list, notifications).
function noticeText(m) {
  const o = parseJSON(m.text);
  switch (m.kind) {
    case 'reminder': return t('reminderFor', formatTime(o.due_at)) + ' ' + (o.text || '');
    case 'reminder_due': return `${t('reminderDue')}: ${o.text || ''}`;
    case 'reminder_done': return t('reminderDoneBy', nameOf(m.from));
    case 'reminder_cancelled': return t('reminderCancelledBy', nameOf(m.from));
    case 'file': return `📎 ${o.name || ''} (${formatBytes(o.size)})`;
    case 'card': return `👤 ${t('cardOf')}: ${o.name || ''}`;
    case 'expired': return t('expired');
    case 'capture': return t('captureNotice', nameOf(o.by || m.from), o.how || '', formatTime(o.at || m.sent_at));
    case 'burned': case 'burn_expired': case 'burn_receipt':
      return `🔥 ${t('receipt', o.node, o.event, nameOf(o.subject))} · ${o.verified ? t('signed') : t('notSigned', o.reason)}`;
    default: return m.text;
  }
}

const RENDERERS = {
  reminder(m, bubble) {
    const o = parseJSON(m.text);
    bubble.append(el('div', 'rem-when', t('reminderFor', formatFull(o.due_at))), el('div', 'rem-text', o.text || ''));
  },
  reminder_due(m, bubble) {
    const o = parseJSON(m.text);
    bubble.classList.add('due');
    bubble.append(el('div', 'rem-when', t('reminderDue') + (o.late ? t('reminderLate') : '')), el('div', 'rem-text', o.text || ''));
    if (o.from) bubble.append(el('div', 'hint', t('reminderDueFrom', nameOf(o.from))));
  },
  // 保密期限 (SPEC 7.11.9): the daemon deleted its content at its readable-until time.
  expired(m, bubble) { bubble.classList.add('expired'); bubble.textContent = t('expired'); },
  reminder_done(m, bubble) { bubble.textContent = noticeText(m); },
  reminder_cancelled(m, bubble) { bubble.textContent = noticeText(m); },
  capture(m, bubble) { bubble.classList.add('alert'); bubble.textContent = noticeText(m); },
  burned(m, bubble) { bubble.textContent = noticeText(m); },
  burn_expired(m, bubble) { bubble.textContent = noticeText(m); },
  burn_receipt(m, bubble) { bubble.textContent = noticeText(m); },
  card(m, bubble) {
    const o = parseJSON(m.text);
    bubble.classList.add('card');
    const top = el('div', 'card-top');
    top.append(el('div', 'avatar', initial(o.name)));
    const body = el('div', 'card-body');
    body.append(el('div', 'card-name', o.name || ''));
    if (o.address) body.append(el('div', 'card-sub', `${o.address} · ${t('unitOf', o.unit || '')}`));
    else if (o.unit) body.append(el('div', 'card-sub', o.unit));
    if (o.phone || o.email) body.append(el('div', 'card-sub', [o.phone, o.email].filter(Boolean).join(' · ')));
    top.append(body);
    bubble.append(el('div', 'card-kind', t('cardOf')), top);
    const badge = el('div', 'card-check ' + (o.verified ? 'ok' : 'warn'),
      o.external ? t('external') : o.verified ? t('verified') : `${t('unverified')}: ${o.reason || ''}`);
    if (o.verified) badge.title = t('verifiedTitle');
    bubble.append(badge);
    if (o.address && !o.external && (!app.me || o.address !== app.me.address)) {
      bubble.append(button(t('chatWith'), () => startChat({ address: o.address, name: o.name }), 'primary card-chat'));
    }
  },
  file(m, bubble, li) {
    const o = parseJSON(m.text);
    li.dataset.fileId = o.file_id || '';
    bubble.classList.add('file');
    const row = el('div', 'file-row');
    row.append(el('span', 'file-icon', '📎'));
    const info = el('div', 'file-info');
    info.append(el('div', 'file-name', o.name || ''), el('div', 'file-size', formatBytes(o.size)));
    row.append(info);
    bubble.append(row);
    if (o.burn) { bubble.append(el('div', 'hint', t('viewOnceFile'))); return; }
    const progress = el('div', 'progress hidden');
    progress.append(el('div', 'bar'), el('div', 'progress-text'));
    bubble.append(progress);
    const actions = el('div', 'file-actions');
    actions.append(button(t('download'), () => download(o.file_id, o.name), 'download'));
    bubble.append(actions);
    if (isImageName(o.name) && o.size <= 8 * 1024 * 1024) showInline(o.file_id, bubble);
  },
  burn(m, bubble, li) {
    const b = m.burn || {};
    bubble.classList.add('burn');
    if (m.outgoing) {
      bubble.append(el('div', 'burn-title', t('burnOut', b.images || 0)));
      const list = el('ul', 'receipts');
      for (const r of b.receipts || []) {
        const item = el('li', 'receipt ' + (r.verified ? 'ok' : 'warn'),
          `${t('receipt', r.node, r.event, nameOf(r.subject))} · ${r.verified ? t('signed') : t('notSigned', r.reason)}`);
        item.dataset.node = r.node;
        list.append(item);
      }
      if (!(b.receipts || []).length) list.append(el('li', 'hint', t('receiptsNone')));
      for (const c of b.captures || []) list.append(el('li', 'receipt alert', t('captured', c.by_name || nameOf(c.by), c.how, formatTime(c.at))));
      bubble.append(list);
      return;
    }
    bubble.append(el('div', 'burn-title', t('burnIn', b.images || 0)));
    const gone = m.state === 'viewed' || m.state === 'burned';
    if (gone) bubble.append(el('div', 'hint burn-state', m.state === 'viewed' ? t('viewedHere') : t('burnGone')));
    const error = el('div', 'error burn-error hidden');
    bubble.append(button(gone ? t('viewAgain') : t('viewOnce'), (e, btn) => viewBurn(m, btn, error), gone ? 'view-burn' : 'primary view-burn'), error);
  },
};

/// What a message's "⋯" menu offers. Other parts add theirs here (forwarding adds
/// "Forward"): { id, label: () => text, applies: m => bool, run: m => void }.
const MESSAGE_ACTIONS = [
  { id: 'copy', label: () => t('copy'), applies: m => m.kind === 'text', run: m => navigator.clipboard && navigator.clipboard.writeText(m.text) },
  // Received texts, cards and files (burn messages never): the daemon and the node check the policy.
  { id: 'forward', label: () => t('forward'), applies: m => !m.outgoing && ['text', 'card', 'file'].includes(m.kind), run: m => openForwardDialog(m) },
  // Received or sent, above the lowest label. Whether this person may is the node's to say
  // (labels.downgraders, ERROR 453): the dialog shows its refusal.
  { id: 'downgrade', label: () => t('downgrade'), applies: m => ['text', 'card', 'file'].includes(m.kind) && labelRank(m) > 0, run: m => openDowngradeDialog(m) },
];

/// The rank of a message's effective label in the node's label set (lowest 0), -1 when unknown.
function labelRank(m) {
  return (app.labels || []).indexOf(m.effective_label || m.label);
}

function openDowngradeDialog(m) {
  closeAllDialogs();
  app.downgrading = m;
  const rank = labelRank(m);
  const select = $('downgrade-to');
  select.replaceChildren(...app.labels.slice(0, rank).map(l => { const o = el('option', '', l); o.value = l.split(' ')[0]; return o; }));
  select.selectedIndex = Math.max(0, rank - 1);
  $('downgrade-hint').textContent = t('downgradeHint', m.effective_label || m.label);
  $('downgrade-reason').value = '';
  $('downgrade-error').classList.add('hidden');
  $('downgrade-dialog').classList.remove('hidden');
  $('downgrade-reason').focus();
}

async function sendDowngrade() {
  const m = app.downgrading;
  const err = $('downgrade-error');
  err.classList.add('hidden');
  const reason = $('downgrade-reason').value.trim();
  if (!m || !reason) { err.textContent = t('downgradeNeedsReason'); err.classList.remove('hidden'); return; }
  try {
    const r = await api('POST', '/api/downgrade', { id: m.id, to: $('downgrade-to').value, reason });
    closeAllDialogs();
    if (r.message) replaceMessage(r.message);
    toast(t('downgraded', r.label));
  } catch (e) {
    // The node's refusal (ERROR 453: not allowed, not this unit's message, …) in its own words.
    err.textContent = e.status === 422 ? t('downgradeRefused', e.message) : e.message;
    err.classList.remove('hidden');
  }
}

function openForwardDialog(m) {
  closeAllDialogs();
  app.forwarding = m;
  $('forward-to').value = '';
  $('forward-note').value = '';
  $('forward-error').classList.add('hidden');
  $('forward-dialog').classList.remove('hidden');
  $('forward-to').focus();
}

async function sendForward() {
  const m = app.forwarding;
  const err = $('forward-error');
  err.classList.add('hidden');
  const to = $('forward-to').value.split(/[\s,，;；]+/).map(a => a.trim()).filter(a => a);
  if (!m || !to.length) { err.textContent = t('forwardNoOne'); err.classList.remove('hidden'); return; }
  try {
    await api('POST', '/api/forward', { id: m.id, to, note: $('forward-note').value });
    closeAllDialogs();
    toast(t('forwarded', to.join(', ')));
  } catch (e) {
    // A refusal (the sender's policy, the node's limits, a label) says why, in the node's words.
    err.textContent = e.message;
    err.classList.remove('hidden');
  }
}

function actionMenu(m) {
  const wrap = el('span', 'actions');
  const usable = MESSAGE_ACTIONS.filter(a => a.applies(m));
  if (!usable.length) return wrap;
  const toggle = button('⋯', () => menu.classList.toggle('hidden'), 'action-toggle');
  toggle.title = t('actions');
  const menu = el('div', 'action-menu hidden');
  for (const a of usable) {
    const item = button(a.label(), () => { menu.classList.add('hidden'); a.run(m); }, 'action-item');
    item.dataset.action = a.id;
    menu.append(item);
  }
  wrap.append(toggle, menu);
  return wrap;
}

function replaceMessage(m) {
  const old = app.shown.get(m.id);
  if (!old) return;
  const fresh = messageElement(m);
  old.replaceWith(fresh);
  app.shown.set(m.id, fresh);
}

// --- panels, dialogs and toasts ----------------------------------------------------------

function closeAllDialogs() {
  for (const id of ['dialog', 'group-dialog', 'remind-dialog', 'burn-dialog', 'forward-dialog', 'downgrade-dialog']) $(id).classList.add('hidden');
}

function openPanel(which) {
  app.panel = which;
  $('side-panel').classList.remove('hidden');
  $('group-panel').classList.toggle('hidden', which !== 'group');
  $('reminders-panel').classList.toggle('hidden', which !== 'reminders');
  if (which === 'group') renderGroupPanel();
  if (which === 'reminders') { $('panel-title').textContent = t('reminders'); loadReminders(); }
}

function closePanel() {
  app.panel = null;
  $('side-panel').classList.add('hidden');
}

function toast(text, kind, sticky) {
  for (const old of $('toasts').children) if (old.querySelector('.toast-text').textContent === text) old.remove();
  const box = el('div', 'toast ' + (kind || ''));
  box.append(el('div', 'toast-text', text));
  box.append(button('×', () => box.remove(), 'toast-close'));
  $('toasts').append(box);
  if (!sticky) setTimeout(() => box.remove(), 5000);
  return box;
}

// --- groups ------------------------------------------------------------------------------

app.groupChosen = new Map();

function openGroupDialog() {
  closeAllDialogs();
  app.groupChosen = new Map();
  $('group-name').value = '';
  $('group-search').value = '';
  $('group-results').replaceChildren();
  $('group-chosen').replaceChildren();
  $('group-form-error').classList.add('hidden');
  $('group-dialog').classList.remove('hidden');
  $('group-name').focus();
}

/// A directory search feeding a result list; `pick` gets the chosen entry.
async function directoryInto(query, list, pick, skip) {
  const r = await api('GET', `/api/directory?q=${encodeURIComponent(query)}`);
  list.replaceChildren();
  for (const e of r.entries) {
    if (e.group || (skip && skip(e))) continue;
    const li = el('li', 'result');
    li.dataset.address = e.address;
    const body = el('div');
    body.append(el('div', 'result-name', e.name), el('div', 'result-sub', `${e.address} · ${t('unitOf', e.unit)}`));
    li.append(el('div', 'avatar', initial(e.name)), body);
    li.addEventListener('click', () => pick(e));
    list.append(li);
  }
}

function renderChosen() {
  const box = $('group-chosen');
  box.replaceChildren();
  for (const e of app.groupChosen.values()) {
    const chip = el('span', 'chip chosen', `${e.name} · ${e.unit}`);
    chip.dataset.address = e.address;
    chip.append(button('×', () => { app.groupChosen.delete(e.address); renderChosen(); }, 'chip-x'));
    box.append(chip);
  }
}

async function createGroup() {
  const name = $('group-name').value.trim();
  const err = $('group-form-error');
  err.classList.add('hidden');
  const address = `${name}@${app.me.address.split('@')[1]}`;
  // The node's answer may come over the socket before the POST's own answer.
  app.pendingOpen = address;
  try {
    await api('POST', '/api/groups', { name, members: [...app.groupChosen.keys()] });
    closeAllDialogs();
    if (app.conversations.has(address) && app.pendingOpen === address) { app.pendingOpen = null; openConversation(address); }
    else toast(t('groupCreated'));
  } catch (e) {
    app.pendingOpen = null;
    err.textContent = e.message;
    err.classList.remove('hidden');
  }
}

function renderGroupPanel() {
  const c = app.conversations.get(app.current);
  if (!c || !c.is_group) { closePanel(); return; }
  $('panel-title').textContent = `${c.name} · ${t('members', (c.members || []).length)}`;
  const admins = new Set(c.admins || []);
  const iAmAdmin = admins.has(app.me.address);
  const list = $('member-list');
  list.replaceChildren();
  for (const a of c.members || []) {
    const li = el('li', 'member');
    li.dataset.address = a;
    const name = (c.member_names && c.member_names[a]) || a;
    const body = el('div', 'member-body');
    const top = el('div', 'member-name', name + (a === app.me.address ? ' ' + t('you2') : ''));
    if (admins.has(a)) top.append(el('span', 'badge admin', t('admin')));
    body.append(top, el('div', 'member-sub', `${a} · ${t('unitOf', a.split('@')[1] || '')}`));
    li.append(el('div', 'avatar', initial(name)), body);
    if (iAmAdmin && a !== app.me.address) {
      const tools = el('div', 'member-tools');
      if (!admins.has(a)) tools.append(button(t('makeAdmin'), () => groupChange('admin', [a]), 'small make-admin'));
      tools.append(button(t('remove'), () => groupChange('remove', [a]), 'small danger remove-member'));
      li.append(tools);
    }
    list.append(li);
  }
  $('admin-tools').classList.toggle('hidden', !iAmAdmin);
}

async function groupChange(op, members) {
  const err = $('group-error');
  err.classList.add('hidden');
  try {
    await api('POST', '/api/groups/change', { group: app.current, op, members });
    toast(t('groupSent'));
  } catch (e) {
    err.textContent = e.message;
    err.classList.remove('hidden');
  }
}

// --- reminders ---------------------------------------------------------------------------

function localInput(ms) {
  const d = new Date(ms);
  const p = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function openRemindDialog() {
  closeAllDialogs();
  const c = app.conversations.get(app.current);
  $('remind-to').textContent = t('remindTo', c ? c.name : app.current);
  $('remind-at').value = localInput(Date.now() + 600000);
  $('remind-text').value = '';
  $('remind-error').classList.add('hidden');
  $('remind-dialog').classList.remove('hidden');
  $('remind-text').focus();
}

async function setReminder() {
  const err = $('remind-error');
  err.classList.add('hidden');
  const due = new Date($('remind-at').value).getTime();
  if (!due || due <= Date.now()) { err.textContent = t('remindNeedsTime'); err.classList.remove('hidden'); return; }
  try {
    const r = await api('POST', '/api/remind', { to: app.current, due_at: due, text: $('remind-text').value });
    if (r.message) addMessage(r.message, false);
    scrollToEnd();
    closeAllDialogs();
    toast(t('reminderSet'));
    loadReminders();
  } catch (e) {
    err.textContent = e.message;
    err.classList.remove('hidden');
  }
}

app.reminders = { sent: [], received: [], now: 0 };
app.fired = new Set(JSON.parse(sessionStorage.getItem('sealpost.fired') || '[]'));

async function loadReminders() {
  try {
    const r = await api('GET', '/api/reminders');
    app.reminders = r;
    app.clockSkew = r.now - Date.now();
  } catch (e) { return; }
  renderReminders();
}

function renderReminders() {
  const now = Date.now() + (app.clockSkew || 0);
  const all = [
    ...app.reminders.received.map(r => ({ ...r, mine: false })),
    ...app.reminders.sent.map(r => ({ ...r, mine: true })),
  ].filter(r => !r.cancelled).sort((a, b) => a.due_at - b.due_at);
  const allDone = r => r.mine ? r.recipients.every(x => x.done) : r.done;
  const lists = { due: $('rem-due'), upcoming: $('rem-upcoming'), done: $('rem-done') };
  for (const l of Object.values(lists)) l.replaceChildren();
  let dueOpen = 0;
  for (const r of all) {
    const where = allDone(r) ? 'done' : r.due_at <= now ? 'due' : 'upcoming';
    if (where === 'due' && !r.mine) dueOpen++;
    const li = el('li', 'rem ' + where);
    li.dataset.id = r.id;
    li.append(el('div', 'rem-when', formatFull(r.due_at)), el('div', 'rem-text', r.text));
    const c = app.conversations.get(r.conversation);
    li.append(el('div', 'hint', r.mine ? t('toWhom', c ? c.name : r.conversation) : t('fromWhom', r.from_name || nameOf(r.from))));
    if (r.mine) {
      const who = el('ul', 'rem-recipients');
      for (const x of r.recipients) {
        const item = el('li', x.done ? 'done' : 'open', `${x.done ? t('doneMark') : t('notDone')} ${x.name || x.address}`);
        item.dataset.address = x.address;
        who.append(item);
      }
      li.append(who);
    } else if (!r.done) {
      li.append(button(t('markDone'), async () => { await api('POST', '/api/reminders/done', { id: r.id }); loadReminders(); }, 'small mark-done'));
    }
    li.addEventListener('click', () => { if (r.conversation) openConversation(r.conversation); });
    lists[where].append(li);
  }
  for (const l of Object.values(lists)) {
    if (!l.children.length) l.append(el('li', 'hint rem-none', '—'));
  }
  $('rem-empty').classList.toggle('hidden', all.length > 0);
  const badge = $('due-count');
  badge.textContent = String(dueOpen);
  badge.classList.toggle('hidden', dueOpen === 0);
}

/// A due notice arrived (from my node, for a reminder I set or received): shown at once,
/// in the page and, in the background, as a notification.
function reminderDue(m) {
  if (app.fired.has(m.id)) return;
  app.fired.add(m.id);
  sessionStorage.setItem('sealpost.fired', JSON.stringify([...app.fired].slice(-200)));
  const o = parseJSON(m.text);
  const box = toast(`${t('reminderDue')}: ${o.text || ''}`, 'due', true);
  box.dataset.id = m.id;
  if (document.visibilityState !== 'visible' && 'Notification' in window && Notification.permission === 'granted') {
    const n = new Notification(t('newReminder'), { body: o.from ? t('reminderDueFrom', nameOf(o.from)) : '', tag: m.id, icon: '/icon.svg' });
    n.addEventListener('click', () => { window.focus(); openConversation(m.conversation); n.close(); });
  }
  loadReminders();
}

// --- contact cards -----------------------------------------------------------------------

async function sendCard(entry) {
  closeAllDialogs();
  try {
    const r = await api('POST', '/api/card', { to: app.current, contact: entry.address });
    if (r.message) addMessage(r.message, false);
    scrollToEnd();
  } catch (e) { showSendError(e.message); }
}

// --- files -------------------------------------------------------------------------------

const PIECE = 1024 * 1024;
app.uploads = new Map();   // upload id -> { file, to, element }

function isImageName(name) { return /\.(png|jpe?g|gif|webp)$/i.test(name || ''); }

/// Hands a file to the daemon in pieces (continuing where it stopped), then asks it to send.
async function sendFileTo(file, to) {
  const item = pendingUpload(file.name, file.size);
  try {
    const u = await api('POST', '/api/uploads', { name: file.name, size: file.size });
    app.uploads.set(u.id, { file, to, element: item });
    item.dataset.upload = u.id;
    await handOver(u.id, file, item);
    await api('POST', '/api/send-file', { to, upload: u.id });
  } catch (e) {
    uploadFailed(item, e.message);
  }
}

async function handOver(id, file, item) {
  let offset = (await api('GET', `/api/uploads/${id}`)).received;
  while (offset < file.size) {
    const piece = file.slice(offset, offset + PIECE);
    const response = await fetch(`/api/uploads/${id}?offset=${offset}`, {
      method: 'PUT', body: piece, credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/octet-stream', 'X-Sealpost-CSRF': app.csrf },
    });
    const data = await response.json().catch(() => ({}));
    if (response.status === 409 && typeof data.received === 'number') { offset = data.received; continue; }
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    offset = data.received;
    setProgress(item, offset, file.size, t('handingOver', Math.floor(offset * 100 / file.size)));
  }
}

function pendingUpload(name, size) {
  const li = el('li', 'msg out kind-file pending');
  const bubble = el('div', 'bubble file');
  const row = el('div', 'file-row');
  const info = el('div', 'file-info');
  info.append(el('div', 'file-name', name), el('div', 'file-size', formatBytes(size)));
  row.append(el('span', 'file-icon', '📎'), info);
  const progress = el('div', 'progress');
  progress.append(el('div', 'bar'), el('div', 'progress-text', t('handingOver', 0)));
  bubble.append(row, progress, el('div', 'file-actions'));
  li.append(bubble);
  li.dataset.row = String(Number.MAX_SAFE_INTEGER);
  $('message-list').append(li);
  scrollToEnd();
  return li;
}

function setProgress(item, done, total, text) {
  const p = item.querySelector('.progress');
  if (!p) return;
  p.classList.remove('hidden');
  p.querySelector('.bar').style.setProperty('--done', `${total ? Math.min(100, done * 100 / total) : 0}%`);
  p.querySelector('.progress-text').textContent = text;
}

function uploadFailed(item, reason) {
  setProgress(item, 0, 1, t('transferFailed', reason));
  item.classList.add('failed');
  const actions = item.querySelector('.file-actions');
  actions.replaceChildren();
  const id = item.dataset.upload;
  const u = id && app.uploads.get(id);
  if (u) {
    actions.append(button(t('retry'), async () => {
      item.classList.remove('failed');
      actions.replaceChildren();
      try { await handOver(id, u.file, item); await api('POST', '/api/send-file', { to: u.to, upload: id }); } catch (e) { uploadFailed(item, e.message); }
    }, 'retry'));
  }
}

function onTransfer(e) {
  if (e.direction === 'up') {
    const u = app.uploads.get(e.id);
    if (!u) return;
    if (e.state === 'running') setProgress(u.element, e.done, e.total, t('progress', e.done, e.total, e.rate, e.eta));
    else if (e.state === 'failed') uploadFailed(u.element, e.reason);
    else if (e.state === 'done') {
      u.element.remove();
      app.uploads.delete(e.id);
      if (e.message && e.message.conversation === app.current) { addMessage(e.message, false); scrollToEnd(); }
    }
    return;
  }
  for (const li of document.querySelectorAll(`li.msg[data-file-id="${e.file_id}"]`)) {
    const bubble = li.querySelector('.bubble');
    if (e.state === 'running') {
      setProgress(li, e.done, e.total, t('progress', e.done, e.total, e.rate, e.eta));
      if (e.rate) li.dataset.rate = e.rate;
    } else if (e.state === 'failed') setProgress(li, 0, 1, t('transferFailed', e.reason));
    else if (e.state === 'done') {
      const rate = Number(li.dataset.rate || 0);
      setProgress(li, e.total, e.total, formatBytes(e.total) + (rate ? ` · ${formatBytes(rate)}/s` : ''));
      li.classList.add('downloaded');
      const o = parseJSON(li._m ? li._m.text : '{}');
      if (isImageName(o.name)) {
        li.querySelector('.progress').classList.add('hidden');
        showInline(e.file_id, bubble, true);
      }
    }
  }
  const waiting = app.downloads.get(e.file_id);
  if (waiting && e.state === 'done') { app.downloads.delete(e.file_id); if (waiting.save) saveFile(e.file_id, waiting.name); }
}

app.downloads = new Map();

async function download(fileId, name) {
  const r = await api('POST', '/api/fetch', { file_id: fileId }).catch(err => { showSendError(err.message); return null; });
  if (!r) return;
  if (r.ready) saveFile(fileId, name);
  else app.downloads.set(fileId, { name, save: true });
}

function saveFile(fileId, name) {
  const a = el('a');
  a.href = `/api/files/${fileId}`;
  a.download = name || 'file';
  document.body.append(a);
  a.click();
  a.remove();
}

/// A picture in the conversation, fetched to this device first, with the viewer's
/// watermark over it (who looks, and when it was shown).
async function showInline(fileId, bubble, ready) {
  if (bubble.querySelector('.inline-image')) return;
  if (!ready) {
    const r = await api('POST', '/api/fetch', { file_id: fileId }).catch(() => null);
    if (!r || !r.ready) { if (r) app.downloads.set(fileId, { save: false }); return; }
  }
  if (bubble.querySelector('.inline-image')) return;
  const frame = el('div', 'inline-image');
  const img = el('img');
  img.src = `/api/files/${fileId}?inline=1`;
  img.alt = '';
  img.draggable = false;
  frame.append(img, watermarkLayer());
  bubble.insertBefore(frame, bubble.querySelector('.file-row'));
  // The viewer code this person's node issues for this view goes into the watermark, so a photo
  // of the screen leads back here (sealpost trace --code). Without one, address and time remain.
  const li = bubble.closest('li');
  const m = li && li._m;
  if (m && !m.outgoing) {
    // One code per picture while the page is open: a bubble drawn again (a receipt, a reload of
    // the list) shows the same view's code instead of asking the node for another (and another
    // audit record).
    app.viewerCodes = app.viewerCodes || new Map();
    const known = app.viewerCodes.get(m.id);
    const code = known || api('POST', '/api/mark', { id: m.id }).then(r => r.viewer_code || null).catch(() => null);
    if (!known) app.viewerCodes.set(m.id, code);
    Promise.resolve(code).then(c => {
      if (!c) { app.viewerCodes.delete(m.id); return; }
      for (const span of frame.querySelectorAll('.wm-code')) span.textContent = ` · ${c}`;
      frame.querySelector('.watermark').dataset.code = c;
    });
  }
}

function watermarkLayer() {
  const layer = el('div', 'watermark small');
  layer.setAttribute('aria-hidden', 'true');
  const line = t('watermarkFor', app.me.address, formatFull(Date.now()));
  for (let i = 0; i < 12; i++) {
    const span = el('span', 'wm-line', line);
    // Room for the viewer code (the trace work) beside the address and time.
    span.append(el('span', 'wm-code', ''));
    layer.append(span);
  }
  layer.dataset.line = line;
  return layer;
}

// --- burn after reading ------------------------------------------------------------------

app.burnImages = [];

function openBurnDialog() {
  closeAllDialogs();
  app.burnImages = [];
  $('burn-text').value = '';
  $('burn-images').value = '';
  $('burn-previews').replaceChildren();
  $('burn-error').classList.add('hidden');
  $('burn-dialog').classList.remove('hidden');
  $('burn-text').focus();
}

function burnError(text) {
  $('burn-error').textContent = text;
  $('burn-error').classList.toggle('hidden', !text);
}

async function addBurnImages(files) {
  burnError('');
  for (const f of files) {
    if (app.burnImages.length >= 6) { burnError(t('burnTooMany')); break; }
    if (f.size > 2 * 1024 * 1024) { burnError(t('burnTooLarge', f.name)); continue; }
    const url = await new Promise((ok, no) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = no; r.readAsDataURL(f); });
    app.burnImages.push({ name: f.name, data: String(url).split(',')[1], url });
  }
  const box = $('burn-previews');
  box.replaceChildren();
  app.burnImages.forEach((img, i) => {
    const p = el('div', 'preview');
    const im = el('img');
    im.src = img.url;
    p.append(im, button('×', () => { app.burnImages.splice(i, 1); addBurnImages([]); }, 'chip-x'));
    box.append(p);
  });
}

async function sendBurn() {
  const text = $('burn-text').value;
  if (!text.trim() && !app.burnImages.length) { burnError(t('burnEmpty')); return; }
  $('burn-send').disabled = true;
  try {
    const r = await api('POST', '/api/burn', { to: app.current, text, images: app.burnImages.map(i => ({ name: i.name, data: i.data })) });
    if (r.message) addMessage(r.message, false);
    app.burnImages = [];
    closeAllDialogs();
    scrollToEnd();
  } catch (e) {
    burnError(e.message);
  } finally {
    $('burn-send').disabled = false;
  }
}

/// Views a burn message once. The node deletes it as it hands it over; a second view is
/// refused by the node and said so here.
async function viewBurn(m, btn, error) {
  btn.disabled = true;
  error.classList.add('hidden');
  try {
    const v = await api('POST', '/api/burn/view', { id: m.id });
    openViewer(m, v);
  } catch (e) {
    error.textContent = e.status === 410 ? t('burnGone') : e.message;
    error.classList.remove('hidden');
  } finally {
    btn.disabled = false;
  }
}

app.viewing = null;

function openViewer(m, v) {
  app.viewing = { id: m.id, captured: false };
  $('viewer-sub').textContent = `${t('fromWhom', v.from_name || nameOf(v.from))} · ${formatFull(v.sent_at)}`;
  const content = $('viewer-content');
  content.replaceChildren();
  if (v.text) content.append(el('div', 'viewer-text', v.text));
  for (const img of v.images || []) {
    if (!img.src) continue;
    const im = el('img', 'viewer-image');
    im.src = img.src;   // the picture with the watermark written into it (an SVG from the daemon)
    im.alt = img.name;
    im.draggable = false;
    content.append(im);
  }
  const line = t('watermarkFor', v.viewer, formatFull(v.viewed_at));
  const wm = $('viewer-watermark');
  wm.replaceChildren();
  for (let i = 0; i < 40; i++) {
    const span = el('span', 'wm-line', line);
    span.append(el('span', 'wm-code', v.viewer_code ? ` · ${v.viewer_code}` : ''));
    wm.append(span);
  }
  $('viewer-line').textContent = v.watermark;
  $('viewer-captured').classList.add('hidden');
  $('burn-viewer').classList.remove('hidden');
  veil(document.visibilityState !== 'visible' || !document.hasFocus());
}

function closeViewer() {
  $('viewer-content').replaceChildren();   // nothing of it stays in the page
  $('viewer-watermark').replaceChildren();
  $('burn-viewer').classList.add('hidden');
  app.viewing = null;
}

function veil(on) {
  if (!app.viewing) return;
  $('viewer-veil').classList.toggle('hidden', !on);
  $('viewer-content').classList.toggle('veiled', on);
}

/// The keys that take a picture of the screen where the browser sees them: PrintScreen
/// (Windows, Linux), Win+Shift+S (Snipping), Cmd+Shift+3/4/5 (macOS), and printing.
function captureKey(e) {
  if (e.key === 'PrintScreen' || e.code === 'PrintScreen') return 'PrintScreen';
  const k = (e.key || '').toLowerCase();
  if (e.metaKey && e.shiftKey && ['3', '4', '5', '#', '$', '%'].includes(k)) return 'Cmd+Shift+' + k;
  if (e.metaKey && e.shiftKey && k === 's') return 'Win+Shift+S';
  if ((e.ctrlKey || e.metaKey) && k === 'p') return 'print';
  return null;
}

async function reportCapture(how) {
  const v = app.viewing;
  if (!v) return;
  veil(true);
  $('viewer-captured').classList.remove('hidden');
  if (v.captured) return;
  v.captured = true;
  try { await api('POST', '/api/burn/capture', { id: v.id, how }); } catch (e) { v.captured = false; }
}

function onCaptureKey(e) {
  if (!app.viewing) return;
  const how = captureKey(e);
  if (!how) return;
  e.preventDefault();
  reportCapture(how);
}

// --- wiring ------------------------------------------------------------------------------

function wireFeatures() {
  $('new-group').addEventListener('click', openGroupDialog);
  $('group-cancel').addEventListener('click', closeAllDialogs);
  $('forward-cancel').addEventListener('click', closeAllDialogs);
  $('forward-form').addEventListener('submit', e => { e.preventDefault(); sendForward(); });
  $('downgrade-cancel').addEventListener('click', closeAllDialogs);
  $('downgrade-form').addEventListener('submit', e => { e.preventDefault(); sendDowngrade(); });
  $('group-form').addEventListener('submit', e => { e.preventDefault(); createGroup(); });
  let groupTimer = null;
  $('group-search').addEventListener('input', () => {
    clearTimeout(groupTimer);
    groupTimer = setTimeout(() => directoryInto($('group-search').value.trim(), $('group-results'), e => {
      app.groupChosen.set(e.address, e);
      renderChosen();
      $('group-search').value = '';
      $('group-results').replaceChildren();
      $('group-search').focus();
    }, e => app.groupChosen.has(e.address)).catch(() => {}), 200);
  });
  $('show-members').addEventListener('click', () => openPanel('group'));
  $('open-reminders').addEventListener('click', () => openPanel('reminders'));
  $('close-panel').addEventListener('click', closePanel);
  let memberTimer = null;
  $('member-search').addEventListener('input', () => {
    clearTimeout(memberTimer);
    memberTimer = setTimeout(() => {
      const c = app.conversations.get(app.current);
      const have = new Set((c && c.members) || []);
      directoryInto($('member-search').value.trim(), $('member-results'), e => {
        groupChange('add', [e.address]);
        $('member-search').value = '';
        $('member-results').replaceChildren();
      }, e => have.has(e.address)).catch(() => {});
    }, 200);
  });
  $('leave-group').addEventListener('click', () => { if (confirm(t('confirmLeave'))) groupChange('leave', []); });

  $('remind').addEventListener('click', openRemindDialog);
  $('remind-cancel').addEventListener('click', closeAllDialogs);
  $('remind-form').addEventListener('submit', e => { e.preventDefault(); setReminder(); });
  for (const chip of document.querySelectorAll('#remind-dialog .chip')) {
    chip.addEventListener('click', () => {
      let at;
      if (chip.dataset.in) at = Date.now() + Number(chip.dataset.in) * 1000;
      else { const d = new Date(); d.setDate(d.getDate() + 1); d.setHours(Number(chip.dataset.tomorrow), 0, 0, 0); at = d.getTime(); }
      $('remind-at').value = localInput(at);
    });
  }

  $('send-card').addEventListener('click', () => openDialog('card'));

  $('attach').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', () => {
    for (const f of $('file-input').files) sendFileTo(f, app.current);
    $('file-input').value = '';
  });
  const conv = $('conversation');
  let depth = 0;
  conv.addEventListener('dragenter', e => { if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) { depth++; $('drop-zone').classList.remove('hidden'); e.preventDefault(); } });
  conv.addEventListener('dragover', e => { if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) e.preventDefault(); });
  conv.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) $('drop-zone').classList.add('hidden'); });
  conv.addEventListener('drop', e => {
    e.preventDefault();
    depth = 0;
    $('drop-zone').classList.add('hidden');
    for (const f of (e.dataTransfer && e.dataTransfer.files) || []) sendFileTo(f, app.current);
  });

  $('burn').addEventListener('click', openBurnDialog);
  $('burn-cancel').addEventListener('click', closeAllDialogs);
  $('burn-form').addEventListener('submit', e => { e.preventDefault(); sendBurn(); });
  $('burn-images').addEventListener('change', () => { addBurnImages([...$('burn-images').files]); $('burn-images').value = ''; });
  $('viewer-close').addEventListener('click', closeViewer);
  window.addEventListener('blur', () => veil(true));
  window.addEventListener('focus', () => veil(document.visibilityState !== 'visible'));
  document.addEventListener('visibilitychange', () => veil(document.visibilityState !== 'visible'));
  document.addEventListener('keydown', onCaptureKey, true);
  document.addEventListener('keyup', onCaptureKey, true);
  window.addEventListener('beforeprint', () => reportCapture('print'));
  $('burn-viewer').addEventListener('contextmenu', e => e.preventDefault());
  $('burn-viewer').addEventListener('copy', e => e.preventDefault());

  loadReminders();
  setInterval(renderReminders, 15000);
}

document.addEventListener('DOMContentLoaded', boot);
