//! Small geodesy: distances, bearings and a local flat frame, enough for the throttle. All on a
//! sphere of the Earth's mean radius: over the few kilometres between two fixes the error is far
//! below GPS noise.

/// Mean Earth radius in metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres between two points given in degrees (haversine).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let delta_phi = (lat2 - lat1).to_radians();
    let delta_lambda = (lon2 - lon1).to_radians();
    let a = (delta_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (delta_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// Initial bearing in degrees clockwise from true north, in `[0, 360)`, from the first point to
/// the second.
pub fn bearing_deg(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let delta_lambda = (lon2 - lon1).to_radians();
    let y = delta_lambda.sin() * phi2.cos();
    let x = phi1.cos() * phi2.sin() - phi1.sin() * phi2.cos() * delta_lambda.cos();
    y.atan2(x).to_degrees().rem_euclid(360.0)
}

/// The smallest angle between two bearings, in `[0, 180]` degrees.
pub fn bearing_difference_deg(a: f64, b: f64) -> f64 {
    let difference = (a - b).rem_euclid(360.0);
    difference.min(360.0 - difference)
}

/// A flat frame around an origin: east and north offsets in metres (equirectangular). Accurate
/// to well under a metre within a few kilometres of the origin, which is all the throttle needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    origin_lat: f64,
    origin_lon: f64,
    metres_per_degree_lat: f64,
    metres_per_degree_lon: f64,
}

impl LocalFrame {
    /// A frame centred on `(lat, lon)` in degrees.
    pub fn around(lat: f64, lon: f64) -> LocalFrame {
        let metres_per_degree_lat = EARTH_RADIUS_M.to_radians();
        LocalFrame {
            origin_lat: lat,
            origin_lon: lon,
            metres_per_degree_lat,
            metres_per_degree_lon: metres_per_degree_lat * lat.to_radians().cos(),
        }
    }

    /// `(east, north)` in metres of a point in degrees.
    pub fn to_local(&self, lat: f64, lon: f64) -> (f64, f64) {
        let mut delta_lon = lon - self.origin_lon;
        // Across the antimeridian, take the short way round.
        if delta_lon > 180.0 {
            delta_lon -= 360.0;
        } else if delta_lon < -180.0 {
            delta_lon += 360.0;
        }
        (delta_lon * self.metres_per_degree_lon, (lat - self.origin_lat) * self.metres_per_degree_lat)
    }

    /// The point in degrees at `(east, north)` metres.
    pub fn to_degrees(&self, east: f64, north: f64) -> (f64, f64) {
        let lat = self.origin_lat + north / self.metres_per_degree_lat;
        let lon = if self.metres_per_degree_lon.abs() < 1e-9 {
            self.origin_lon
        } else {
            self.origin_lon + east / self.metres_per_degree_lon
        };
        (lat, (lon + 180.0).rem_euclid(360.0) - 180.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let metres = distance_m(48.0, 11.0, 49.0, 11.0);
        assert!((metres - 111_195.0).abs() < 10.0, "{metres}");
    }

    #[test]
    fn known_city_distance() {
        // Munich Marienplatz to Regensburg Dom: about 104.5 km as the crow flies.
        let metres = distance_m(48.137_154, 11.576_124, 49.019_440, 12.097_690);
        assert!((metres - 104_900.0).abs() < 1_000.0, "{metres}");
    }

    #[test]
    fn bearings_point_the_right_way() {
        assert!((bearing_deg(48.0, 11.0, 49.0, 11.0) - 0.0).abs() < 1e-6);
        assert!((bearing_deg(48.0, 11.0, 48.0, 11.1) - 90.0).abs() < 0.1);
        assert!((bearing_deg(48.0, 11.0, 47.0, 11.0) - 180.0).abs() < 1e-6);
        assert!((bearing_deg(48.0, 11.1, 48.0, 11.0) - 270.0).abs() < 0.1);
        assert_eq!(bearing_difference_deg(350.0, 10.0), 20.0);
        assert_eq!(bearing_difference_deg(90.0, 270.0), 180.0);
    }

    #[test]
    fn local_frame_round_trips_and_matches_haversine_nearby() {
        let frame = LocalFrame::around(48.137, 11.576);
        let (east, north) = frame.to_local(48.140, 11.580);
        let (lat, lon) = frame.to_degrees(east, north);
        assert!((lat - 48.140).abs() < 1e-9 && (lon - 11.580).abs() < 1e-9);
        let flat = (east * east + north * north).sqrt();
        let sphere = distance_m(48.137, 11.576, 48.140, 11.580);
        assert!((flat - sphere).abs() < 0.5, "{flat} vs {sphere}");
    }

    #[test]
    fn local_frame_takes_the_short_way_across_the_antimeridian() {
        let frame = LocalFrame::around(0.0, 179.9999);
        let (east, _) = frame.to_local(0.0, -179.9999);
        assert!((east - 22.2).abs() < 0.5, "{east}");
    }
}
