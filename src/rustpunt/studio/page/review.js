/* rustpunt review page: renders the sessions embedded in #review-data; no library, no network.
   In the studio (LIVE), it also listens to /events and reloads a rebuilt session where it changed. */
(function () {
  'use strict';
  const started = performance.now();
  const data = JSON.parse(document.getElementById('review-data').textContent);
  const list = document.getElementById('sessions');
  const filter = document.getElementById('filter');
  const onlyFailed = document.getElementById('only-failed');
  const onlyRebuilt = document.getElementById('only-rebuilt');
  const count = document.getElementById('count');
  const sessions = new Map(); // key -> {data, card, audio, cueIndex, chapterIndex}
  let current = null;

  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => (
    { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const clock = (ms) => {
    const s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(r).padStart(2, '0');
  };
  const size = (b) => b >= 1048576 ? (b / 1048576).toFixed(1) + ' MB' : Math.round(b / 1024) + ' kB';
  const db = (v, unit) => v == null ? 'not measured' : v.toFixed(1) + ' ' + unit;
  const pct = (ms, total) => (100 * ms / total).toFixed(3) + '%';

  function timeline(s, id) {
    const total = s.duration_ms || 1;
    let html = '';
    for (const [kind, start, end, label, reason, step] of s.spans) {
      const style = 'left:' + pct(start, total) + ';width:' + pct(end - start, total);
      if (kind === 'speech' || kind === 'part') {
        html += '<div class="seg ' + kind + '" style="' + style + '" data-at="' + start + '" title="' + esc(label) + '"></div>';
      } else if (kind === 'breath') {
        html += '<div class="seg breath" style="' + style + '" title="' + esc(label) + '"></div>';
      } else {
        const what = (kind === 'pause' ? 'Pause ' : 'Inline pause ') + label + (step ? ' in step ' + step : '');
        html += '<button type="button" class="seg ' + kind + '" style="' + style + '" data-at="' + start +
          '" aria-label="' + esc(what + '. ' + reason) + '">' + (kind === 'pause' ? esc(label) : '') +
          '<span class="tip" role="tooltip">' + esc(what) + '<br>' + esc(reason) + '</span></button>';
      }
    }
    for (const [kind, at, label] of s.marks) {
      html += '<div class="mark ' + kind + '" style="left:' + pct(at, total) + '" title="' + esc(label) +
        '"><span aria-hidden="true">' + (kind === 'bell' ? '◆' : '•') + '</span></div>';
    }
    if (s.bed) html += '<div class="bed" title="bed: ' + esc(s.bed) + '"></div>';
    return '<div class="timeline" id="' + id + '-tl" role="group" aria-label="Timeline of ' + esc(s.title) +
      ' (click to play from there)">' + html + '<div class="head-line"></div></div>';
  }

  function legend(s) {
    const kinds = new Set(s.spans.map((x) => x[0]));
    let html = '<i style="background:var(--speech)"></i>speech <i style="background:var(--pause);border:1px solid #9fb3a8"></i>pause (length; hover or focus for the rule)';
    if (kinds.has('inline')) html += ' <i style="background:var(--inline)"></i>inline pause';
    if (kinds.has('breath')) html += ' <i style="background:#7d5ba6"></i>breathing tones';
    if (s.marks.some((m) => m[0] === 'bell')) html += ' <span style="color:#8a4a12">◆</span> bell';
    if (s.marks.some((m) => m[0] === 'chime')) html += ' <span style="color:#8a4a12">•</span> chime';
    if (s.bed) html += ' bed: ' + esc(s.bed);
    return '<div class="legend" aria-hidden="true">' + html + '</div>';
  }

  function body(s, id) {
    const fallback = s.fallback && s.voice_used !== s.voice_requested;
    let badges = '';
    if (s.kind === 'episode') badges += '<span class="badge kind">episode</span>';
    if (s.status === 'failed') badges += '<span class="badge failed">failed</span>';
    if (s.rebuilt) badges += '<span class="badge rebuilt">rebuilt by the last build</span>';
    if (fallback) badges += '<span class="badge fallback" title="' + esc(s.fallback) + '">fallback voice</span>';
    let html = '<div class="head"><h2 id="' + id + '-h">' + esc(s.title) + '</h2>' + badges +
      '<span class="script">' + esc(s.script) + '</span></div>';
    html += '<div class="error" role="alert"' + (s.error ? '' : ' hidden') + '>' + esc(s.error) + '</div>';
    if (!s.src) return html;
    html += '<dl class="facts">' +
      '<div class="voice' + (fallback ? ' fallback' : '') + '"><dt>voice</dt><dd>' +
      (fallback ? esc(s.voice_used) + ' (asked for ' + esc(s.voice_requested) + ')' : esc(s.voice_used)) + '</dd></div>' +
      '<div><dt>duration</dt><dd>' + clock(s.duration_ms) + '</dd></div>' +
      '<div><dt>size</dt><dd>' + size(s.bytes) + '</dd></div>' +
      '<div><dt>loudness</dt><dd>' + db(s.lufs, 'LUFS') + '</dd></div>' +
      '<div><dt>true peak</dt><dd>' + db(s.true_peak, 'dBTP') + '</dd></div>' +
      '<div><dt>built</dt><dd><time datetime="' + new Date(s.built_at * 1000).toISOString() + '">' +
      new Date(s.built_at * 1000).toLocaleString() + '</time></dd></div></dl>';
    if (fallback) html += '<p class="script">Why the fallback: ' + esc(s.fallback) + '</p>';
    html += timeline(s, id) + legend(s);
    return html + '<div class="cols" data-empty="1"></div>'; // chapters and transcript: filled when near view
  }

  function lists(s, id) {
    let html = '<div><h3 id="' + id + '-ch">Chapters</h3><ol class="chapters" aria-labelledby="' + id + '-ch">' +
      s.chapters.map(([at, title], i) => '<li><button type="button" data-at="' + at + '" data-chapter="' + i + '"><time>' +
        clock(at) + '</time><span>' + esc(title) + '</span></button></li>').join('') + '</ol></div>';
    html += '<div><h3 id="' + id + '-tr">Transcript</h3><div class="transcript" aria-labelledby="' + id + '-tr">' +
      s.cues.map(([at, , text], i) => '<p data-at="' + at + '" data-cue="' + i + '">' + esc(text) + '</p>').join('') +
      '</div></div>';
    return html;
  }

  function fill(entry) { // the chapter list and transcript of a card, made the first time they are needed
    const cols = entry.card.querySelector('.cols[data-empty]');
    if (!cols) return;
    cols.innerHTML = lists(entry.data, entry.card.id);
    cols.removeAttribute('data-empty');
    entry.cueIndex = entry.chapterIndex = -1;
  }
  const near = window.IntersectionObserver ? new IntersectionObserver((seen) => {
    for (const item of seen) {
      if (item.isIntersecting) { const e = entryOf(item.target); if (e) fill(e); near.unobserve(item.target); }
    }
  }, { rootMargin: '1500px 0px' }) : null;

  function card(s, index) {
    const id = 's' + index;
    return '<article class="session" id="' + id + '" data-key="' + esc(s.key) + '" aria-labelledby="' + id + '-h">' +
      '<div class="body">' + body(s, id) + '</div>' +
      (s.src ? '<audio controls preload="none" src="' + esc(s.src) + '" aria-label="Play ' + esc(s.title) + '"></audio>' : '') +
      '</article>';
  }

  function haystack(s) {
    return [s.title, s.script, s.voice_used, s.voice_requested, s.status, s.rebuilt ? 'rebuilt' : '',
      s.fallback ? 'fallback' : '', s.kind, s.error].join(' ').toLowerCase();
  }

  function attach(s, node) {
    const entry = { data: s, card: node, audio: node.querySelector('audio'), cueIndex: -1, chapterIndex: -1, text: haystack(s) };
    // the player sits right under the facts: move it there (kept out of body() so a re-render keeps it)
    if (entry.audio) {
      const tl = node.querySelector('.timeline');
      if (tl) tl.before(entry.audio);
    }
    sessions.set(s.key, entry);
    if (near) near.observe(node); else fill(entry);
    return entry;
  }

  function renderAll() {
    list.innerHTML = data.sessions.map(card).join('');
    let i = 0;
    for (const node of list.children) attach(data.sessions[i++], node);
    document.getElementById('folder').textContent = data.folder;
    applyFilter();
  }

  function applyFilter() {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const entry of sessions.values()) {
      const s = entry.data;
      const ok = words.every((w) => entry.text.includes(w)) &&
        (!onlyFailed.checked || s.status === 'failed') && (!onlyRebuilt.checked || s.rebuilt);
      entry.card.hidden = !ok;
      if (ok) shown++;
    }
    count.textContent = shown + ' of ' + sessions.size + ' shown';
  }

  function entryOf(node) {
    const cardNode = node && node.closest ? node.closest('.session') : null;
    return cardNode ? sessions.get(cardNode.dataset.key) : null;
  }

  function setCurrent(entry) {
    if (current === entry) return;
    if (current) current.card.classList.remove('current');
    current = entry;
    if (entry) entry.card.classList.add('current');
  }

  function seek(entry, ms, play) {
    const audio = entry.audio;
    if (!audio) return;
    setCurrent(entry);
    const t = Math.max(0, ms / 1000);
    if (audio.readyState === 0) { // not loaded yet (preload="none"): seek again once it is
      if (!play && audio.networkState !== HTMLMediaElement.NETWORK_LOADING) audio.load();
      audio.addEventListener('loadedmetadata', () => { audio.currentTime = t; }, { once: true });
    }
    audio.currentTime = t;
    if (play) audio.play().catch(() => {});
    follow(entry);
  }

  function indexAt(items, ms) { // the last item starting at or before ms (binary search)
    let lo = 0, hi = items.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid][0] <= ms) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found;
  }

  function follow(entry) { // highlight the sentence and chapter at the player's time; keep them in view
    const audio = entry.audio;
    if (!audio) return;
    fill(entry);
    const ms = audio.currentTime * 1000;
    const s = entry.data;
    const line = entry.card.querySelector('.head-line');
    if (line) line.style.left = pct(Math.min(ms, s.duration_ms), s.duration_ms || 1);
    let cue = indexAt(s.cues, ms);
    if (cue >= 0 && ms > s.cues[cue][1] + 400 && !(cue + 1 < s.cues.length)) cue = -1;
    if (cue !== entry.cueIndex) {
      const box = entry.card.querySelector('.transcript');
      const old = box.querySelector('p.now');
      if (old) { old.classList.remove('now'); old.removeAttribute('aria-current'); }
      entry.cueIndex = cue;
      if (cue >= 0) {
        const p = box.children[cue];
        p.classList.add('now');
        p.setAttribute('aria-current', 'true');
        if (p.offsetTop < box.scrollTop || p.offsetTop + p.offsetHeight > box.scrollTop + box.clientHeight) {
          box.scrollTop = p.offsetTop - box.clientHeight / 3;
        }
      }
    }
    const chapter = indexAt(s.chapters, ms);
    if (chapter !== entry.chapterIndex) {
      const box = entry.card.querySelector('.chapters');
      const old = box.querySelector('[aria-current]');
      if (old) old.removeAttribute('aria-current');
      entry.chapterIndex = chapter;
      if (chapter >= 0) {
        const b = box.children[chapter].firstChild;
        b.setAttribute('aria-current', 'true');
        const li = b.parentNode;
        if (li.offsetTop < box.scrollTop || li.offsetTop + li.offsetHeight > box.scrollTop + box.clientHeight) {
          box.scrollTop = li.offsetTop - box.offsetTop - box.clientHeight / 3;
        }
      }
    }
  }

  let ticking = null;
  function tick() { // while playing: follow every frame, not only at timeupdate's 4 Hz
    ticking = null;
    if (current && current.audio && !current.audio.paused) {
      follow(current);
      ticking = requestAnimationFrame(tick);
    }
  }

  list.addEventListener('click', (event) => {
    const entry = entryOf(event.target);
    if (!entry) return;
    const target = event.target.closest('[data-at]');
    const tl = event.target.closest('.timeline');
    if (tl && !event.target.closest('button')) {
      const box = tl.getBoundingClientRect();
      seek(entry, (event.clientX - box.left) / box.width * entry.data.duration_ms, true);
    } else if (target && target.closest('.chapters, .transcript, .timeline')) {
      seek(entry, Number(target.dataset.at), true);
    } else {
      setCurrent(entry);
    }
  });
  list.addEventListener('focusin', (event) => { const e = entryOf(event.target); if (e) { fill(e); setCurrent(e); } });
  list.addEventListener('play', (event) => {
    const entry = entryOf(event.target);
    for (const other of sessions.values()) if (other !== entry && other.audio && !other.audio.paused) other.audio.pause();
    setCurrent(entry);
    if (ticking === null) ticking = requestAnimationFrame(tick);
  }, true);
  for (const type of ['timeupdate', 'seeked', 'loadedmetadata']) {
    list.addEventListener(type, (event) => { const e = entryOf(event.target); if (e) follow(e); }, true);
  }

  function moveChapter(entry, step) {
    const chapters = entry.data.chapters;
    if (!chapters.length) return;
    const ms = entry.audio.currentTime * 1000;
    let i = indexAt(chapters, ms + 1);
    if (step < 0 && i >= 0 && ms - chapters[i][0] > 1500) i += 1; // well into a chapter: back to its start
    const next = Math.min(chapters.length - 1, Math.max(0, i + step));
    seek(entry, chapters[next][0], !entry.audio.paused);
  }

  document.addEventListener('keydown', (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const t = event.target;
    if (t.closest && t.closest('input, textarea, select')) return;
    const entry = entryOf(t) || current || [...sessions.values()].find((e) => e.audio && !e.card.hidden);
    if (!entry || !entry.audio) return;
    if (event.key === ' ' || event.key === 'Spacebar') {
      if (t.closest && t.closest('button, a')) return; // a focused button is pressed by Space
      event.preventDefault();
      setCurrent(entry);
      if (entry.audio.paused) entry.audio.play().catch(() => {}); else entry.audio.pause();
    } else if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      event.preventDefault();
      moveChapter(entry, event.key === 'ArrowRight' ? 1 : -1);
    }
  });

  filter.addEventListener('input', applyFilter);
  onlyFailed.addEventListener('change', applyFilter);
  onlyRebuilt.addEventListener('change', applyFilter);

  function update(s) { // new data for one session (studio): everything but its player
    const entry = sessions.get(s.key);
    if (!entry) {
      data.sessions.push(s);
      const holder = document.createElement('div');
      holder.innerHTML = card(s, data.sessions.length - 1);
      const node = holder.firstChild;
      list.appendChild(node);
      attach(s, node);
    } else {
      // data measured for an earlier rebuild may arrive after a later one failed: keep the failure
      const failed = entry.data.status === 'failed' && s.status !== 'failed';
      if (failed) s = Object.assign({}, s, { status: 'failed', error: entry.data.error });
      entry.data = s;
      entry.text = haystack(s);
      entry.cueIndex = entry.chapterIndex = -1;
      entry.card.querySelector('.body').innerHTML = body(s, entry.card.id);
      fill(entry);
      if (entry.audio && entry.card.querySelector('.timeline')) entry.card.querySelector('.timeline').before(entry.audio);
      follow(entry);
    }
    applyFilter();
  }

  function rebuilt(event) { // one /events message: reload the session's audio where it changed
    const key = event.mp3;
    const entry = sessions.get(key);
    if (!entry) return;
    const error = entry.card.querySelector('.error');
    if (event.status === 'failed') {
      error.textContent = event.error;
      error.hidden = false;
      entry.data.status = 'failed';
      entry.data.error = event.error;
      return;
    }
    error.hidden = true;
    error.textContent = '';
    entry.data.status = event.status;
    entry.data.error = null;
    const audio = entry.audio;
    if (!audio) { location.reload(); return; }
    const play = current === entry || !audio.paused;
    const at = event.start_ms == null ? audio.currentTime * 1000 : event.start_ms;
    const note = { key: key, start_ms: event.start_ms, received: Date.now(), playing: null, playing_at_ms: null };
    window.__lastRebuild = note; // for the tests and the benchmark
    audio.addEventListener('playing', () => {
      note.playing = Date.now();
      note.playing_at_ms = audio.currentTime * 1000; // where the new audio started to play
    }, { once: true });
    audio.src = entry.data.src.split('?')[0] + '?v=' + Date.now();
    seek(entry, at, play);
  }

  renderAll();
  window.__review = { renderMs: performance.now() - started, sessions: sessions.size };
  document.documentElement.dataset.rendered = String(window.__review.renderMs);

  if (LIVE && window.EventSource) {
    document.getElementById('live').hidden = false;
    const source = new EventSource('/events');
    source.onmessage = (message) => rebuilt(JSON.parse(message.data));
    source.addEventListener('session', (message) => update(JSON.parse(message.data)));
    source.addEventListener('open', () => { document.documentElement.dataset.live = 'open'; });
  }
})();
