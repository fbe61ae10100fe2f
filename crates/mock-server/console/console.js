// The dispatch console: follows the dispatcher feed (`GET /dispatch/ws`, docs/protocol.md,
// "Dispatcher feed") and acts through the JSON API (docs/mock-server.md). Plain script, no
// framework: the feed keeps a model of drivers, jobs and messages; the tables and the map are
// updated from it in place. Every text from the server or a dispatcher is set with textContent,
// never as HTML.

'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get('token') || '';
  /** A dispatcher's "room": only these drivers (`?drivers=a,b`); every driver when empty. */
  const room = (params.get('drivers') || '').split(',').map((id) => id.trim()).filter(Boolean);

  const TRAIL_FIXES = 50;
  const DEAD_RECKONING_CAP_MS = 30000;
  const BLEND_MS = 1000;
  const EARTH_RADIUS_M = 6371008.8;
  const OPEN_STATUSES = new Set(['offered', 'accepted', 'en_route', 'arrived_at_pickup', 'picked_up', 'arrived_at_dropoff']);
  const STATUS_TEXT = {
    offered: 'offered',
    accepted: 'accepted',
    declined: 'declined',
    expired: 'expired',
    en_route: 'en route',
    arrived_at_pickup: 'at pickup',
    picked_up: 'picked up',
    arrived_at_dropoff: 'at drop-off',
    delivered: 'delivered',
    failed: 'failed',
    cancelled: 'cancelled',
  };
  const PAUSE_TEXT = {
    page_hidden: 'app in background',
    permission_denied: 'location permission denied',
    position_unavailable: 'position unavailable',
    timeout: 'no position in time',
  };

  const byId = (id) => document.getElementById(id);

  /** Sets a node's text only when it differs: the same text set again still repaints. */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  /** An element with `className` and `text` (as text), plus attributes. */
  function element(tag, { className, text, attributes } = {}, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  // ---------------------------------------------------------------------------------------
  // The model, as the feed describes it.

  const model = {
    feedId: null,
    /** The highest feed_seq applied: where a reconnect resumes. */
    feedSeq: 0,
    /** The highest feed_seq of a change that is never coalesced (all but positions). */
    orderedSeq: 0,
    drivers: new Map(),
    jobs: new Map(),
    /** Sent messages by `${driver_id} ${event_id}`, in arrival order. */
    messages: new Map(),
    /** Server clock minus this clock, from the snapshot's time and the deltas' commit times. */
    clockOffset: null,
  };

  /** What changed since the tables and the map were last drawn. */
  const changed = { drivers: new Set(), jobs: new Set(), flash: new Set(), messages: false };
  /** A driver came or went: the forms' list of driver ids is rebuilt. */
  let driverIdsChanged = false;
  let snapshotsApplied = 0;

  /**
   * Latency measurement for benchmarks (bench/console.js), only with `?measure` in the page's
   * address: for every delta applied, commit (`at_ms`, the server's clock) to shown.
   * `received_ms` is taken when its frame arrived; `drawn_ms` at the end of the animation frame
   * that wrote it into the DOM and the map; `latency_ms` at the start of the next animation
   * frame, by when the frame that drew it was laid out, painted and handed to the compositor
   * (the "double requestAnimationFrame" measure). Both clocks are the machine's when the
   * server runs on it. Bounded: the first 200,000 deltas.
   */
  const measure = params.has('measure') ? { pending: [], cap: 200000 } : null;
  if (measure) window.enrouteConsoleLatency = [];

  function noteApplied(delta) {
    if (measure.pending.length + window.enrouteConsoleLatency.length >= measure.cap) return;
    measure.pending.push({ change: delta.change, feed_seq: delta.feed_seq, at_ms: delta.at_ms, received_ms: Date.now() - delta.at_ms });
  }

  function noteDrawn() {
    if (measure.pending.length === 0) return;
    const drawn = measure.pending;
    measure.pending = [];
    const drawnAt = Date.now();
    requestAnimationFrame(() => {
      const shownAt = Date.now();
      const into = window.enrouteConsoleLatency;
      for (const delta of drawn) {
        if (into.length >= measure.cap) break;
        into.push({ ...delta, drawn_ms: drawnAt - delta.at_ms, latency_ms: shownAt - delta.at_ms });
      }
    });
  }

  const serverNow = () => Date.now() + (model.clockOffset ?? 0);

  /** A server time that was in the past when it arrived: the offset is at least this. */
  function noteServerTime(ms, exact = false) {
    if (typeof ms !== 'number') return;
    const offset = ms - Date.now();
    if (exact || model.clockOffset === null || offset > model.clockOffset) model.clockOffset = offset;
  }

  function driverFor(driverId) {
    let driver = model.drivers.get(driverId);
    if (!driver) {
      driver = {
        driver_id: driverId,
        connected: false,
        duty: null,
        paused: null,
        last_seen_ms: null,
        waiting: 0,
        position: null,
        revoked: false,
        trail: [],
        shown: null,
        blend: null,
      };
      model.drivers.set(driverId, driver);
      changed.drivers.add(driverId);
      driverIdsChanged = true;
    }
    return driver;
  }

  /** What the map shows for a driver: tracking, or grey with the reason. */
  function look(driver) {
    if (driver.revoked) return { state: 'offline', reason: 'token revoked' };
    if (!driver.connected) return { state: 'offline', reason: 'offline' };
    if (driver.paused) return { state: 'paused', reason: `paused: ${PAUSE_TEXT[driver.paused] || driver.paused}` };
    if (driver.duty === 'off_duty') return { state: 'off_duty', reason: 'off duty' };
    return { state: 'live', reason: '' };
  }

  /**
   * Where the driver is now by dead reckoning: from the fix, along its heading at its speed for
   * the time since it was measured (at most 30 s), while the driver is tracking.
   */
  function reckoned(driver, now) {
    const fix = driver.position;
    const still = { lat: fix.lat, lon: fix.lon };
    if (look(driver).state !== 'live') return still;
    if (typeof fix.speed_mps !== 'number' || fix.speed_mps < 0.3 || typeof fix.heading_deg !== 'number') return still;
    const seconds = Math.min(Math.max(now - fix.time_ms, 0), DEAD_RECKONING_CAP_MS) / 1000;
    const metres = fix.speed_mps * seconds;
    const heading = (fix.heading_deg * Math.PI) / 180;
    const north = (metres * Math.cos(heading)) / EARTH_RADIUS_M;
    const east = (metres * Math.sin(heading)) / (EARTH_RADIUS_M * Math.cos((fix.lat * Math.PI) / 180));
    return { lat: fix.lat + (north * 180) / Math.PI, lon: fix.lon + (east * 180) / Math.PI };
  }

  /** Where the marker is drawn: the reckoned position, easing out of where it was shown before a change. */
  function displayed(driver, now) {
    const at = reckoned(driver, now);
    const blend = driver.blend;
    if (!blend) return at;
    const left = 1 - (performance.now() - blend.start) / BLEND_MS;
    if (left <= 0) {
      driver.blend = null;
      return at;
    }
    return { lat: at.lat + blend.lat * left, lon: at.lon + blend.lon * left };
  }

  /** Call after a change that moves the reckoned position: the marker glides there instead of jumping. */
  function glide(driver) {
    if (!driver.shown || !driver.position) return;
    const at = reckoned(driver, serverNow());
    const lat = driver.shown.lat - at.lat;
    const lon = driver.shown.lon - at.lon;
    // Beyond about a kilometre a glide would only mislead: jump.
    driver.blend = Math.abs(lat) + Math.abs(lon) < 0.02 ? { lat, lon, start: performance.now() } : null;
  }

  /** Takes `fix` if it is newer than the driver's; older ones only join the trail. */
  function takeFix(driver, fix) {
    if (!fix) return;
    const trail = driver.trail;
    if (!trail.some((point) => point.time_ms === fix.time_ms)) {
      trail.push(fix);
      trail.sort((a, b) => a.time_ms - b.time_ms);
      if (trail.length > TRAIL_FIXES) trail.splice(0, trail.length - TRAIL_FIXES);
    }
    if (driver.position && driver.position.time_ms >= fix.time_ms) return;
    driver.position = fix;
    glide(driver);
    changed.drivers.add(driver.driver_id);
  }

  function heardFrom(driver, ms) {
    if (typeof ms === 'number' && (driver.last_seen_ms === null || ms > driver.last_seen_ms)) driver.last_seen_ms = ms;
  }

  const sameChange = (a, b) =>
    a.at_ms === b.at_ms && a.status === b.status && a.changed_by === b.changed_by && (a.record_seq ?? null) === (b.record_seq ?? null);

  function applySnapshot(snapshot) {
    noteServerTime(snapshot.server_time_ms, true);
    const present = new Set();
    for (const summary of snapshot.drivers) {
      present.add(summary.driver_id);
      const driver = driverFor(summary.driver_id);
      driver.connected = summary.connected;
      driver.duty = summary.duty ?? null;
      driver.paused = summary.paused ?? null;
      driver.last_seen_ms = summary.last_seen_ms ?? null;
      driver.waiting = summary.waiting ?? 0;
      driver.revoked = false;
      if (summary.position) {
        if (driver.position && model.feedId !== snapshot.feed_id) driver.position = null;
        takeFix(driver, summary.position);
      } else {
        driver.position = null;
        driver.trail = [];
      }
      glide(driver);
      changed.drivers.add(driver.driver_id);
    }
    for (const driverId of [...model.drivers.keys()]) {
      if (!present.has(driverId)) {
        model.drivers.delete(driverId);
        changed.drivers.add(driverId);
        driverIdsChanged = true;
      }
    }
    const jobs = new Map(snapshot.jobs.map((job) => [job.assignment.id, { driver_id: job.driver_id, assignment: job.assignment, history: [...job.history] }]));
    for (const jobId of new Set([...model.jobs.keys(), ...jobs.keys()])) changed.jobs.add(jobId);
    model.jobs = jobs;
    model.feedId = snapshot.feed_id;
    model.feedSeq = snapshot.feed_seq;
    model.orderedSeq = snapshot.feed_seq;
    snapshotsApplied += 1;
    fitOnce();
  }

  function applyDelta(delta) {
    noteServerTime(delta.at_ms);
    if (delta.feed_seq > model.feedSeq) model.feedSeq = delta.feed_seq;
    if (delta.change === 'position') {
      // Positions are coalesced and may come after higher numbers: the fix time decides.
      const driver = driverFor(delta.driver_id);
      heardFrom(driver, delta.at_ms);
      takeFix(driver, delta.fix);
      changed.drivers.add(driver.driver_id);
      fitOnce();
      return;
    }
    // Every other change comes once, in order: one at or below what was applied is a repeat.
    if (delta.feed_seq <= model.orderedSeq) return;
    model.orderedSeq = delta.feed_seq;
    const driver = driverFor(delta.driver_id);
    changed.drivers.add(driver.driver_id);
    switch (delta.change) {
      case 'status':
        if (delta.status === 'on_duty' || delta.status === 'off_duty') {
          driver.duty = delta.status;
          driver.paused = null;
        } else if (delta.status === 'tracking_paused') {
          driver.paused = delta.reason || 'unknown';
        } else if (delta.status === 'tracking_resumed') {
          driver.paused = null;
        }
        heardFrom(driver, delta.at_ms);
        glide(driver);
        break;
      case 'connected':
        driver.connected = true;
        driver.revoked = false;
        heardFrom(driver, delta.at_ms);
        glide(driver);
        break;
      case 'disconnected':
        driver.connected = false;
        glide(driver);
        break;
      case 'driver_registered':
        driver.revoked = false;
        break;
      case 'driver_revoked':
        driver.revoked = true;
        glide(driver);
        break;
      case 'job': {
        const jobId = delta.assignment.id;
        const held = model.jobs.get(jobId);
        // A job change already held (in a snapshot, or sent twice) is known by its entry.
        if (held && held.history.some((entry) => sameChange(entry, delta.latest))) break;
        const job = held || { driver_id: delta.driver_id, assignment: delta.assignment, history: [] };
        job.driver_id = delta.driver_id;
        job.assignment = delta.assignment;
        job.history.push(delta.latest);
        job.history.sort((a, b) => a.at_ms - b.at_ms);
        model.jobs.set(jobId, job);
        changed.jobs.add(jobId);
        changed.flash.add(jobId);
        if (delta.latest.changed_by === 'driver') heardFrom(driver, delta.latest.at_ms);
        fitOnce();
        break;
      }
      case 'message': {
        const key = `${delta.driver_id} ${delta.event_id}`;
        if (!model.messages.has(key)) {
          model.messages.set(key, { driver_id: delta.driver_id, event_id: delta.event_id, text: delta.text, at_ms: delta.at_ms });
          changed.messages = true;
        }
        break;
      }
      default:
        // A change this console does not know yet: nothing to show.
        break;
    }
  }

  // ---------------------------------------------------------------------------------------
  // The map.

  const mapContainer = byId('map');
  const EnrouteMap = window.EnrouteMap;
  const view = EnrouteMap.LeafletMap ? new EnrouteMap.LeafletMap(mapContainer) : new EnrouteMap.GridMap(mapContainer);
  mapContainer.dataset.map = EnrouteMap.LeafletMap ? 'leaflet' : 'grid';
  /** The map's drivers and trails (driver-layer.js). */
  const drivers = view.drivers;
  let fitted = false;

  /** Fits the map to the drivers and open jobs once, on the first snapshot that has any. */
  function fitOnce() {
    if (fitted) return;
    const points = [];
    for (const driver of model.drivers.values()) if (driver.position) points.push([driver.position.lat, driver.position.lon]);
    for (const job of model.jobs.values()) {
      if (!OPEN_STATUSES.has(job.assignment.status)) continue;
      points.push([job.assignment.pickup.lat, job.assignment.pickup.lon], [job.assignment.dropoff.lat, job.assignment.dropoff.lon]);
    }
    if (points.length === 0) return;
    fitted = true;
    requestAnimationFrame(() => view.fit(points));
  }

  function syncMapDriver(driverId) {
    const driver = model.drivers.get(driverId);
    if (!driver || !driver.position) {
      drivers.remove(driverId);
      return;
    }
    const looks = look(driver);
    const at = displayed(driver, serverNow());
    driver.shown = at;
    drivers.upsert(driverId, { ...looks, lat: at.lat, lon: at.lon, heading: driver.position.heading_deg });
    drivers.setTrail(driverId, driver.trail, looks.state !== 'live');
  }

  function syncMapJob(jobId) {
    const job = model.jobs.get(jobId);
    if (job && OPEN_STATUSES.has(job.assignment.status)) view.setJob(jobId, job.assignment);
    else view.removeJob(jobId);
  }

  /**
   * Moves every marker to where dead reckoning puts it now, and draws the map's drivers: only
   * when the map would draw them (with many drivers in view, not in every frame).
   */
  /** Whether a marker moved when they were last placed: then they will move again. */
  let markersMoving = false;

  function animate() {
    if (!drivers.markersDue()) {
      drivers.draw();
      return;
    }
    const now = serverNow();
    markersMoving = false;
    for (const driver of model.drivers.values()) {
      if (!driver.position) continue;
      const at = displayed(driver, now);
      if (driver.shown && Math.abs(at.lat - driver.shown.lat) < 1e-8 && Math.abs(at.lon - driver.shown.lon) < 1e-8) continue;
      driver.shown = at;
      markersMoving = true;
      drivers.move(driver.driver_id, at.lat, at.lon);
    }
    drivers.draw();
  }

  /**
   * Frames are asked for only when there is something to draw: changes from the feed, markers
   * that glide (every frame, or with many drivers when the map may draw them again), a trail
   * redraw under way. An idle console draws nothing, and a busy one no more than it shows
   * (each frame is work for the browser even when it changes nothing). Where frames are not
   * drawn (a page in the background), four times a second.
   */
  let lastFrame = 0;
  let frameRequested = false;
  let frameTimer = null;

  function frame() {
    lastFrame = performance.now();
    frameRequested = false;
    if (renderWanted) render();
    // The map's own drawing of what render changed (a job's line), in this same frame.
    if (view.flush) view.flush();
    animate();
    if (measure) noteDrawn();
    if (drivers.pending()) wantFrame(0);
    else if (markersMoving) wantFrame(drivers.markersDueIn());
  }

  /** Asks for a frame in `delayMs` (0: the next one). */
  function wantFrame(delayMs) {
    if (frameRequested) return;
    if (delayMs > 0) {
      if (frameTimer === null) {
        frameTimer = setTimeout(() => {
          frameTimer = null;
          wantFrame(0);
        }, delayMs);
      }
      return;
    }
    frameRequested = true;
    requestAnimationFrame(frame);
  }

  setInterval(() => {
    if (frameRequested && performance.now() - lastFrame > 240) frame();
  }, 250);

  // ---------------------------------------------------------------------------------------
  // The tables, updated in place so buttons stay put under the pointer.

  let renderWanted = false;
  let lastUpdateMs = null;

  /** The next frame renders what changed (the feed may bring hundreds of changes a frame). */
  function scheduleRender() {
    renderWanted = true;
    wantFrame(0);
  }

  function render() {
    renderWanted = false;
    for (const driverId of changed.drivers) {
      renderDriver(driverId);
      syncMapDriver(driverId);
    }
    if (driverIdsChanged) renderDriverIds();
    for (const jobId of changed.jobs) {
      renderJob(jobId, changed.flash.has(jobId));
      syncMapJob(jobId);
    }
    if (changed.messages) renderMessages();
    changed.drivers.clear();
    changed.jobs.clear();
    changed.flash.clear();
    changed.messages = false;
    setText(byId('driver-count'), `(${model.drivers.size})`);
    setText(byId('job-count'), `(${model.jobs.size})`);
    byId('drivers-empty').hidden = model.drivers.size > 0;
    byId('jobs-empty').hidden = model.jobs.size > 0;
    renderUpdated();
  }

  function relative(ms) {
    if (typeof ms !== 'number') return '—';
    const seconds = Math.max(0, Math.round((serverNow() - ms) / 1000));
    if (seconds < 5) return 'just now';
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return new Date(ms).toLocaleString();
  }

  const clock = (ms) => new Date(ms).toLocaleTimeString();

  function badge(text, kind, extra = '') {
    return element('span', { className: `badge badge-${kind} ${extra}`.trim(), text });
  }

  /** The table rows shown, by driver id and by job id. */
  const rows = { drivers: new Map(), jobs: new Map() };
  /** The drivers' ids in the table's order (sorted), for placing a new row. */
  const driverOrder = [];

  /**
   * Driver rows scrolled out of the table's box are not updated (with 1,000 drivers sending a
   * fix a second, that was most of a frame); they are marked and brought up to date when they
   * come into view. A new row counts as in view until the browser says otherwise: where rows
   * skip rendering (content-visibility: auto, console.css), the browser says so with an event
   * when a row starts or stops being skipped, at no cost per frame; elsewhere an
   * IntersectionObserver watches the rows (it computes every row's intersection every frame:
   * 4–9 ms a frame with 1,000 rows in Chromium, so only where the event is missing).
   */
  const driverRowsInView = new Set();
  const staleDriverRows = new Set();
  function driverRowSeen(row, inView) {
    const driverId = row.dataset.driver;
    if (!driverId || !rows.drivers.has(driverId)) return;
    if (inView) {
      driverRowsInView.add(driverId);
      if (staleDriverRows.delete(driverId)) renderDriver(driverId);
    } else {
      driverRowsInView.delete(driverId);
    }
  }
  const driverRowWatch =
    typeof window.ContentVisibilityAutoStateChangeEvent === 'function' && CSS.supports('content-visibility', 'auto')
      ? (() => {
          // The event does not bubble; a capturing listener on the table body sees every row's.
          byId('drivers').addEventListener('contentvisibilityautostatechange', (event) => driverRowSeen(event.target, !event.skipped), true);
          return { observe() {}, unobserve() {} };
        })()
      : new IntersectionObserver((entries) => entries.forEach((entry) => driverRowSeen(entry.target, entry.isIntersecting)), { root: byId('drivers-scroll') });

  function insertionIndex(sorted, value) {
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (sorted[middle] < value) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  function renderDriver(driverId) {
    const tbody = byId('drivers');
    let row = rows.drivers.get(driverId);
    const driver = model.drivers.get(driverId);
    if (!driver) {
      if (row) {
        driverRowWatch.unobserve(row);
        row.remove();
        driverOrder.splice(insertionIndex(driverOrder, driverId), 1);
      }
      rows.drivers.delete(driverId);
      driverRowsInView.delete(driverId);
      staleDriverRows.delete(driverId);
      return;
    }
    if (!row) {
      row = newDriverRow(driverId);
      rows.drivers.set(driverId, row);
      // Sorted by id.
      const index = insertionIndex(driverOrder, driverId);
      const after = index < driverOrder.length ? rows.drivers.get(driverOrder[index]) : null;
      driverOrder.splice(index, 0, driverId);
      tbody.insertBefore(row, after);
      driverRowsInView.add(driverId);
      driverRowWatch.observe(row);
    } else if (!driverRowsInView.has(driverId)) {
      staleDriverRows.add(driverId);
      return;
    }
    // Cells are updated in place: a button must not be replaced under the pointer.
    const cells = row.cells;
    row.dataset.state = look(driver).state;
    const link = driver.revoked ? badge('revoked', 'bad') : driver.connected ? badge('connected', 'on') : badge('offline', 'off');
    setCell(cells[1], link);
    setCell(cells[2], driver.duty === 'on_duty' ? 'on duty' : driver.duty === 'off_duty' ? 'off duty' : '—');
    let tracking = '—';
    if (driver.paused) tracking = badge(`paused: ${PAUSE_TEXT[driver.paused] || driver.paused}`, 'warn', 'badge-wrap');
    else if (driver.duty === 'on_duty' && driver.connected) tracking = driver.position ? 'tracking' : 'no position yet';
    setCell(cells[3], tracking);
    showLastSeen(cells[4], driver.last_seen_ms);
    setCell(cells[5], driver.waiting > 0 ? badge(String(driver.waiting), 'warn') : '0');
    cells[6].querySelector('[data-action=locate]').disabled = !driver.position;
  }

  /** Shows `content` (text or an element) in `cell`, touching the DOM only when it differs. */
  function setCell(cell, content) {
    const key = typeof content === 'string' ? `t:${content}` : `e:${content.className}:${content.textContent}`;
    if (cell.dataset.shown === key) return;
    cell.dataset.shown = key;
    if (typeof content === 'string') cell.textContent = content;
    else cell.replaceChildren(content);
  }

  function newDriverRow(driverId) {
    // The table is laid out as a grid (console.css), so its rows and cells say what they are.
    const row = element('tr', { attributes: { role: 'row' } });
    row.dataset.driver = driverId;
    const cell = (className, text) => element('td', { className, text, attributes: { role: 'cell' } });
    const actions = cell('actions');
    const locate = element('button', {
      className: 'quiet',
      text: 'Locate',
      attributes: { type: 'button', 'data-action': 'locate', 'aria-label': `Locate ${driverId} on the map` },
    });
    locate.addEventListener('click', () => {
      const driver = model.drivers.get(driverId);
      const at = driver && (driver.shown || driver.position);
      if (!at) return;
      view.focus(at.lat, at.lon);
      mapContainer.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    });
    const message = element('button', {
      className: 'quiet',
      text: 'Message',
      attributes: { type: 'button', 'data-action': 'message', 'aria-label': `Message ${driverId}` },
    });
    message.addEventListener('click', () => {
      byId('message-driver').value = driverId;
      byId('message-text').focus();
    });
    actions.append(locate, ' ', message);
    row.append(cell('id', driverId), cell(), cell('nowrap'), cell(), cell('seen nowrap'), cell(), actions);
    return row;
  }

  /** A "last seen" cell: the text changes at most once a second, the title only with the time. */
  function showLastSeen(cell, ms) {
    const text = relative(ms);
    if (cell.textContent !== text) cell.textContent = text;
    const key = String(ms ?? '');
    if (cell.dataset.ms === key) return;
    cell.dataset.ms = key;
    if (ms) cell.title = new Date(ms).toLocaleString();
    else cell.removeAttribute('title');
  }

  function renderDriverIds() {
    driverIdsChanged = false;
    const list = byId('driver-ids');
    list.replaceChildren(...[...model.drivers.keys()].sort().map((driverId) => element('option', { attributes: { value: driverId } })));
  }

  /** Every second: the "last seen" times in view move on. */
  setInterval(() => {
    for (const driverId of driverRowsInView) {
      const row = rows.drivers.get(driverId);
      const driver = model.drivers.get(driverId);
      if (row && driver) showLastSeen(row.cells[4], driver.last_seen_ms);
    }
    renderUpdated();
  }, 1000);

  function renderJob(jobId, flash) {
    const tbody = byId('jobs');
    const existing = rows.jobs.get(jobId);
    const job = model.jobs.get(jobId);
    if (!job) {
      if (existing) existing.remove();
      rows.jobs.delete(jobId);
      return;
    }
    const { assignment } = job;
    const open = OPEN_STATUSES.has(assignment.status);
    const row = existing || element('tr');
    rows.jobs.set(jobId, row);
    row.dataset.job = jobId;
    row.dataset.status = assignment.status;
    row.dataset.open = String(open);
    const history = element(
      'ol',
      { className: 'history' },
      ...job.history.map((entry) =>
        element('li', { text: `${clock(entry.at_ms)} ${STATUS_TEXT[entry.status] || entry.status} · ${entry.changed_by}` }),
      ),
    );
    const route = element('td', { className: 'route', text: `${assignment.pickup.address} → ${assignment.dropoff.address}` });
    const actions = element('td', { className: 'actions' });
    if (open) {
      const cancel = element('button', { className: 'secondary', text: 'Cancel', attributes: { type: 'button', 'aria-label': `Cancel ${jobId}` } });
      cancel.addEventListener('click', () => cancelJob(jobId, cancel));
      actions.append(cancel);
    }
    const status = element('td', { className: 'status', text: STATUS_TEXT[assignment.status] || assignment.status });
    if (assignment.status === 'failed' && assignment.failure_reason) status.title = assignment.failure_reason;
    row.replaceChildren(
      element('td', { className: 'id', text: jobId }),
      element('td', { text: job.driver_id }),
      status,
      route,
      element('td', {}, history),
      element('td', { className: 'notes', text: assignment.notes || '' }),
      actions,
    );
    if (!existing) {
      // Newest first: by when the job was offered.
      const offered = job.history.length > 0 ? job.history[0].at_ms : Infinity;
      const after = [...tbody.children].find((other) => {
        const otherJob = model.jobs.get(other.dataset.job);
        const otherOffered = otherJob && otherJob.history.length > 0 ? otherJob.history[0].at_ms : Infinity;
        return otherOffered < offered;
      });
      tbody.insertBefore(row, after || null);
    }
    if (flash && existing) {
      row.classList.remove('flash');
      void row.offsetWidth;
      row.classList.add('flash');
    }
  }

  function renderMessages() {
    const list = byId('messages');
    const newest = [...model.messages.values()].slice(-50).reverse();
    list.replaceChildren(
      ...newest.map((message) =>
        element(
          'li',
          { attributes: { 'data-driver': message.driver_id, 'data-event': String(message.event_id) } },
          element('span', { className: 'meta', text: `${message.driver_id} · ${clock(message.at_ms)}` }),
          element('span', { text: message.text }),
        ),
      ),
    );
  }

  function renderUpdated() {
    const updated = byId('updated');
    if (lastUpdateMs === null) return;
    setText(updated, clock(lastUpdateMs));
    updated.dateTime = new Date(lastUpdateMs).toISOString();
    updated.dataset.ms = String(lastUpdateMs);
    const seconds = Math.round((Date.now() - lastUpdateMs) / 1000);
    updated.title = seconds < 2 ? 'just now' : `${seconds} s ago`;
  }

  // ---------------------------------------------------------------------------------------
  // The feed connection: subscribe (resuming where it left off), follow, reconnect with backoff.

  const linkState = byId('link');
  const linkDetail = byId('link-detail');
  const LINK_TEXT = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline' };

  function showLink(state, detail = '') {
    linkState.dataset.state = state;
    linkState.textContent = LINK_TEXT[state];
    linkDetail.textContent = detail;
  }

  const link = {
    socket: null,
    /** Failed attempts since the last stable connection. */
    failures: 0,
    retryTimer: null,
    connectTimer: null,
    liveSince: null,
    lastFrameAt: 0,
    ping: null,
    nonce: 0,
    /** The server refused the token: retrying would not help. */
    refused: false,
  };

  const feedUrl = () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${location.host}/dispatch/ws?token=${encodeURIComponent(token)}`;
  };

  function subscribeFrame() {
    const frame = { type: 'subscribe' };
    if (room.length > 0) frame.drivers = room;
    if (model.feedId !== null) frame.resume = { feed_id: model.feedId, feed_seq: model.feedSeq };
    return frame;
  }

  function connect() {
    clearTimeout(link.retryTimer);
    link.retryTimer = null;
    if (link.socket || link.refused) return;
    showLink(model.feedId === null ? 'connecting' : 'reconnecting', 'connecting');
    let socket;
    try {
      socket = new WebSocket(feedUrl());
    } catch (error) {
      retryLater();
      return;
    }
    link.socket = socket;
    link.liveSince = null;
    link.ping = null;
    // Opening and the first answer must take at most 10 s.
    link.connectTimer = setTimeout(() => {
      if (link.socket === socket && link.liveSince === null) drop('no answer in 10 s');
    }, 10000);
    socket.addEventListener('open', () => socket.send(JSON.stringify(subscribeFrame())));
    socket.addEventListener('message', (event) => {
      if (link.socket !== socket) return;
      link.lastFrameAt = Date.now();
      link.ping = null;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      received(message);
    });
    socket.addEventListener('close', () => {
      if (link.socket === socket) closed();
    });
  }

  function received(message) {
    switch (message.type) {
      case 'snapshot':
        applySnapshot(message);
        live();
        break;
      case 'resumed':
        if (message.feed_id !== model.feedId) {
          // Not where this console left off: start over with a snapshot.
          model.feedId = null;
          drop('the feed changed');
          connect();
          return;
        }
        live();
        break;
      case 'delta':
        takeDelta(message);
        break;
      case 'deltas':
        for (const delta of Array.isArray(message.deltas) ? message.deltas : []) takeDelta(delta);
        break;
      case 'error':
        if (message.code === 'unauthorized' || message.code === 'token_revoked') {
          link.refused = true;
          showLink('offline', 'the dispatcher token was refused');
        }
        return;
      default:
        // pong, or a frame this console does not know.
        break;
    }
    lastUpdateMs = Date.now();
    scheduleRender();
  }

  function takeDelta(delta) {
    // A repeat (an ordered change at or below what was applied) changes nothing to measure.
    const fresh = delta.change === 'position' || delta.feed_seq > model.orderedSeq;
    applyDelta(delta);
    if (measure && fresh) noteApplied(delta);
  }

  function live() {
    clearTimeout(link.connectTimer);
    link.liveSince = Date.now();
    showLink('live');
  }

  /** Forgets the socket at once (a dead one may take long to report closing) and reconnects later. */
  function drop(reason) {
    const socket = link.socket;
    if (!socket) return;
    link.socket = null;
    try {
      socket.close(1000, reason.slice(0, 100));
    } catch (error) {
      // Closing a socket that is still connecting throws in some browsers.
    }
    afterClose();
  }

  function closed() {
    link.socket = null;
    afterClose();
  }

  function afterClose() {
    clearTimeout(link.connectTimer);
    // A connection that stayed up 5 s was stable: the backoff starts again.
    if (link.liveSince !== null && Date.now() - link.liveSince >= 5000) link.failures = 0;
    else link.failures += 1;
    link.liveSince = null;
    if (link.refused) return;
    retryLater();
  }

  function retryLater() {
    clearTimeout(link.retryTimer);
    if (navigator.onLine === false) {
      showLink('offline', 'no network');
      // navigator.onLine can be wrong: try now and then all the same.
      link.retryTimer = setTimeout(connect, 15000 + Math.random() * 15000);
      return;
    }
    const ceiling = Math.min(30, 2 ** Math.min(link.failures, 5));
    const seconds = 0.5 + Math.random() * (ceiling - 0.5);
    showLink('reconnecting', `retry in ${Math.ceil(seconds)} s`);
    link.retryTimer = setTimeout(connect, seconds * 1000);
  }

  /** When nothing came for 20 s, ping; no answer within 10 s means the link is dead. */
  setInterval(() => {
    const socket = link.socket;
    if (!socket || link.liveSince === null || socket.readyState !== WebSocket.OPEN) return;
    if (link.ping && Date.now() - link.ping.sentAt > 10000) {
      drop('no pong');
      return;
    }
    if (!link.ping && Date.now() - link.lastFrameAt > 20000) sendPing();
  }, 1000);

  function sendPing() {
    const socket = link.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    link.nonce += 1;
    link.ping = { sentAt: Date.now(), nonce: link.nonce };
    socket.send(JSON.stringify({ type: 'ping', nonce: link.nonce }));
  }

  window.addEventListener('offline', () => {
    drop('offline');
    showLink('offline', 'no network');
  });
  window.addEventListener('online', () => {
    link.failures = 0;
    if (link.socket) sendPing();
    else connect();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    if (link.socket) sendPing();
    else connect();
  });

  // ---------------------------------------------------------------------------------------
  // Acting: the JSON API, results in the status line.

  const api = (path, options = {}) =>
    fetch(path, { ...options, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...(options.headers || {}) } });

  function result(text, kind = 'ok') {
    const line = byId('result');
    line.textContent = text;
    line.dataset.kind = kind;
  }

  async function answerOf(response) {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      return { error: text.trim() || `HTTP ${response.status}` };
    }
  }

  async function call(path, options, success) {
    try {
      const response = await api(path, options);
      const answer = await answerOf(response);
      if (response.ok) result(success(answer));
      else result(`Refused: ${answer.error || answer.message || `HTTP ${response.status}`}`, 'error');
      return response.ok;
    } catch (error) {
      result(`Could not reach the server: ${error.message}`, 'error');
      return false;
    }
  }

  const value = (id) => byId(id).value.trim();

  byId('create').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector('button[type=submit]');
    const now = Date.now();
    const acceptMinutes = value('accept-minutes');
    const body = {
      driver_id: value('driver'),
      pickup: { address: value('pickup-address'), lat: Number(value('pickup-lat')), lon: Number(value('pickup-lon')) },
      dropoff: { address: value('dropoff-address'), lat: Number(value('dropoff-lat')), lon: Number(value('dropoff-lon')) },
      window: { from_ms: now, to_ms: now + Number(value('window-minutes')) * 60000 },
      notes: byId('notes').value,
      accept_by_ms: acceptMinutes ? now + Number(acceptMinutes) * 60000 : null,
    };
    button.disabled = true;
    await call('/api/assignments', { method: 'POST', body: JSON.stringify(body) }, (job) => `Offered ${job.id} to ${body.driver_id}.`);
    button.disabled = false;
  });

  async function cancelJob(jobId, button) {
    button.disabled = true;
    const done = await call(`/api/assignments/${encodeURIComponent(jobId)}/cancel`, { method: 'POST' }, () => `Cancelled ${jobId}.`);
    if (!done) button.disabled = false;
  }

  byId('message').addEventListener('submit', async (event) => {
    event.preventDefault();
    const driverId = value('message-driver');
    const text = byId('message-text').value;
    const sent = await call(
      `/api/drivers/${encodeURIComponent(driverId)}/messages`,
      { method: 'POST', body: JSON.stringify({ text }) },
      (answer) => `Message ${answer.event_id} sent to ${driverId}.`,
    );
    if (sent) byId('message-text').value = '';
  });

  // ---------------------------------------------------------------------------------------
  // Start.

  if (room.length > 0) {
    const roomLine = byId('room');
    roomLine.textContent = `Room: ${room.join(', ')}`;
    roomLine.hidden = false;
  }

  api('/dispatch/config')
    .then((response) => (response.ok ? response.json() : { tiles: null }))
    .then((config) => {
      if (config.tiles) view.setTiles(config.tiles);
    })
    .catch(() => {});

  // For tests and debugging: the model as the console holds it.
  window.enrouteConsole = {
    model,
    link,
    snapshots: () => snapshotsApplied,
    /** What the map drew for a driver in the last frame ({x, y, lat, lon, state, reason, inView}), and the fix it reckons from. */
    mapDriver: (driverId) => {
      const drawn = drivers.drawn(driverId);
      const fix = model.drivers.get(driverId)?.position;
      return drawn && fix ? { ...drawn, fix_lat: fix.lat, fix_lon: fix.lon, fix_time_ms: fix.time_ms } : null;
    },
    dropConnection: () => drop('asked to'),
  };

  render();
  connect();
})();
