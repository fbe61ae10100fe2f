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
    let fixes = read_trace_text(text).unwrap().fixes;
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
fn gpx_points_it_cannot_use_are_skipped_and_counted_with_the_line() {
    let missing_time = "<gpx>\n<trk><trkseg>\n<trkpt lat=\"1\" lon=\"2\"></trkpt>\n</trkseg></trk></gpx>";
    let error = read_trace_text(missing_time).unwrap_err();
    assert!(
        error.to_string().contains("no usable fixes")
            && error.to_string().contains("line 3: trkpt has no time"),
        "{error}"
    );

    let bad_number = "<gpx>\n<trkpt lat=\"north\" lon=\"2\"><time>2014-09-10T04:54:07Z</time></trkpt></gpx>";
    let error = read_trace_text(bad_number).unwrap_err();
    assert!(error.to_string().contains("line 2: lat is not a number"), "{error}");

    let bad_time = "<gpx>\n<trkpt lat=\"1\" lon=\"2\">\n<time>yesterday</time></trkpt></gpx>";
    assert!(read_trace_text(bad_time).unwrap_err().to_string().contains("line 3"));

    let broken_xml = "<gpx>\n<trkpt lat=\"1\" lon=\"2\"><time>2014-09-10T04:54:07Z</time></trk></gpx>";
    let error = read_trace_text(broken_xml).unwrap_err();
    assert!(error.to_string().contains("invalid XML"), "{error}");

    assert!(read_trace_text("<gpx></gpx>").unwrap_err().to_string().contains("no track points"));
}

#[test]
fn a_messy_gpx_keeps_every_usable_point_and_counts_the_rest() {
    let trace = read_trace_text(include_str!("fixtures/messy.gpx")).unwrap();
    assert_eq!(trace.fixes.len(), 2, "the points before the truncation with a time and numbers");
    assert_eq!(trace.skipped.count("not a number"), 2, "lat=north, hdop=NaN: {}", trace.skipped);
    assert_eq!(trace.skipped.count("bad point"), 1, "no time: {}", trace.skipped);
    assert_eq!(trace.skipped.count("invalid XML"), 1, "the truncated end: {}", trace.skipped);
    assert_eq!(trace.skipped.total(), 4);
}

const NMEA: &str = "$PGRME,5.5,M,7.0,M,8.9,M*28\r\n\
$GPRMC,165744,A,4901.5940,N,01203.9163,E,0.0,131.9,110410,1.6,E,A*1F\r\n\
$GPGGA,165744,4901.5940,N,01203.9163,E,1,07,1.0,336.7,M,46.6,M,,*4D\r\n\
$GPRMC,165746,V,4901.5940,N,01203.9163,E,0.0,131.9,110410,1.6,E,A*08\r\n\
$GPRMC,165748,A,4901.6000,S,01203.9200,W,10.0,90.0,110410,1.6,E,A*09\r\n";

#[test]
fn nmea_rmc_with_gga_altitude_and_pgrme_accuracy() {
    let fixes = read_trace_text(&fixed_checksums(NMEA)).unwrap().fixes;
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
fn nmea_checksum_mismatches_and_malformed_fields_are_skipped_and_counted() {
    let corrupted = fixed_checksums(NMEA).replace("$GPRMC,165748,A,4901.6000", "$GPRMC,165748,A,4901.6999");
    let trace = read_trace_text(&corrupted).unwrap();
    assert_eq!(trace.fixes.len(), 1);
    assert_eq!(trace.skipped.count("checksum mismatch"), 1);
    let (_, _, first) = trace.skipped.causes().next().unwrap();
    assert_eq!(first.line, 5);

    let text = fixed_checksums("$GPRMC,165744,A,49x1.5940,N,01203.9163,E,0.0,131.9,110410,1.6,E,A*00\n");
    let error = read_trace_text(&text).unwrap_err();
    assert!(error.to_string().contains("bad coordinate"), "{error}");
    let text = fixed_checksums("$GPRMC,165744,A,4901.5940,N,01203.9163,E,0.0,131.9,311310,1.6,E,A*00\n");
    assert!(read_trace_text(&text).unwrap_err().to_string().contains("out of range"));
}

/// Issue (the replay tool refused real logs): comment and header lines, a checksum mismatch,
/// an HDOP of NaN, a line of serial garbage and a corrupt multi-byte character each stopped the
/// whole trace. They are skipped and counted; the usable sentences are read.
#[test]
fn a_messy_nmea_log_keeps_every_usable_fix_and_counts_the_rest() {
    let trace = read_trace_text(include_str!("fixtures/messy.nmea")).unwrap();
    let seconds: Vec<i64> = trace.fixes.iter().map(|fix| (fix.time_ms / 1000) % 60).collect();
    assert_eq!(seconds, vec![44, 48, 50, 54], "every RMC but the corrupt ones");
    assert_eq!(trace.fixes[0].accuracy_m, Some(5.5));
    assert_eq!(trace.fixes[1].accuracy_m, None, "its GGA's HDOP is NaN: not used");
    assert_eq!(trace.skipped.count("not a sentence"), 3, "two comments and the garbage: {}", trace.skipped);
    assert_eq!(trace.skipped.count("checksum mismatch"), 1);
    assert_eq!(trace.skipped.count("not a number"), 1, "HDOP NaN");
    assert_eq!(trace.skipped.count("bad coordinate"), 1, "the multi-byte character");
    assert!(trace.skipped.to_string().starts_with("6 skipped: "), "{}", trace.skipped);
}

#[test]
fn csv_with_empty_optional_fields() {
    let text = "time,lat,lon,accuracy_m,speed_mps,heading_deg\n\
2014-09-10T04:54:07Z,48.1,11.5,4.5,,\n\
2014-09-10T04:54:08Z,48.2,11.6,,3.5,90\n";
    let fixes = read_trace_text(text).unwrap().fixes;
    assert_eq!(fixes.len(), 2);
    assert_eq!(fixes[0].accuracy_m, Some(4.5));
    assert_eq!((fixes[0].speed_mps, fixes[0].heading_deg), (None, None));
    assert_eq!(
        (fixes[1].accuracy_m, fixes[1].speed_mps, fixes[1].heading_deg),
        (None, Some(3.5), Some(90.0))
    );
}

#[test]
fn csv_rows_it_cannot_use_are_skipped_and_counted_with_the_line() {
    let header = "time,lat,lon,accuracy_m,speed_mps,heading_deg\n";
    let trace = read_trace_text(&format!(
        "{header}2014-09-10T04:54:07Z,48.1,11.5,4.5,,\n2014-09-10T04:54:08Z,48.1\n"
    ))
    .unwrap();
    assert_eq!((trace.fixes.len(), trace.skipped.count("bad row")), (1, 1));
    let error = read_trace_text(&format!("{header}2014-09-10T04:54:07Z,forty,11.5,,,\n")).unwrap_err();
    assert!(error.to_string().contains("line 2: lat must be a number"), "{error}");
    let error = read_trace_text(&format!("{header}10 Sep 2014,48.1,11.5,,,\n")).unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
    let error = read_trace_text("time,latitude,longitude\n").unwrap_err();
    assert!(error.to_string().contains("unknown format"), "{error}");
}

#[test]
fn a_messy_csv_keeps_every_usable_row_and_counts_the_rest() {
    let trace = read_trace_text(include_str!("fixtures/messy.csv")).unwrap();
    assert_eq!(trace.fixes.len(), 3);
    assert_eq!(trace.skipped.count("before the header"), 2);
    assert_eq!(trace.skipped.count("not a number"), 2, "NaN and inf: {}", trace.skipped);
    assert_eq!(trace.skipped.count("bad row"), 1);
    assert_eq!(trace.skipped.count("bad time"), 1);
    assert_eq!(trace.skipped.count("bad coordinate"), 1);
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
