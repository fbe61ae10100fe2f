// The console's map on Leaflet (bundled from npm into the server, never from a CDN): the tile
// server's layer when the server names one (`--tiles`), else a labelled coordinate grid drawn
// on a canvas under Leaflet's panes. Drivers are drawn by DriverLayer (driver-layer.js) in a
// pane of their own, over the job lines and under the pins. Same methods as GridMap
// (grid-map.js).

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
      this.jobs = new Map();
      // The drivers' pane moves with the map while it is dragged; the layer's canvases are put
      // back at the view's top left corner and redrawn on every move. Hidden while a zoom
      // animates (Leaflet scales the other panes meanwhile), redrawn at its end.
      const pane = this.map.createPane('enroute-drivers');
      pane.style.zIndex = 450;
      pane.style.pointerEvents = 'none';
      this.drivers = new EnrouteMap.DriverLayer(pane);
      this.pane = pane;
      this.map.on('move zoom viewreset resize', () => this.placeDrivers());
      this.map.on('zoomanim', () => {
        pane.style.visibility = 'hidden';
      });
      this.map.on('zoomend', () => {
        pane.style.visibility = '';
        this.placeDrivers();
      });
      this.placeDrivers();
      new ResizeObserver(() => this.map.invalidateSize()).observe(container);
    }

    placeDrivers() {
      const map = this.map;
      const size = map.getSize();
      const topLeft = map.containerPointToLayerPoint([0, 0]);
      for (const canvas of [this.drivers.trailCanvas, this.drivers.markerCanvas]) L.DomUtil.setPosition(canvas, topLeft);
      const zoom = map.getZoom();
      const centre = map.getCenter();
      this.drivers.setView(size.x, size.y, zoom, EnrouteMap.project(centre.lat, centre.lng, zoom));
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
