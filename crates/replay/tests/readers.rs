//! The trace readers on small hand-written files, good and bad.

#![cfg(not(target_arch = "wasm32"))]

use enroute_replay::read_trace_text;

#[test]
fn gpx_track_points_with_optional_fields() {
    let text = r#"<?xml version="1.0"?>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><trkseg>
    <trkpt lat="48.1" lon="11.5"><ele>519.5</ele><time>2014-09-10T04:54:07Z</time><hdop>1.2</hdop></trkpt>
    <trkpt lat="-48.2" lon="-11.6"><time>2014-09-10T04:54:08.500Z</time><speed>12.5</speed><course>271</course></trkpt>
  </trkseg></trk>
</gpx>"#;
    let fixes = read_trace_text(text).unwrap();
    assert_eq!(fixes.len(), 2);
    assert_eq!(fixes[0].time_ms, 1_410_324_847_000);
    assert_eq!((fixes[0].lat, fixes[0].lon), (48.1, 11.5));
    assert_eq!(fixes[0].altitude_m, Some(519.5));
    assert_eq!(fixes[0].accuracy_m, Some(6.0), "hdop 1.2 × 5 m");
    assert_eq!(fixes[1].time_ms, 1_410_324_848_500);
    assert_eq!((fixes[1].speed_mps, fixes[1].heading_deg), (Some(12.5), Some(271.0)));
    assert_eq!(fixes[1].accuracy_m, None);
}

#[test]
fn gpx_errors_name_the_line() {
    let missing_time = "<gpx>\n<trk><trkseg>\n<trkpt lat=\"1\" lon=\"2\"></trkpt>\n</trkseg></trk></gpx>";
    let error = read_trace_text(missing_time).unwrap_err();
    assert_eq!(error.line, 3);
    assert!(error.to_string().contains("no time"), "{error}");

    let bad_number = "<gpx>\n<trkpt lat=\"north\" lon=\"2\"><time>2014-09-10T04:54:07Z</time></trkpt></gpx>";
    let error = read_trace_text(bad_number).unwrap_err();
    assert_eq!((error.line, error.to_string().contains("lat is not a number")), (2, true), "{error}");

    let bad_time = "<gpx>\n<trkpt lat=\"1\" lon=\"2\">\n<time>yesterday</time></trkpt></gpx>";
    assert_eq!(read_trace_text(bad_time).unwrap_err().line, 3);

    let broken_xml = "<gpx>\n<trkpt lat=\"1\" lon=\"2\"><time>2014-09-10T04:54:07Z</time></trk></gpx>";
    let error = read_trace_text(broken_xml).unwrap_err();
    assert!(error.to_string().contains("invalid XML"), "{error}");
    assert_eq!(error.line, 2);

    assert!(read_trace_text("<gpx></gpx>").unwrap_err().to_string().contains("no track points"));
}

const NMEA: &str = "$PGRME,5.5,M,7.0,M,8.9,M*28\r\n\
$GPRMC,165744,A,4901.5940,N,01203.9163,E,0.0,131.9,110410,1.6,E,A*1F\r\n\
$GPGGA,165744,4901.5940,N,01203.9163,E,1,07,1.0,336.7,M,46.6,M,,*4D\r\n\
$GPRMC,165746,V,4901.5940,N,01203.9163,E,0.0,131.9,110410,1.6,E,A*08\r\n\
$GPRMC,165748,A,4901.6000,S,01203.9200,W,10.0,90.0,110410,1.6,E,A*09\r\n";

#[test]
fn nmea_rmc_with_gga_altitude_and_pgrme_accuracy() {
    let fixes = read_trace_text(&fixed_checksums(NMEA)).unwrap();
    assert_eq!(fixes.len(), 2, "the RMC with status V is skipped");
    assert_eq!(fixes[0].time_ms, 1_271_005_064_000);
    assert!((fixes[0].lat - (49.0 + 1.594 / 60.0)).abs() < 1e-9);
    assert!((fixes[0].lon - (12.0 + 3.9163 / 60.0)).abs() < 1e-9);
    assert_eq!(fixes[0].accuracy_m, Some(5.5), "from $PGRME before the RMC");
    assert_eq!(fixes[0].altitude_m, Some(336.7), "from the GGA of the same second");
    assert_eq!(fixes[0].speed_mps, Some(0.0));
    assert!(fixes[1].lat < 0.0 && fixes[1].lon < 0.0, "south and west are negative");
    assert!((fixes[1].speed_mps.unwrap() - 5.144).abs() < 0.001, "10 knots");
    assert_eq!(fixes[1].accuracy_m, None, "no PGRME or GGA for it");
}

#[test]
fn nmea_checksum_mismatch_is_an_error_with_the_line() {
    let corrupted = fixed_checksums(NMEA).replace("$GPRMC,165748,A,4901.6000", "$GPRMC,165748,A,4901.6999");
    let error = read_trace_text(&corrupted).unwrap_err();
    assert_eq!(error.line, 5);
    assert!(error.to_string().contains("checksum mismatch"), "{error}");
}

#[test]
fn nmea_malformed_fields_are_errors_with_the_line() {
    let text = fixed_checksums("$GPRMC,165744,A,49x1.5940,N,01203.9163,E,0.0,131.9,110410,1.6,E,A*00\n");
    let error = read_trace_text(&text).unwrap_err();
    assert_eq!(error.line, 1);
    assert!(error.to_string().contains("bad coordinate"), "{error}");
    let text = fixed_checksums("$GPRMC,165744,A,4901.5940,N,01203.9163,E,0.0,131.9,311310,1.6,E,A*00\n");
    assert!(read_trace_text(&text).unwrap_err().to_string().contains("out of range"));
}

#[test]
fn csv_with_empty_optional_fields() {
    let text = "time,lat,lon,accuracy_m,speed_mps,heading_deg\n\
2014-09-10T04:54:07Z,48.1,11.5,4.5,,\n\
2014-09-10T04:54:08Z,48.2,11.6,,3.5,90\n";
    let fixes = read_trace_text(text).unwrap();
    assert_eq!(fixes.len(), 2);
    assert_eq!(fixes[0].accuracy_m, Some(4.5));
    assert_eq!((fixes[0].speed_mps, fixes[0].heading_deg), (None, None));
    assert_eq!(
        (fixes[1].accuracy_m, fixes[1].speed_mps, fixes[1].heading_deg),
        (None, Some(3.5), Some(90.0))
    );
}

#[test]
fn csv_errors_name_the_line() {
    let header = "time,lat,lon,accuracy_m,speed_mps,heading_deg\n";
    let error = read_trace_text(&format!(
        "{header}2014-09-10T04:54:07Z,48.1,11.5,4.5,,\n2014-09-10T04:54:08Z,48.1\n"
    ))
    .unwrap_err();
    assert_eq!(error.line, 3);
    assert!(error.to_string().contains("expected 6 fields"), "{error}");
    let error = read_trace_text(&format!("{header}2014-09-10T04:54:07Z,forty,11.5,,,\n")).unwrap_err();
    assert_eq!((error.line, error.to_string().contains("lat must be a number")), (2, true));
    let error = read_trace_text(&format!("{header}10 Sep 2014,48.1,11.5,,,\n")).unwrap_err();
    assert_eq!(error.line, 2);
    let error = read_trace_text("time,latitude,longitude\n").unwrap_err();
    assert!(error.to_string().contains("the header must be"), "{error}");
}

#[test]
fn unknown_formats_are_refused_clearly() {
    let error = read_trace_text("hello, world").unwrap_err();
    assert!(error.to_string().contains("unknown format"), "{error}");
}

/// Recomputes the `*hh` checksum of every sentence (the samples above are edited by hand).
fn fixed_checksums(text: &str) -> String {
    text.lines()
        .map(|line| {
            let body = line.trim().trim_start_matches('$');
            let data = body.split('*').next().unwrap();
            let checksum = data.bytes().fold(0u8, |sum, byte| sum ^ byte);
            format!("${data}*{checksum:02X}\r\n")
        })
        .collect()
}
