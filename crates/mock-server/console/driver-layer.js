// The drivers on the console's map, drawn on two canvases that both maps (grid-map.js,
// leaflet-view.js) put over their own drawing: one with every driver's trail, redrawn when a
// trail changed (at most once a second, off screen a few trails a frame, then shown at once) or
// at once when the view moves; one with the markers (copies of pre-drawn sprites), redrawn when
// they moved, in every frame for a small fleet and at most ten times a second for a large one.
// A canvas instead of an element per driver because with 1,000 drivers gliding every frame the
// elements were the console's whole cost (docs/benchmarks.md, "Console"): style, layout, paint
// and compositing of a thousand layers a frame.
//
// The drivers table is the accessible list of the drivers; the map is a picture of it (its
// canvases are hidden from assistive technology). Tests read what was drawn through `drawn(id)`.
// Plain script (no modules): hangs on window.EnrouteMap.

'use strict';

(() => {
  const EnrouteMap = (window.EnrouteMap = window.EnrouteMap || {});

  const TRAIL_REDRAW_MS = 1000;
  /** Trails drawn per frame while they are redrawn off screen. */
  const TRAIL_CHUNK = 150;
  /** The fixes of a trail drawn: the last half minute or so. */
  const TRAIL_POINTS = 30;
  /** The trail colours (the marker colours lightened: opaque lines draw faster than translucent ones). */
  const TRAIL_LIVE = '#76a681';
  const TRAIL_GREY = '#a6abb3';
  /**
   * Drivers beyond which markers are drawn at most every BUSY_FRAME_MS. Counted over the whole
   * fleet, not the view: each drawing is a whole new bitmap for the browser to commit and
   * composite, however few markers are in it.
   */
  const MANY_DRIVERS = 100;
  const BUSY_FRAME_MS = 100;
  /** Labels (id, and why a driver is greyed) are drawn while at most this many are in view. */
  const LABELS_UP_TO = 150;
  const DOT_RADIUS = 8;
  /** How far outside the view a marker may be and still show a part of itself. */
  const MARGIN = 24;

  // Web Mercator, in pixels of a 256-pixel world at `zoom` (Leaflet's EPSG:3857 is the same).
  const TILE = 256;
  EnrouteMap.project = function project(lat, lon, zoom) {
    const scale = TILE * 2 ** zoom;
    const clamped = Math.max(-85.05112878, Math.min(85.05112878, lat));
    const sin = Math.sin((clamped * Math.PI) / 180);
    return { x: ((lon + 180) / 360) * scale, y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale };
  };
  EnrouteMap.unproject = function unproject(x, y, zoom) {
    const scale = TILE * 2 ** zoom;
    const lon = (x / scale) * 360 - 180;
    const n = Math.PI - (2 * Math.PI * y) / scale;
    return { lat: (180 / Math.PI) * Math.atan(Math.sinh(n)), lon };
  };

  function newCanvas(className) {
    const canvas = document.createElement('canvas');
    canvas.className = className;
    canvas.setAttribute('aria-hidden', 'true');
    return canvas;
  }

  const SPRITE_SIZE = 2 * (DOT_RADIUS + 10);
  const SPRITE_CENTRE = SPRITE_SIZE / 2;
  /** Headings are drawn in steps of this many degrees. */
  const HEADING_STEP = 10;

  /** One marker on a canvas of its own: a dot (`fill`, `ring`) and, if `heading`, an arrow. */
  function sprite(ratio, fill, ring, heading) {
    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(SPRITE_SIZE * ratio);
    canvas.height = Math.ceil(SPRITE_SIZE * ratio);
    const context = canvas.getContext('2d');
    context.scale(ratio, ratio);
    context.translate(SPRITE_CENTRE, SPRITE_CENTRE);
    context.beginPath();
    context.arc(0, 0, DOT_RADIUS, 0, Math.PI * 2);
    context.fillStyle = fill;
    context.fill();
    context.lineWidth = 1;
    context.strokeStyle = '#00000066';
    context.stroke();
    context.beginPath();
    context.arc(0, 0, DOT_RADIUS - 2, 0, Math.PI * 2);
    context.lineWidth = ring.width;
    context.strokeStyle = ring.color;
    context.stroke();
    if (typeof heading === 'number') {
      context.rotate((heading * Math.PI) / 180);
      context.beginPath();
      context.moveTo(0, -(DOT_RADIUS + 9));
      context.lineTo(-5, -(DOT_RADIUS + 1));
      context.lineTo(5, -(DOT_RADIUS + 1));
      context.closePath();
      context.fillStyle = fill;
      context.fill();
    }
    return canvas;
  }

  /** The sprites of every look a marker has; `of(entry)` picks one. */
  function makeSprites(ratio) {
    const { COLORS } = EnrouteMap;
    const white = { width: 2, color: '#ffffff' };
    const offline = sprite(ratio, '#ffffff', { width: 3, color: COLORS.grey });
    const grey = sprite(ratio, COLORS.grey, white);
    const live = sprite(ratio, COLORS.live, white);
    const headings = [];
    for (let step = 0; step < 360 / HEADING_STEP; step += 1) headings.push(sprite(ratio, COLORS.live, white, step * HEADING_STEP));
    // Index 0 offline, 1 greyed, 2 live without a heading, then one per heading step.
    const images = [offline, grey, live, ...headings];
    let closed = false;
    // Copied from an ImageBitmap once there is one: copying from a canvas makes Chromium take a
    // snapshot of that canvas for every copy (a thousand a drawing). The canvases serve until
    // then, and wherever createImageBitmap is missing or fails.
    if (typeof window.createImageBitmap === 'function') {
      images.forEach((canvas, index) => {
        window.createImageBitmap(canvas).then((bitmap) => {
          if (closed) bitmap.close();
          else images[index] = bitmap;
        }, () => {});
      });
    }
    return {
      ratio,
      /** Frees the bitmaps (the set is made again when the screen's density changes). */
      close() {
        closed = true;
        for (const image of images) if (typeof image.close === 'function') image.close();
      },
      of(entry) {
        if (entry.state === 'offline') return images[0];
        if (entry.state !== 'live') return images[1];
        if (typeof entry.heading !== 'number' || !Number.isFinite(entry.heading)) return images[2];
        const step = Math.round((((entry.heading % 360) + 360) % 360) / HEADING_STEP) % headings.length;
        return images[3 + step];
      },
    };
  }

  class DriverLayer {
    /** Both canvases are appended to `parent`, trails under markers. */
    constructor(parent) {
      this.trailCanvas = newCanvas('driver-trails');
      this.markerCanvas = newCanvas('driver-markers');
      parent.append(this.trailCanvas, this.markerCanvas);
      /** By driver id: {id, lat, lon, state, reason, heading, trail, grey, x, y, inView}. */
      this.drivers = new Map();
      this.view = null;
      this.trailsChanged = true;
      this.markersChanged = true;
      this.trailsDrawnAt = -Infinity;
      this.trailPass = null;
      this.trailBuffer = null;
      this.markersDrawnAt = -Infinity;
      this.labelWidths = new Map();
    }

    /**
     * The view: `width` × `height` CSS pixels showing Web Mercator at `zoom` around the world
     * pixel `centre` ({x, y}). Redraws at once (the map moved under the drivers).
     */
    setView(width, height, zoom, centre) {
      this.view = { width, height, zoom, left: centre.x - width / 2, top: centre.y - height / 2 };
      this.trailsChanged = true;
      this.markersChanged = true;
      this.draw(true);
    }

    /** `look`: {state, reason, heading, lat, lon}. */
    upsert(id, look) {
      let entry = this.drivers.get(id);
      if (!entry) {
        entry = { id, trail: [], grey: false, x: NaN, y: NaN, inView: false };
        this.drivers.set(id, entry);
      }
      Object.assign(entry, { state: look.state, reason: look.reason, heading: look.heading, lat: look.lat, lon: look.lon });
      this.markersChanged = true;
    }

    move(id, lat, lon) {
      const entry = this.drivers.get(id);
      if (!entry || (entry.lat === lat && entry.lon === lon)) return;
      entry.lat = lat;
      entry.lon = lon;
      this.markersChanged = true;
    }

    remove(id) {
      if (!this.drivers.delete(id)) return;
      this.markersChanged = true;
      this.trailsChanged = true;
    }

    /** `points`: objects with `lat` and `lon` (the fixes themselves; read, never kept apart). */
    setTrail(id, points, grey) {
      const entry = this.drivers.get(id);
      if (!entry) return;
      entry.trail = points;
      entry.grey = grey;
      this.trailsChanged = true;
    }

    /**
     * Whether markers would be drawn at `now` (performance.now()) if they moved: in every frame,
     * or with many drivers at most every BUSY_FRAME_MS, since each drawing is a new bitmap the
     * browser composites, and at city zoom a marker moves a pixel or two between them. The
     * console computes where markers are only when it is.
     */
    markersDue(now = performance.now()) {
      const interval = this.drivers.size > MANY_DRIVERS ? BUSY_FRAME_MS : 0;
      return now - this.markersDrawnAt >= interval;
    }

    /** Milliseconds until markers may be drawn again (0: in the next frame). */
    markersDueIn(now = performance.now()) {
      const interval = this.drivers.size > MANY_DRIVERS ? BUSY_FRAME_MS : 0;
      return Math.max(0, this.markersDrawnAt + interval - now);
    }

    /** Whether drawing is under way or waiting: a trail redraw in progress or queued, or markers that moved. */
    pending() {
      return this.trailPass !== null || this.trailsChanged || this.markersChanged;
    }

    /** What the last frame drew for a driver: {x, y, lat, lon, state, reason, inView}, or null. */
    drawn(id) {
      const entry = this.drivers.get(id);
      if (!entry || Number.isNaN(entry.x)) return null;
      const { x, y, lat, lon, state, reason, inView } = entry;
      return { x, y, lat, lon, state, reason, inView };
    }

    point(lat, lon) {
      const at = EnrouteMap.project(lat, lon, this.view.zoom);
      return { x: at.x - this.view.left, y: at.y - this.view.top };
    }

    /**
     * Draws what changed: trails at most every TRAIL_REDRAW_MS, markers when `markersDue`; both
     * at once when `force` (the view moved).
     */
    draw(force = false) {
      if (!this.view || this.view.width === 0 || this.view.height === 0) return;
      const now = performance.now();
      if (force && (this.trailsChanged || this.trailPass)) {
        // The view moved: the trails must follow in the same frame.
        this.trailPass = null;
        this.trailsChanged = false;
        this.trailsDrawnAt = now;
        this.drawTrails();
      } else if (this.trailPass) {
        this.continueTrailPass();
      } else if (this.trailsChanged && now - this.trailsDrawnAt >= TRAIL_REDRAW_MS) {
        this.trailsChanged = false;
        this.trailsDrawnAt = now;
        this.startTrailPass();
      }
      if (this.markersChanged && (force || this.markersDue(now))) {
        this.markersChanged = false;
        this.markersDrawnAt = now;
        this.drawMarkers();
      }
    }

    /** Draws every trail now (the view moved). */
    drawTrails() {
      const { width, height } = this.view;
      const context = EnrouteMap.sizeCanvas(this.trailCanvas, width, height);
      this.strokeTrails(context, [...this.drivers.values()]);
    }

    /**
     * Starts redrawing the trails off screen, TRAIL_CHUNK drivers a frame, shown when all are
     * drawn: with a thousand drivers, all their trails at once took long enough to hold up the
     * changes waiting behind them.
     */
    startTrailPass() {
      const { width, height } = this.view;
      if (!this.trailBuffer) this.trailBuffer = document.createElement('canvas');
      const context = EnrouteMap.sizeCanvas(this.trailBuffer, width, height);
      this.trailPass = { context, entries: [...this.drivers.values()], next: 0 };
      this.continueTrailPass();
    }

    continueTrailPass() {
      const pass = this.trailPass;
      const chunk = pass.entries.slice(pass.next, pass.next + TRAIL_CHUNK);
      pass.next += chunk.length;
      this.strokeTrails(pass.context, chunk);
      if (pass.next < pass.entries.length) return;
      this.trailPass = null;
      const { width, height } = this.view;
      const context = EnrouteMap.sizeCanvas(this.trailCanvas, width, height);
      context.drawImage(this.trailBuffer, 0, 0, width, height);
    }

    /** Strokes the trails of `entries` (their last TRAIL_POINTS fixes), one path per colour. */
    strokeTrails(context, entries) {
      context.lineWidth = 2;
      for (const grey of [true, false]) {
        context.beginPath();
        for (const entry of entries) {
          const trail = entry.trail.length > TRAIL_POINTS ? entry.trail.slice(-TRAIL_POINTS) : entry.trail;
          if (entry.grey !== grey || trail.length < 2) continue;
          trail.forEach((fix, index) => {
            const at = this.point(fix.lat, fix.lon);
            if (index === 0) context.moveTo(at.x, at.y);
            else context.lineTo(at.x, at.y);
          });
        }
        context.strokeStyle = grey ? TRAIL_GREY : TRAIL_LIVE;
        context.stroke();
      }
    }

    drawMarkers() {
      const { width, height } = this.view;
      const context = EnrouteMap.sizeCanvas(this.markerCanvas, width, height);
      const shown = [];
      for (const entry of this.drivers.values()) {
        const at = this.point(entry.lat, entry.lon);
        entry.x = at.x;
        entry.y = at.y;
        entry.inView = at.x > -MARGIN && at.x < width + MARGIN && at.y > -MARGIN && at.y < height + MARGIN;
        if (entry.inView) shown.push(entry);
      }
      // Greyed drivers first: the ones tracking are drawn over them. Each marker is a copy of a
      // drawn-once sprite at whole pixels: a thousand anti-aliased paths a frame cost several
      // times more where the canvas is drawn without a GPU.
      const greyed = shown.filter((entry) => entry.state !== 'live');
      const live = shown.filter((entry) => entry.state === 'live');
      const sprites = this.sprites();
      for (const entry of [...greyed, ...live]) {
        const sprite = sprites.of(entry);
        context.drawImage(sprite, Math.round(entry.x) - SPRITE_CENTRE, Math.round(entry.y) - SPRITE_CENTRE, SPRITE_SIZE, SPRITE_SIZE);
      }
      if (shown.length <= LABELS_UP_TO) this.drawLabels(context, [...greyed, ...live]);
    }

    /** The marker sprites at the screen's density (made again when it changes). */
    sprites() {
      const ratio = window.devicePixelRatio || 1;
      if (!this.spriteSet || this.spriteSet.ratio !== ratio) {
        if (this.spriteSet) this.spriteSet.close();
        this.spriteSet = makeSprites(ratio);
      }
      return this.spriteSet;
    }

    drawLabels(context, entries) {
      context.font = '12px system-ui, sans-serif';
      context.textBaseline = 'middle';
      for (const entry of entries) {
        const text = entry.reason ? `${entry.id} · ${entry.reason}` : entry.id;
        let textWidth = this.labelWidths.get(text);
        if (textWidth === undefined) {
          textWidth = context.measureText(text).width;
          if (this.labelWidths.size > 5000) this.labelWidths.clear();
          this.labelWidths.set(text, textWidth);
        }
        const left = entry.x + DOT_RADIUS + 4;
        context.fillStyle = '#fffffff0';
        context.strokeStyle = '#d5dbe3';
        context.lineWidth = 1;
        context.beginPath();
        context.rect(left + 0.5, entry.y - 9.5, textWidth + 8, 18);
        context.fill();
        context.stroke();
        context.fillStyle = entry.state === 'live' ? '#17202c' : '#4b5563';
        context.fillText(text, left + 4, entry.y);
      }
    }
  }

  EnrouteMap.DriverLayer = DriverLayer;
})();
