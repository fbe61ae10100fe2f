// The console's map on Leaflet (bundled from npm into the server, never from a CDN): the tile
// server's layer when the server names one (`--tiles`), else a labelled coordinate grid drawn
// on a canvas under Leaflet's panes. Same methods as GridMap (grid-map.js).

'use strict';

(() => {
  // A build without node_modules/leaflet serves an empty leaflet.js: the console uses GridMap.
  if (!window.L) return;
  const EnrouteMap = (window.EnrouteMap = window.EnrouteMap || {});
  const { COLORS } = EnrouteMap;

  /** Text as HTML that shows it literally (Leaflet sets attributions as HTML). */
  const escapeHtml = (text) => {
    const holder = document.createElement('div');
    holder.textContent = text;
    return holder.innerHTML;
  };

  /** A canvas under Leaflet's panes with the latitude/longitude grid of the current view. */
  const GridLayer = L.Layer.extend({
    onAdd(map) {
      this.canvas = document.createElement('canvas');
      this.canvas.className = 'grid-canvas';
      map.getContainer().append(this.canvas);
      map.on('move zoom viewreset resize', this.redraw, this);
      this.redraw();
    },
    onRemove(map) {
      map.off('move zoom viewreset resize', this.redraw, this);
      this.canvas.remove();
    },
    redraw() {
      const map = this._map;
      if (!map) return;
      const { x: width, y: height } = map.getSize();
      if (width === 0 || height === 0) return;
      const context = EnrouteMap.sizeCanvas(this.canvas, width, height);
      EnrouteMap.drawGrid(
        context,
        width,
        height,
        (lat, lon) => map.latLngToContainerPoint([lat, lon]),
        (x, y) => {
          const at = map.containerPointToLatLng([x, y]);
          return { lat: at.lat, lon: at.lng };
        },
      );
    },
  });

  class LeafletMap {
    constructor(container) {
      this.map = L.map(container, { minZoom: 2, maxZoom: 19, zoomSnap: 0.5, worldCopyJump: true, zoomControl: false });
      L.control.zoom({ position: 'topright' }).addTo(this.map);
      this.map.setView([20, 0], 2);
      this.grid = new GridLayer().addTo(this.map);
      this.drivers = new Map();
      this.trails = new Map();
      this.jobs = new Map();
      new ResizeObserver(() => this.map.invalidateSize()).observe(container);
    }

    /** Shows the tile server's map instead of the grid (`tiles`: {url_template, attribution}). */
    setTiles(tiles) {
      if (!tiles || this.tiles) return;
      this.tiles = L.tileLayer(tiles.url_template, {
        attribution: escapeHtml(tiles.attribution || ''),
        maxZoom: 19,
        crossOrigin: false,
      }).addTo(this.map);
      this.grid.remove();
    }

    upsertDriver(id, look) {
      let entry = this.drivers.get(id);
      if (!entry) {
        const element = EnrouteMap.createDriverMarker(id);
        const icon = L.divIcon({ html: element, className: 'driver-icon', iconSize: null });
        const marker = L.marker([look.lat, look.lon], { icon, interactive: false, keyboard: false }).addTo(this.map);
        entry = { element, marker };
        this.drivers.set(id, entry);
      }
      EnrouteMap.updateDriverMarker(entry.element, look);
      entry.marker.setZIndexOffset(look.state === 'live' ? 1000 : 0);
      this.moveDriver(id, look.lat, look.lon);
    }

    /** The marker element of a driver, if it is on the map. */
    markerOf(id) {
      return this.drivers.get(id)?.element;
    }

    moveDriver(id, lat, lon) {
      const entry = this.drivers.get(id);
      if (entry) entry.marker.setLatLng([lat, lon]);
    }

    removeDriver(id) {
      const entry = this.drivers.get(id);
      if (entry) entry.marker.remove();
      this.drivers.delete(id);
      const trail = this.trails.get(id);
      if (trail) trail.remove();
      this.trails.delete(id);
    }

    setTrail(id, points, grey) {
      let trail = this.trails.get(id);
      if (!trail) {
        trail = L.polyline([], { interactive: false, weight: 3, opacity: 0.6 }).addTo(this.map);
        this.trails.set(id, trail);
      }
      trail.setStyle({ color: grey ? COLORS.grey : COLORS.live });
      trail.setLatLngs(points);
    }

    setJob(id, job) {
      let entry = this.jobs.get(id);
      const pickup = [job.pickup.lat, job.pickup.lon];
      const dropoff = [job.dropoff.lat, job.dropoff.lon];
      if (!entry) {
        const pin = (kind, at) =>
          L.marker(at, {
            icon: L.divIcon({ html: EnrouteMap.createPin(kind, id), className: 'pin-icon', iconSize: null }),
            interactive: false,
            keyboard: false,
          }).addTo(this.map);
        entry = {
          pickup: pin('pickup', pickup),
          dropoff: pin('dropoff', dropoff),
          line: L.polyline([pickup, dropoff], { interactive: false, color: COLORS.dropoff, weight: 2, dashArray: '6 5', opacity: 0.8 }).addTo(this.map),
        };
        this.jobs.set(id, entry);
      }
      entry.pickup.setLatLng(pickup);
      entry.dropoff.setLatLng(dropoff);
      entry.line.setLatLngs([pickup, dropoff]);
    }

    removeJob(id) {
      const entry = this.jobs.get(id);
      if (entry) {
        entry.pickup.remove();
        entry.dropoff.remove();
        entry.line.remove();
      }
      this.jobs.delete(id);
    }

    fit(points) {
      if (points.length === 0) return;
      this.map.invalidateSize();
      if (points.length === 1) this.map.setView(points[0], 15);
      else this.map.fitBounds(L.latLngBounds(points), { padding: [40, 40], maxZoom: 16 });
    }

    focus(lat, lon) {
      this.map.setView([lat, lon], Math.max(this.map.getZoom(), 14));
    }
  }

  EnrouteMap.LeafletMap = LeafletMap;
})();
