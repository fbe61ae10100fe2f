// The console's map pieces shared by both maps (the coordinate grid, job pins), and GridMap: the
// console's own map for when Leaflet is not bundled (a build without node_modules/leaflet).
// Both maps offer the same methods, which console.js calls: setTiles(tiles), setJob(id, job),
// removeJob(id), fit(points), focus(lat, lon); and the same `drivers`, the DriverLayer
// (driver-layer.js) that draws the drivers and trails over them.
// Plain script (no modules): everything hangs on window.EnrouteMap.

'use strict';

(() => {
  const EnrouteMap = (window.EnrouteMap = window.EnrouteMap || {});

  const COLORS = { live: '#1b6b2a', grey: '#6b7280', pickup: '#0b5cad', dropoff: '#a3360b', grid: '#c9d1dd', gridMajor: '#9aa6b8', label: '#3b4556' };
  EnrouteMap.COLORS = COLORS;

  // Grid steps in degrees, coarse to fine.
  const STEPS = [30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001];

  /** The coarsest step that still puts lines at least `minPixels` apart. */
  function gridStep(degrees, pixels, minPixels = 110) {
    const perPixel = degrees / Math.max(pixels, 1);
    let chosen = STEPS[0];
    for (const step of STEPS) {
      if (step / perPixel >= minPixels) chosen = step;
      else break;
    }
    return chosen;
  }

  const decimals = (step) => Math.max(0, Math.min(6, Math.ceil(-Math.log10(step) + 1e-9)));
  const latLabel = (lat, step) => `${Math.abs(lat).toFixed(decimals(step))}° ${lat >= 0 ? 'N' : 'S'}`;
  const lonLabel = (lon, step) => `${Math.abs(lon).toFixed(decimals(step))}° ${lon >= 0 ? 'E' : 'W'}`;

  /**
   * Draws a labelled latitude/longitude grid on a canvas of `width` × `height` CSS pixels.
   * `toPoint(lat, lon)` gives the canvas point of a coordinate, `toLatLon(x, y)` the reverse.
   */
  EnrouteMap.drawGrid = function drawGrid(context, width, height, toPoint, toLatLon) {
    const northWest = toLatLon(0, 0);
    const southEast = toLatLon(width, height);
    const north = Math.min(85, northWest.lat);
    const south = Math.max(-85, southEast.lat);
    const west = Math.max(-180, northWest.lon);
    const east = Math.min(180, southEast.lon);
    if (!(north > south) || !(east > west)) return;
    const lonStep = gridStep(east - west, width);
    const latStep = gridStep(north - south, height, 80);
    context.save();
    context.lineWidth = 1;
    context.font = '11px system-ui, sans-serif';
    context.fillStyle = COLORS.label;
    const isMajor = (value, step) => Math.abs(value / (step * 5) - Math.round(value / (step * 5))) < 1e-6;
    // Meridians, labelled along the bottom (clear of the zoom buttons and the attribution).
    context.textBaseline = 'bottom';
    for (let lon = Math.ceil(west / lonStep) * lonStep; lon <= east + 1e-9; lon += lonStep) {
      const x = Math.round(toPoint(0, lon).x) + 0.5;
      context.strokeStyle = isMajor(lon, lonStep) ? COLORS.gridMajor : COLORS.grid;
      context.beginPath();
      context.moveTo(x, 0);
      context.lineTo(x, height);
      context.stroke();
      if (x < width - 150) context.fillText(lonLabel(lon, lonStep), x + 3, height - 3);
    }
    // Parallels, labelled along the left.
    context.textBaseline = 'bottom';
    for (let lat = Math.ceil(south / latStep) * latStep; lat <= north + 1e-9; lat += latStep) {
      const y = Math.round(toPoint(lat, 0).y) + 0.5;
      context.strokeStyle = isMajor(lat, latStep) ? COLORS.gridMajor : COLORS.grid;
      context.beginPath();
      context.moveTo(0, y);
      context.lineTo(width, y);
      context.stroke();
      if (y < height - 18) context.fillText(latLabel(lat, latStep), 3, y - 2);
    }
    context.restore();
  };

  /** Sizes `canvas` to `width` × `height` CSS pixels at the screen's density; returns its 2D context. */
  EnrouteMap.sizeCanvas = function sizeCanvas(canvas, width, height) {
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const context = canvas.getContext('2d');
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    return context;
  };

  /**
   * A job's pickup or drop-off pin (`kind`): a holder at the point (the maps move it) with the
   * pin drawn above it; `data-job` names the job.
   */
  EnrouteMap.createPin = function createPin(kind, jobId) {
    const holder = document.createElement('div');
    holder.className = 'pin-holder';
    holder.dataset.job = jobId;
    holder.dataset.pin = kind;
    holder.setAttribute('role', 'img');
    holder.setAttribute('aria-label', `${kind === 'pickup' ? 'Pickup' : 'Drop-off'} of ${jobId}`);
    holder.title = holder.getAttribute('aria-label');
    const pin = document.createElement('div');
    pin.className = `pin pin-${kind}`;
    const letter = document.createElement('span');
    letter.textContent = kind === 'pickup' ? 'P' : 'D';
    pin.append(letter);
    holder.append(pin);
    return holder;
  };

  const { project, unproject } = EnrouteMap;

  /** The console's own map: a grid, drivers, trails and pins, with drag, wheel and +/- zoom. */
  class GridMap {
    constructor(container) {
      this.container = container;
      this.zoom = 2;
      this.center = { lat: 20, lon: 0 };
      this.jobs = new Map();
      const root = document.createElement('div');
      root.className = 'grid-map';
      root.tabIndex = 0;
      root.setAttribute('role', 'application');
      root.setAttribute('aria-roledescription', 'map');
      root.setAttribute('aria-label', 'Coordinate grid map: drag or use the arrow keys to move, + and − to zoom');
      this.canvas = document.createElement('canvas');
      this.pins = document.createElement('div');
      this.pins.className = 'grid-layer';
      const zoom = document.createElement('div');
      zoom.className = 'grid-zoom';
      const button = (label, text, delta) => {
        const element = document.createElement('button');
        element.type = 'button';
        element.className = 'quiet';
        element.textContent = text;
        element.setAttribute('aria-label', label);
        element.addEventListener('click', () => this.zoomBy(delta));
        return element;
      };
      zoom.append(button('Zoom in', '+', 1), button('Zoom out', '−', -1));
      const note = document.createElement('p');
      note.className = 'grid-note';
      note.textContent = 'Coordinate grid';
      root.append(this.canvas);
      this.drivers = new EnrouteMap.DriverLayer(root);
      root.append(this.pins);
      container.append(root, zoom, note);
      this.root = root;
      this.listen();
      new ResizeObserver(() => this.draw()).observe(container);
      this.draw();
    }

    size() {
      return { width: this.container.clientWidth, height: this.container.clientHeight };
    }

    /** The container point of a coordinate. */
    point(lat, lon) {
      const { width, height } = this.size();
      const center = project(this.center.lat, this.center.lon, this.zoom);
      const at = project(lat, lon, this.zoom);
      return { x: at.x - center.x + width / 2, y: at.y - center.y + height / 2 };
    }

    latLon(x, y) {
      const { width, height } = this.size();
      const center = project(this.center.lat, this.center.lon, this.zoom);
      return unproject(center.x + x - width / 2, center.y + y - height / 2, this.zoom);
    }

    listen() {
      let drag = null;
      this.root.addEventListener('pointerdown', (event) => {
        drag = { x: event.clientX, y: event.clientY };
        this.root.setPointerCapture(event.pointerId);
      });
      this.root.addEventListener('pointermove', (event) => {
        if (!drag) return;
        this.panBy(drag.x - event.clientX, drag.y - event.clientY);
        drag = { x: event.clientX, y: event.clientY };
      });
      const end = () => {
        drag = null;
      };
      this.root.addEventListener('pointerup', end);
      this.root.addEventListener('pointercancel', end);
      this.root.addEventListener(
        'wheel',
        (event) => {
          event.preventDefault();
          const box = this.root.getBoundingClientRect();
          this.zoomBy(event.deltaY < 0 ? 0.5 : -0.5, event.clientX - box.left, event.clientY - box.top);
        },
        { passive: false },
      );
      this.root.addEventListener('keydown', (event) => {
        const moves = { ArrowLeft: [-80, 0], ArrowRight: [80, 0], ArrowUp: [0, -80], ArrowDown: [0, 80] };
        if (moves[event.key]) this.panBy(...moves[event.key]);
        else if (event.key === '+' || event.key === '=') this.zoomBy(1);
        else if (event.key === '-' || event.key === '−') this.zoomBy(-1);
        else return;
        event.preventDefault();
      });
    }

    panBy(dx, dy) {
      const { width, height } = this.size();
      this.center = this.latLon(width / 2 + dx, height / 2 + dy);
      this.draw();
    }

    zoomBy(delta, x, y) {
      const { width, height } = this.size();
      const anchorX = x ?? width / 2;
      const anchorY = y ?? height / 2;
      const anchor = this.latLon(anchorX, anchorY);
      this.zoom = Math.max(2, Math.min(19, this.zoom + delta));
      // Keep the coordinate under the pointer where it was.
      const moved = this.point(anchor.lat, anchor.lon);
      this.center = this.latLon(width / 2 + moved.x - anchorX, height / 2 + moved.y - anchorY);
      this.draw();
    }

    setTiles() {
      // Tiles need Leaflet; the grid stays.
    }

    setJob(id, job) {
      let entry = this.jobs.get(id);
      if (!entry) {
        entry = { pickup: EnrouteMap.createPin('pickup', id), dropoff: EnrouteMap.createPin('dropoff', id) };
        this.pins.append(entry.pickup, entry.dropoff);
        this.jobs.set(id, entry);
      }
      entry.job = job;
      this.place(entry.pickup, job.pickup.lat, job.pickup.lon);
      this.place(entry.dropoff, job.dropoff.lat, job.dropoff.lon);
      this.drawSoon();
    }

    removeJob(id) {
      const entry = this.jobs.get(id);
      if (entry) {
        entry.pickup.remove();
        entry.dropoff.remove();
      }
      this.jobs.delete(id);
      this.drawSoon();
    }

    fit(points) {
      if (points.length === 0) return;
      const { width, height } = this.size();
      const lats = points.map((point) => point[0]);
      const lons = points.map((point) => point[1]);
      const north = Math.max(...lats);
      const south = Math.min(...lats);
      const east = Math.max(...lons);
      const west = Math.min(...lons);
      this.center = { lat: (north + south) / 2, lon: (east + west) / 2 };
      let zoom = 15;
      const a = project(north, west, 0);
      const b = project(south, east, 0);
      const spanX = Math.abs(b.x - a.x);
      const spanY = Math.abs(b.y - a.y);
      if (spanX > 0 || spanY > 0) {
        const fitX = spanX > 0 ? Math.log2((width - 80) / spanX) : 19;
        const fitY = spanY > 0 ? Math.log2((height - 80) / spanY) : 19;
        zoom = Math.min(fitX, fitY, 16);
      }
      this.zoom = Math.max(2, Math.floor(zoom * 2) / 2);
      this.draw();
    }

    focus(lat, lon) {
      this.center = { lat, lon };
      this.zoom = Math.max(this.zoom, 14);
      this.draw();
    }

    place(element, lat, lon) {
      const at = this.point(lat, lon);
      element.style.transform = `translate(${at.x.toFixed(1)}px, ${at.y.toFixed(1)}px)`;
    }

    /**
     * Redraws the grid and the jobs' lines once for any number of job changes: in `flush`,
     * which the console calls at the end of the frame that rendered them, so a job's line shows
     * in the same frame as its pins and its row; else in the next animation frame.
     */
    drawSoon() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => this.flush());
    }

    /** Draws now what `drawSoon` was asked for, if it has not been drawn yet. */
    flush() {
      if (!this.pending) return;
      this.pending = false;
      this.drawCanvas();
    }

    /** Redraws everything after the view changed. */
    draw() {
      const { width, height } = this.size();
      this.drivers.setView(width, height, this.zoom, project(this.center.lat, this.center.lon, this.zoom));
      for (const entry of this.jobs.values()) {
        this.place(entry.pickup, entry.job.pickup.lat, entry.job.pickup.lon);
        this.place(entry.dropoff, entry.job.dropoff.lat, entry.job.dropoff.lon);
      }
      this.drawCanvas();
    }

    drawCanvas() {
      const { width, height } = this.size();
      if (width === 0 || height === 0) return;
      const context = EnrouteMap.sizeCanvas(this.canvas, width, height);
      EnrouteMap.drawGrid(context, width, height, (lat, lon) => this.point(lat, lon), (x, y) => this.latLon(x, y));
      context.lineWidth = 2;
      context.setLineDash([6, 5]);
      for (const entry of this.jobs.values()) {
        const from = this.point(entry.job.pickup.lat, entry.job.pickup.lon);
        const to = this.point(entry.job.dropoff.lat, entry.job.dropoff.lon);
        context.strokeStyle = COLORS.dropoff;
        context.beginPath();
        context.moveTo(from.x, from.y);
        context.lineTo(to.x, to.y);
        context.stroke();
      }
      context.setLineDash([]);
    }
  }

  EnrouteMap.GridMap = GridMap;
})();
