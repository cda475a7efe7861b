/* app.js: the console's page. Hash routes: #/runs?env=&pipeline=&status= (the run list),
 * #/runs/<run> (one run: the DAG, live), #/configs and #/configs/<id>?v=&from=&to= (stored
 * configurations and their diffs). It reads the JSON API beside it (api/...), never writes.
 * Invariant: data is only ever rendered as text (createTextNode / textContent) or as the value of a
 * fixed attribute (setAttribute); no string is parsed as HTML anywhere in this file, so pipeline
 * names, messages and reasons, all user input, cannot become markup. Live status is short polling
 * (every 2 s while a run is not finished): fetch() can send the bearer token, EventSource cannot. */
'use strict';
(function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'rejected']);
  const STATUSES = ['submitted', 'prepared', 'validated', 'running', 'succeeded', 'failed', 'cancelled', 'rejected'];
  const TOKEN_KEY = 'acms-console-token';
  const main = document.getElementById('main');
  const live = document.getElementById('live');
  const state = { timer: null, gen: 0, selected: null, data: null };

  /* --- DOM building: text only ------------------------------------------------------------- */
  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
  }
  function add(e, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === undefined || k === null || k === false) continue;
      e.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    return add(e, kids);
  }
  function sv(tag, attrs, ...kids) {
    const e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    return add(e, kids);
  }
  function mount(...nodes) { main.replaceChildren(...nodes.flat(Infinity).filter(Boolean)); }
  function badge(s) { return el('span', { class: 'badge ' + String(s || 'pending').replace(/[^a-z-]/g, ''), text: s || 'pending' }); }
  function link(href, text, attrs) { return el('a', Object.assign({ href: href, text: text }, attrs || {})); }
  function table(id, heads, rows) {
    return el('table', { id: id },
      el('thead', null, el('tr', null, heads.map((h) => el('th', { class: /^#|MiB|s\)$|%/.test(h) ? 'num' : null, text: h })))),
      el('tbody', null, rows));
  }
  function td(v, cls) { return el('td', { class: cls }, v); }
  function num(v, digits) {
    const n = typeof v === 'string' && v !== '' ? Number(v) : v;
    return typeof n === 'number' && isFinite(n) ? n.toFixed(digits || 0) : '';
  }
  function mib(kb) { return Number(kb) > 0 ? (Number(kb) / 1024).toFixed(1) : ''; }
  function when(ms) {
    if (!ms) return '';
    const d = new Date(Number(ms)), p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  function limit(v) { return Number(v) > 0 ? num(v) : 'none'; }
  function pos(v, digits) { return Number(v) > 0 ? num(v, digits) : ''; }
  function secs(a, b) { return a && b && b >= a ? ((b - a) / 1000).toFixed(1) + ' s' : ''; }
  function fact(label, value) { return value === '' || value === undefined || value === null ? null : el('span', null, el('b', { text: label }), value); }

  /* --- the API --------------------------------------------------------------------------------- */
  async function api(path) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    const r = await fetch('api/' + path, { headers: headers, cache: 'no-store' });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) { const err = new Error('token required'); err.auth = true; throw err; }
    if (!r.ok) throw new Error((body && body.error && body.error.message) || ('HTTP ' + r.status));
    return body;
  }

  function askToken() {
    const input = el('input', { type: 'password', id: 'token-input', autocomplete: 'off', placeholder: 'ACMS_CONSOLE_TOKEN' });
    const form = el('form', { id: 'token-form', class: 'panel token' },
      el('h2', { text: 'This console asks for a token' }),
      el('p', { class: 'muted', text: 'Give the bearer token the console was started with (ACMS_CONSOLE_TOKEN). It is kept in this tab only.' }),
      input, el('button', { type: 'submit', text: 'Use token' }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value);
      route();
    });
    mount(form);
    input.focus();
  }

  function showError(e) { mount(el('p', { class: 'error', id: 'error', text: String((e && e.message) || e) })); }

  async function guarded(gen, fn) {
    try { await fn(); } catch (e) {
      if (gen !== state.gen) return;
      if (e && e.auth) askToken(); else showError(e);
    }
  }

  /* --- the run list ------------------------------------------------------------------------------- */
  function runRow(r) {
    const id = r.run_id || '';
    return el('tr', { 'data-run': id },
      td(link('#/runs/' + encodeURIComponent(id), id.slice(0, 8), { title: id, class: 'mono run-link' })),
      td(link('#/runs?pipeline=' + encodeURIComponent(r.pipeline || ''), r.pipeline || '', { class: 'pipeline' })),
      td(link('#/runs?env=' + encodeURIComponent(r.environment || ''), r.environment || '')),
      td(badge(r.status)),
      td(r.steps_total ? (r.steps_done || 0) + '/' + r.steps_total : '', 'num'),
      td(when(r.submitted_ms)),
      td(secs(r.submitted_ms, r.finished_ms), 'num'),
      td(r.config_ref ? link('#/configs/' + encodeURIComponent(r.config_ref.split('@')[0]), r.config_ref) : ''),
      td(r.reason || '', 'reason'));
  }

  function filters(params) {
    const field = (name, label) => el('label', null, label,
      el('input', { name: name, value: params.get(name) || '', size: 16 }));
    const status = el('select', { name: 'status' }, el('option', { value: '', text: 'any' }),
      STATUSES.map((s) => el('option', { value: s, text: s, selected: params.get('status') === s })));
    const form = el('form', { class: 'filters', id: 'filters' }, field('env', 'environment'),
      field('pipeline', 'pipeline'), el('label', null, 'status', status),
      el('button', { type: 'submit', text: 'Filter' }), link('#/runs', 'clear'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
      location.hash = '#/runs' + (q.toString() ? '?' + q : '');
    });
    return form;
  }

  function showRuns(params, gen) {
    const q = new URLSearchParams();
    for (const k of ['env', 'pipeline', 'status']) if (params.get(k)) q.set(k, params.get(k));
    const tbody = el('tbody');
    const more = el('p');
    let extra = false;
    const tbl = el('table', { id: 'runs' }, el('thead', null, el('tr', null,
      ['run', 'pipeline', 'environment', 'status', 'steps', 'submitted', 'duration', 'config', 'reason'].map((h) => el('th', { text: h })))), tbody);
    mount(el('h1', { text: 'Runs' }), filters(params), tbl, more);
    async function page(cursor, replace) {
      const qq = new URLSearchParams(q);
      qq.set('limit', '50');
      if (cursor) { qq.set('before_ms', cursor.before_ms); qq.set('skip', cursor.skip); }
      const d = await api('runs?' + qq);
      if (gen !== state.gen) return;
      const rows = d.runs.map(runRow);
      if (replace) tbody.replaceChildren(...rows); else add(tbody, rows);
      if (!tbody.children.length) tbody.appendChild(el('tr', null, el('td', { colspan: 9, class: 'muted', text: 'No run matches.' })));
      more.replaceChildren();
      if (d.next) {
        more.appendChild(el('button', { class: 'plain', id: 'more', text: 'Older runs',
          onclick: () => { extra = true; guarded(gen, () => page(d.next, false)); } }));
      }
      live.textContent = 'updated ' + new Date().toLocaleTimeString();
    }
    const tick = () => guarded(gen, async () => {
      if (!extra) await page(null, true);
      if (gen === state.gen) state.timer = setTimeout(tick, 5000);
    });
    tick();
  }

  /* --- the DAG -------------------------------------------------------------------------------------- */
  const NODE_W = 160, NODE_H = 46, GAP_X = 44, GAP_Y = 14, PAD = 12;

  /* Columns by layer; inside a layer, steps ordered by the mean row of their dependencies. */
  function layout(nodes) {
    const cols = [];
    nodes.forEach((n, i) => { (cols[n.layer || 0] = cols[n.layer || 0] || []).push({ n: n, doc: i }); });
    const row = new Map();
    cols.forEach((col) => {
      col.forEach((c) => {
        const deps = (c.n.depends_on || []).filter((d) => row.has(d)).map((d) => row.get(d));
        c.key = deps.length ? deps.reduce((a, b) => a + b, 0) / deps.length : c.doc;
      });
      col.sort((a, b) => a.key - b.key || a.doc - b.doc);
      col.forEach((c, i) => row.set(c.n.name, i));
    });
    const tallest = Math.max(1, ...cols.map((c) => (c ? c.length : 0)));
    const pos = new Map();
    cols.forEach((col, x) => (col || []).forEach((c, y) => {
      const off = (tallest - col.length) * (NODE_H + GAP_Y) / 2;
      pos.set(c.n.name, { x: PAD + x * (NODE_W + GAP_X), y: PAD + off + y * (NODE_H + GAP_Y) });
    }));
    return { pos: pos, width: PAD * 2 + cols.length * (NODE_W + GAP_X) - GAP_X, height: PAD * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y };
  }

  function clip(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + '…' : s; }

  function dagNode(n, st, at) {
    const status = (st && st.status) || 'pending';
    const sub = status + (st && st.attempt > 1 ? ' · attempt ' + st.attempt : '') +
      (st && st.peak_rss_kb >= 1024 ? ' · ' + mib(st.peak_rss_kb) + ' MiB' : '');
    const g = sv('g', { class: 'node ' + status.replace(/[^a-z-]/g, '') + (state.selected === n.name ? ' selected' : ''),
      'data-step': n.name, 'data-status': status, transform: 'translate(' + at.x + ',' + at.y + ')' },
    sv('title', { text: n.name + ': ' + status }),
    sv('rect', { width: NODE_W, height: NODE_H, rx: 6, ry: 6 }),
    sv('text', { x: 10, y: 19, text: clip(n.name, 22) }),
    sv('text', { x: 10, y: 36, class: 'sub', text: clip(sub, 28) }));
    g.addEventListener('click', () => { state.selected = n.name; renderRun(); });
    return g;
  }

  function dag(graph, steps) {
    const nodes = graph.nodes || [];
    const byName = new Map(steps.map((s) => [s.name, s]));
    const lay = layout(nodes);
    const svg = sv('svg', { class: 'dag', id: 'dag', width: lay.width, height: lay.height, viewBox: '0 0 ' + lay.width + ' ' + lay.height });
    for (const n of nodes) {
      const to = lay.pos.get(n.name);
      for (const d of n.depends_on || []) {
        const from = lay.pos.get(d);
        if (!from || !to) continue;
        const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = to.x, y2 = to.y + NODE_H / 2, mx = (x1 + x2) / 2;
        svg.appendChild(sv('path', { class: 'edge', d: 'M' + x1 + ',' + y1 + ' C' + mx + ',' + y1 + ' ' + mx + ',' + y2 + ' ' + x2 + ',' + y2 }));
      }
    }
    for (const n of nodes) svg.appendChild(dagNode(n, byName.get(n.name), lay.pos.get(n.name)));
    const legend = el('div', { class: 'legend' }, ['succeeded', 'failed', 'running', 'retrying', 'skipped', 'pending'].map((s) => badge(s)));
    return [el('div', { class: 'dag-wrap' }, svg), legend];
  }

  /* --- a step ----------------------------------------------------------------------------------------- */
  function attemptsTable(st) {
    const rows = (st.attempts || []).map((a) => el('tr', null,
      td(a.attempt, 'num'), td(el('span', { class: 'badge ' + (a.reason === 'OK' ? 'succeeded' : 'failed'), text: a.reason || '?' })),
      td(a.cause || '', 'reason'), td(a.recovery || '', 'reason'),
      td(a.term_signal ? 'signal ' + a.term_signal : String(a.exit_code ?? ''), 'num'),
      td(mib(a.peak_rss_kb), 'num'), td(limit(a.memory_mb), 'num'), td(num((a.wall_ms || 0) / 1000, 2), 'num'), td(limit(a.max_runtime_s), 'num')));
    return el('div', { class: 'scroll' }, table('attempts', ['#', 'outcome', 'cause', 'recovery', 'exit', 'peak MiB', 'limit MiB', 'wall s', 'limit s'], rows));
  }

  function learnedTable(st, node, rec) {
    const r = rec || {};
    const row = (what, ran, used, learned) => el('tr', null, td(what), td(ran, 'num'), td(used, 'num'), td(learned, 'num'));
    return el('div', { id: 'learned' },
      table('learned-table', ['', 'ran with', 'used', 'learned now'], [
        row('memory (MiB)', limit(st.memory_mb), mib(st.peak_rss_kb), pos(r.memory_mb)),
        row('runtime (s)', limit(st.max_runtime_s), num((st.wall_ms || 0) / 1000, 1), pos(r.runtime_s)),
        row('instance type', st.instance_type || (node && node.instance_type) || '', '', r.instance_type || '')]),
      rec ? el('p', { class: 'reason' }, 'Learned from ', String(r.based_on_runs ?? '?'), ' run(s), mode ', r.mode || 'apply', ': ', r.reason || '')
        : el('p', { class: 'muted', text: 'Nothing learned for this step yet.' }));
  }

  function stepPanel(data) {
    const steps = data.run.steps || [];
    const nodes = (data.graph && data.graph.nodes) || [];
    const name = state.selected;
    const st = steps.find((s) => s.name === name) || { name: name };
    const node = nodes.find((n) => n.name === name);
    if (!name) return el('div', { class: 'panel', id: 'step' }, el('p', { class: 'muted', text: 'Select a step in the graph.' }));
    const tail = (st.attempts || []).map((a) => a.stderr_tail).filter(Boolean).pop();
    return el('div', { class: 'panel', id: 'step' },
      el('h2', null, 'Step ', el('span', { class: 'mono', id: 'step-name', text: name }), ' ', badge(st.status)),
      el('div', { class: 'facts' }, fact('type', node && node.type), fact('attempts', st.attempt),
        fact('exit', st.exit_reason), fact('started', when(st.started_ms)), fact('wall', num((st.wall_ms || 0) / 1000, 2) + ' s'),
        fact('depends on', node && node.depends_on ? node.depends_on.join(', ') : '')),
      st.message ? el('p', { class: 'reason', text: st.message }) : null,
      el('h3', { text: 'Limits, peak and what was learned' }), learnedTable(st, node, (data.recommendations || {})[name]),
      el('h3', { text: 'Attempts' }), attemptsTable(st),
      tail ? [el('h3', { text: 'Last output (stderr)' }), el('pre', { text: tail })] : null,
      node && node.command ? [el('h3', { text: 'Command' }), el('pre', { text: node.command.join(' ') })] : null,
      node && node.env ? [el('h3', { text: 'Environment' }), el('pre', { text: node.env.map((e) => e.name + '=' + (e.value || '')).join('\n') })] : null);
  }

  function stepsTable(data) {
    const recs = data.recommendations || {};
    const rows = (data.run.steps || []).map((s) => {
      const tr = el('tr', { class: state.selected === s.name ? 'selected' : null, 'data-step': s.name },
        td(link('#/runs/' + encodeURIComponent(data.run.run_id), s.name, { class: 'mono' })), td(badge(s.status)),
        td(s.attempt || '', 'num'), td(num((s.wall_ms || 0) / 1000, 2), 'num'), td(mib(s.peak_rss_kb), 'num'),
        td(limit(s.memory_mb), 'num'), td(pos((recs[s.name] || {}).memory_mb), 'num'), td(s.exit_reason || ''));
      tr.addEventListener('click', (ev) => { ev.preventDefault(); state.selected = s.name; renderRun(); });
      return tr;
    });
    return table('steps', ['step', 'status', 'attempts', 'wall s', 'peak MiB', 'limit MiB', 'learned MiB', 'exit'], rows);
  }

  /* --- adaptations, validation, alerts --------------------------------------------------------- */
  function adaptations(list) {
    if (!list.length) return el('p', { class: 'muted', text: 'No adaptation recorded.' });
    const groups = new Map();
    for (const a of list) {
      const k = a.stage || 'other';
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(a);
    }
    const row = (a) => el('tr', null,
      td((a.step ? a.step + '.' : '') + (a.field || ''), 'mono'),
      td([a.old_value || '""', ' → ', a.new_value || '""'], 'mono'),
      td(a.reason || '', 'reason adaptation-reason'),
      td(num(a.safety_score, 2), 'num'),
      td(a.applied ? 'yes' : el('span', { class: 'notapplied', text: 'not applied' })));
    return [...groups].map(([stage, recs]) => el('section', { class: 'stage', 'data-stage': stage },
      el('h3', { text: stage + ' (' + recs.length + ')' }),
      table(null, ['target', 'change', 'reason', 'safety', 'applied'], recs.map(row))));
  }

  function issueList(res) {
    const issues = [].concat(res.issues || [], res.warnings || []);
    if (!issues.length) return el('p', { class: 'muted', text: 'No issue.' });
    return el('ul', { class: 'issues' }, issues.map((i) => el('li', { class: 'issue' },
      badge(i.severity || 'error'), ' ', el('code', { text: i.code || '' }), ' ',
      el('span', { class: 'mono muted', text: (i.path || '(document)') + (i.line ? ' (line ' + i.line + (i.column ? ', column ' + i.column : '') + ')' : '') }),
      el('div', { class: 'message', text: i.message || '' }),
      (i.suggestions || []).length ? el('ol', { class: 'suggestions' }, i.suggestions.map((s) => el('li', null,
        s.text || '', s.confidence ? ' (' + Math.round(s.confidence * 100) + '%' + (s.source ? ', ' + s.source : '') + ')' : '',
        s.patch_path ? el('div', { class: 'mono muted', text: s.patch_path + ' = ' + (s.patch_value || '') }) : null))) : null)));
  }

  function validation(v, findings) {
    const out = [];
    if (v && typeof v === 'object') {
      out.push(el('div', { class: 'facts', id: 'verdict' }, badge(v.valid ? 'valid' : 'invalid'),
        fact('phase', v.phase || ''), fact('confidence', v.confidence_score !== undefined ? num(v.confidence_score * 100) + '%' : '')));
      out.push(issueList(v));
    } else {
      out.push(el('p', { class: 'muted', text: 'No verdict recorded for this run.' }));
    }
    for (const f of findings) {
      out.push(el('h3', { text: 'At run time, step ' + (f.step || '?') + ' (' + when(f.meta && f.meta.timestamp_ms) + ')' }));
      out.push(issueList(f.result || {}));
    }
    return out;
  }

  function alerts(list) {
    if (!list.length) return el('p', { class: 'muted', text: 'No alert.' });
    return table('alerts', ['time', 'severity', 'alert', 'step', 'summary', 'observed', 'expected'], list.map((a) => el('tr', null,
      td(when(a.starts_at_ms)), td(badge(a.severity)), td(a.name || '', 'mono'), td(a.step || '', 'mono'),
      td([a.summary || '', a.description ? el('div', { class: 'muted', text: a.description }) : null]),
      td(num(a.observed, 1), 'num'), td(num(a.expected, 1), 'num'))));
  }

  /* --- one run -------------------------------------------------------------------------------------- */
  function runHeader(run, data) {
    const fb = data.feedback || {}, mon = data.monitor || {};
    return [
      el('p', null, link('#/runs', '← runs')),
      el('h1', null, el('span', { id: 'run-pipeline', text: run.pipeline || '?' }), ' ', badge(run.status)),
      el('div', { class: 'facts' }, fact('run', el('span', { class: 'mono', text: run.run_id })),
        fact('environment', link('#/runs?env=' + encodeURIComponent(run.environment || ''), run.environment || '')),
        fact('config', run.config_ref ? link('#/configs/' + encodeURIComponent(run.config_ref.split('@')[0]), run.config_ref) : ''),
        fact('submitted', when(run.submitted_ms)), fact('duration', secs(run.submitted_ms, run.finished_ms)),
        fact('steps', run.steps_total ? (run.steps_done || 0) + '/' + run.steps_total : ''),
        fact('cost', fb.cost_usd ? '$' + Number(fb.cost_usd).toFixed(4) : ''), fact('monitor', mon.summary || mon.status || '')),
      run.reason ? el('p', { class: 'error', id: 'run-reason', text: run.reason }) : null];
  }

  function renderRun() {
    const data = state.data;
    if (!data) return;
    const run = data.run, steps = run.steps || [];
    if (!state.selected || !steps.some((s) => s.name === state.selected)) {
      const bad = steps.find((s) => s.status === 'failed');
      state.selected = bad ? bad.name : (steps[0] && steps[0].name) || null;
    }
    const graph = data.graph && (data.graph.nodes || []).length ? dag(data.graph, steps)
      : el('p', { class: 'muted', text: 'No execution plan yet: the run has not reached the coordinator (' + (run.status || '?') + ').' });
    mount(runHeader(run, data),
      el('div', { class: 'grid2' }, el('div', null, el('h2', { text: 'Graph' }), graph, el('h2', { text: 'Steps' }), stepsTable(data)),
        stepPanel(data)),
      el('h2', { text: 'Adaptations by stage' }), el('div', { id: 'adaptations' }, adaptations(run.adaptations || [])),
      el('h2', { text: 'Validation' }), el('div', { id: 'validation' }, validation(data.validation, data.findings || [])),
      el('h2', { text: 'Monitor alerts' }), el('div', { id: 'alerts-list' }, alerts(data.alerts || [])));
  }

  function showRun(id, gen) {
    state.selected = null;
    state.data = null;
    let after = 0;
    const tick = () => guarded(gen, async () => {
      const d = await api('runs/' + encodeURIComponent(id));
      if (gen !== state.gen) return;
      state.data = d;
      renderRun();
      const done = TERMINAL.has(d.run.status);
      if (done) after++;
      live.textContent = (done ? 'finished · ' : 'live · ') + 'updated ' + new Date().toLocaleTimeString();
      /* alerts and feedback still arrive for a few seconds after the end */
      if (!done || after < 4) state.timer = setTimeout(tick, done ? 3000 : 2000);
    });
    tick();
  }

  /* --- configurations --------------------------------------------------------------------------------- */
  function showConfigs(gen) {
    return guarded(gen, async () => {
      const d = await api('configs');
      if (gen !== state.gen) return;
      mount(el('h1', { text: 'Stored configurations' }),
        d.configs.length ? table('configs', ['id', 'latest', 'hash', 'stored'], d.configs.map((c) => el('tr', null,
          td(link('#/configs/' + encodeURIComponent(c.id), c.id, { class: 'mono' })), td(c.version, 'num'),
          td(String(c.hash || '').slice(0, 12), 'mono'), td(when(c.created_ms)))))
          : el('p', { class: 'muted', text: 'No stored configuration (acmsctl config put FILE).' }));
    });
  }

  function diffPre(text) {
    return el('pre', { class: 'diff', id: 'diff' }, text.split('\n').map((l) =>
      el('span', { class: l.startsWith('@@') ? 'hunk' : l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : null, text: l + '\n' })));
  }

  function showConfig(id, params, gen) {
    return guarded(gen, async () => {
      const vs = await api('configs/' + encodeURIComponent(id));
      const versions = vs.versions || [];
      const latest = versions.length ? versions[versions.length - 1].version : 1;
      const v = Number(params.get('v')) || latest;
      const to = Number(params.get('to')) || latest, from = Number(params.get('from')) || Math.max(1, to - 1);
      const [doc, diff] = await Promise.all([api('configs/' + encodeURIComponent(id) + '/versions/' + v),
        versions.length > 1 ? api('configs/' + encodeURIComponent(id) + '/diff?from=' + from + '&to=' + to) : null]);
      if (gen !== state.gen) return;
      const base = '#/configs/' + encodeURIComponent(id);
      const pick = (name, cur) => el('select', { name: name }, versions.map((x) => el('option', { value: x.version, text: id + '@' + x.version, selected: x.version === cur })));
      const form = el('form', { class: 'filters' }, el('label', null, 'from', pick('from', from)), el('label', null, 'to', pick('to', to)),
        el('button', { type: 'submit', text: 'Diff' }));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const f = new FormData(form);
        location.hash = base + '?v=' + v + '&from=' + encodeURIComponent(f.get('from')) + '&to=' + encodeURIComponent(f.get('to'));
      });
      mount(el('p', null, link('#/configs', '← configurations')), el('h1', { class: 'mono', text: id }),
        table('versions', ['version', 'hash', 'stored', ''], versions.map((x) => el('tr', { class: x.version === v ? 'selected' : null },
          td(x.version, 'num'), td(String(x.hash || '').slice(0, 16), 'mono'), td(when(x.created_ms)),
          td(link(base + '?v=' + x.version + '&from=' + from + '&to=' + to, 'show'))))),
        diff ? [el('h2', { text: 'Diff ' + diff.from + ' → ' + diff.to + ' (' + diff.changed_lines + ' changed lines)' }), form,
          diff.identical ? el('p', { class: 'muted', text: 'Identical.' }) : diffPre(diff.diff)] : null,
        el('h2', { text: doc.ref + ' (sha256 ' + String(doc.hash).slice(0, 12) + '…)' }),
        doc.masked_values ? el('p', { class: 'muted', text: doc.masked_values + ' plain-text credential(s) masked.' }) : null,
        el('pre', { id: 'document', text: doc.document }));
    });
  }

  /* --- routing ------------------------------------------------------------------------------------------ */
  function route() {
    clearTimeout(state.timer);
    const gen = ++state.gen;
    live.textContent = '';
    const h = location.hash || '#/runs';
    const qi = h.indexOf('?');
    const path = h.slice(1, qi < 0 ? undefined : qi);
    const params = new URLSearchParams(qi < 0 ? '' : h.slice(qi + 1));
    let parts;
    try { parts = path.split('/').filter(Boolean).map(decodeURIComponent); } catch (e) { parts = []; }
    document.getElementById('nav-runs').classList.toggle('active', parts[0] !== 'configs');
    document.getElementById('nav-configs').classList.toggle('active', parts[0] === 'configs');
    if (parts[0] === 'runs' && parts[1]) return showRun(parts[1], gen);
    if (parts[0] === 'configs' && parts[1]) return showConfig(parts[1], params, gen);
    if (parts[0] === 'configs') return showConfigs(gen);
    return showRuns(params, gen);
  }

  window.addEventListener('hashchange', route);
  route();
})();
