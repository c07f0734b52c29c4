//! `zeroipc show SEGMENT ENTRY [--as TYPE] [--json]`: contents decoded in logical order
//! for every family of structure, on golden images and on segments made by the library.

mod common;

use common::{ShmName, golden_bytes, image, install, load_golden, zeroipc, zeroipc_json};
use serde_json::{Value as Json, json};
use zeroipc::SegmentOptions;
use zeroipc::structures::Queue;
use zeroipc::sync::Mutex;

/// The manifest's expected content of structure `name` in image `file`.
fn expected(file: &str, name: &str) -> Json {
    image(file)["structures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {file}"))["expected"]
        .clone()
}

fn entry_offset(file: &str, name: &str) -> usize {
    let img = image(file);
    let e = img["table_entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
        .unwrap();
    usize::try_from(e["offset"].as_u64().unwrap()).unwrap()
}

/// `a` and `b` hold the same elements, in any order.
fn same_set(a: &Json, b: &Json) {
    let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for x in a {
        assert!(b.contains(x), "{x} not in {b:?}");
    }
}

/// The candidate of an ambiguous entry decoded as `kind`.
fn candidate<'a>(doc: &'a Json, kind: &str) -> &'a Json {
    doc["candidates"]
        .as_array()
        .unwrap_or_else(|| panic!("not ambiguous: {doc}"))
        .iter()
        .find(|c| c["structure"] == kind)
        .unwrap_or_else(|| panic!("no {kind} candidate: {doc}"))
}

#[test]
fn containers_show_their_contents_in_logical_order_as_json() {
    let file = "cpp_all.bin";
    let name = load_golden(file);
    let show =
        |entry: &str, t: &str| zeroipc_json(&["show", name.as_str(), entry, "--as", t, "--json"]);

    let q = show("q_wrap", "u32");
    assert_eq!(q["structure"], "queue");
    assert_eq!(q["values"], expected(file, "q_wrap")["pop_order"]);
    assert_eq!(q["slots"], json!([3, 0, 1, 2]));
    assert_eq!(q["fill"], json!({ "len": 4, "capacity": 4 }));
    assert_eq!(q["flagged"], json!([]));
    assert_eq!(q["as"], "u32");

    let s = show("stk_f64_full", "f64");
    assert_eq!(s["values"], expected(file, "stk_f64_full")["pop_order"]);
    assert_eq!(s["fill"], json!({ "len": 2, "capacity": 2 }));

    let r = show("ring_i32", "i32");
    assert_eq!(r["values"], expected(file, "ring_i32")["read_order"]);
    assert_eq!(r["fill"]["len"], 13);

    let p = show("pool_u16", "u16");
    assert_eq!(p["values"], json!([22, 33, 44]));
    assert_eq!(p["nodes"], json!([1, 2, 3]));
    assert_eq!(p["free_list"], expected(file, "pool_u16")["free_list"]);
    assert_eq!(p["fields"]["free_list_len"], 1);

    let m = show("map_i32_i32", "i32,i32");
    same_set(&m["pairs"], &expected(file, "map_i32_i32")["items"]);
    assert_eq!(m["fill"], json!({ "len": 7, "capacity": 16 }));
    let m = show("map_u64_f64", "u64,f64");
    same_set(&m["pairs"], &expected(file, "map_u64_f64")["items"]);

    let set = show("set_u64", "u64");
    same_set(&set["members"], &expected(file, "set_u64")["members"]);

    let a = show("arr_f32", "f32");
    // f32 values as their shortest decimals, not their f64 widenings.
    assert_eq!(
        a["values"],
        serde_json::from_str::<Json>("[1.0, -2.5, 3.14, 0.1]").unwrap()
    );
}

#[test]
fn python_maps_and_sets_decode_in_their_own_layout() {
    let file = "python_all.bin";
    let name = load_golden(file);
    let m = zeroipc_json(&[
        "show",
        name.as_str(),
        "map_u64_f64",
        "--as",
        "u64,f64",
        "--json",
    ]);
    same_set(&m["pairs"], &expected(file, "map_u64_f64")["items"]);
    assert_eq!(m["fields"]["decoded_layout"], "python");
    let s = zeroipc_json(&["show", name.as_str(), "set_i32", "--as", "i32", "--json"]);
    same_set(
        &candidate(&s, "set")["members"],
        &expected(file, "set_i32")["members"],
    );
}

#[test]
fn sync_primitives_show_their_state_as_json() {
    let file = "cpp_all.bin";
    let name = load_golden(file);
    let show = |entry: &str| zeroipc_json(&["show", name.as_str(), entry, "--json"]);

    let sem = show("sem");
    let c = candidate(&sem, "semaphore");
    assert_eq!(
        (
            c["fields"]["count"].clone(),
            c["fields"]["max_count"].clone()
        ),
        (json!(2), json!(5))
    );
    let m = show("mtx_locked");
    assert_eq!(candidate(&m, "mutex")["fields"]["locked"], true);
    assert!(candidate(&m, "mutex")["fields"].get("holder_pid").is_none());
    let b = show("bar");
    assert_eq!(candidate(&b, "barrier")["fields"]["generation"], 2);
    let l = show("latch");
    assert_eq!(candidate(&l, "latch")["fields"]["count"], 3);

    let once = show("once_done");
    assert_eq!(once["fields"]["state"], "done");
    assert_eq!(once["fields"]["state_code"], 2);

    let ev = show("ev_manual");
    assert_eq!(ev["structure"], "event");
    assert_eq!(ev["fields"]["mode"], "manual_reset");
    assert_eq!(
        (
            ev["fields"]["signaled"].clone(),
            ev["fields"]["sem_count"].clone()
        ),
        (json!(1), json!(0))
    );

    // Composites by base name (the marker entry) and by any part.
    for entry in ["rw_read", "rw_read_state"] {
        let rw = show(entry);
        assert_eq!(rw["structure"], "rwlock", "{entry}");
        assert_eq!(rw["fields"]["readers"], 2);
        assert_eq!(rw["fields"]["wmtx_locked"], false);
    }
    let rw = show("rw_write");
    assert_eq!(
        (
            rw["fields"]["writer_active"].clone(),
            rw["fields"]["wmtx_locked"].clone()
        ),
        (json!(1), json!(true))
    );

    let mon = show("mon");
    assert_eq!(mon["structure"], "monitor");
    assert_eq!(mon["fields"]["mtx_count"], 1);
    assert_eq!(mon["fields"]["waiting"], 0);

    let sig = zeroipc_json(&["show", name.as_str(), "sig_i32", "--as", "i32", "--json"]);
    assert_eq!(sig["structure"], "signal");
    assert_eq!(
        (sig["fields"]["version"].clone(), sig["value"].clone()),
        (json!(2), json!(9))
    );
    let sig = zeroipc_json(&["show", name.as_str(), "sig_f64", "--as", "f64", "--json"]);
    assert_eq!(sig["value"], 1.5);
}

#[test]
fn text_output_lists_contents_with_their_order_and_slots() {
    let name = load_golden("cpp_all.bin");
    let q = zeroipc(&["show", name.as_str(), "q_i32", "--as", "i32"]).ok();
    assert!(q.contains("kind     queue"), "{q}");
    assert!(q.contains("fill     7/8 (87.5%)"), "{q}");
    assert!(
        q.contains("values   7 x i32, head first (pop order)"),
        "{q}"
    );
    assert!(q.contains("  [0] 105  (slot 5)"), "{q}");
    assert!(q.contains("  [6] 111  (slot 3)"), "{q}");

    let s = zeroipc(&["show", name.as_str(), "stk_i32", "--as", "i32"]).ok();
    assert!(
        s.contains("top first (pop order)") && s.contains("  [0] 40  (slot 3)"),
        "{s}"
    );

    let m = zeroipc(&["show", name.as_str(), "map_i32_i64", "--as", "i32,i64"]).ok();
    assert!(m.contains("pairs    2 x i32=i64"), "{m}"); // the older K,V, shown as read
    assert!(m.contains("1000000 => 1099511627776"), "{m}");

    let p = zeroipc(&["show", name.as_str(), "pool_f64", "--as", "f64"]).ok();
    assert!(
        p.contains("free     [1, 3, 4, 5]") && p.contains("  [1] 3.5  (node 2)"),
        "{p}"
    );

    let rw = zeroipc(&["show", name.as_str(), "rw_write"]).ok();
    assert!(rw.contains("kind     rwlock"), "{rw}");
    assert!(rw.contains("  wmtx_locked            true"), "{rw}");

    let sem = zeroipc(&["show", name.as_str(), "sem"]).ok();
    assert!(
        sem.contains("  could be semaphore\n    count                  2"),
        "{sem}"
    );
}

#[test]
fn a_queue_made_by_the_library_shows_its_pushed_values_without_popping() {
    let name = ShmName::new("show_queue");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let q: Queue<u32> = Queue::create(&seg, "jobs", 8).unwrap();
    for v in [7, 8, 9] {
        q.push(v).unwrap();
    }
    for _ in 0..2 {
        let doc = zeroipc_json(&["show", name.as_str(), "jobs", "--as", "u32", "--json"]);
        assert_eq!(doc["values"], json!([7, 8, 9]));
        assert_eq!(doc["fill"], json!({ "len": 3, "capacity": 8 }));
    }
    assert_eq!(q.try_pop(), Ok(7));
}

#[test]
fn a_mutex_held_by_this_process_shows_our_pid() {
    let name = ShmName::new("show_mutex");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let m = Mutex::create(&seg, "lock").unwrap();
    let guard = m.lock().unwrap();
    let doc = zeroipc_json(&["show", name.as_str(), "lock", "--json"]);
    assert_eq!(doc["kind"], "mutex");
    assert_eq!(doc["fields"]["locked"], true);
    assert_eq!(doc["fields"]["holder_pid"], std::process::id());
    assert_eq!(doc["fields"]["holder_alive"], true);
    let text = zeroipc(&["show", name.as_str(), "lock"]).ok();
    assert!(
        text.contains(&format!("holder_pid             {}", std::process::id())),
        "{text}"
    );
    drop(guard);
    let doc = zeroipc_json(&["show", name.as_str(), "lock", "--json"]);
    let free = if doc["kind"] == "ambiguous" {
        candidate(&doc, "mutex").clone()
    } else {
        doc
    };
    assert_eq!(free["fields"]["locked"], false);
    assert!(free["fields"].get("holder_pid").is_none());
}

#[test]
fn an_unpublished_queue_slot_is_flagged() {
    // q_i32: head 5, tail 12, capacity 8; position 11 is slot 3, published with seq 12.
    // seq 11 says a pusher claimed it and has not published it yet.
    let mut bytes = golden_bytes("cpp_all.bin");
    let seq3 = entry_offset("cpp_all.bin", "q_i32") + 48 + 3 * 4;
    bytes[seq3..seq3 + 4].copy_from_slice(&11u32.to_le_bytes());
    let name = install("unpublished", &bytes);
    let doc = zeroipc_json(&["show", name.as_str(), "q_i32", "--as", "i32", "--json"]);
    assert_eq!(
        doc["flagged"],
        json!([{ "index": 6, "slot": 3, "state": "unpublished" }])
    );
    let text = zeroipc(&["show", name.as_str(), "q_i32", "--as", "i32"]).ok();
    assert!(text.contains("  [6] 111  (slot 3, unpublished)"), "{text}");
}

#[test]
fn types_that_do_not_fit_are_one_line_errors() {
    let name = load_golden("cpp_all.bin");
    for (entry, t, says) in [
        ("q_i32", "i64", "elements are 4 bytes"),
        // A comma list is one struct (8 bytes); KEY=VALUE is a map's pair.
        ("q_i32", "i32,i32", "i32,i32 is 8"),
        ("q_i32", "i32=i32", "for maps"),
        ("map_i32_i32", "i32", "--as KEY=VALUE"),
        ("map_i32_i32", "i32,i64", "4 and 4 bytes"),
        ("bar", "i32", "no values"),
        ("once_done", "u8", "no values"),
        ("arr_point", "f64", "24 bytes"),
    ] {
        let line = zeroipc(&["show", name.as_str(), entry, "--as", t]).one_line_error();
        assert!(line.contains(says), "{entry} {t}: {line}");
    }
    zeroipc(&["show", name.as_str(), "q_i32", "--as", "i32,"]).one_line_error();
    zeroipc(&["show", name.as_str(), "no_such_entry"]).one_line_error();
}

#[test]
fn kind_picks_a_reading_and_shows_impossible_values() {
    let name = load_golden("cpp_all.bin");
    let sem = zeroipc_json(&[
        "show",
        name.as_str(),
        "sem",
        "--kind",
        "semaphore",
        "--json",
    ]);
    assert_eq!(
        (sem["kind"].clone(), sem["fields"]["count"].clone()),
        (json!("semaphore"), json!(2))
    );
    assert!(sem.get("candidates").is_none());
    let line = zeroipc(&["show", name.as_str(), "q_i32", "--kind", "stack"]).one_line_error();
    assert!(line.contains("is not a stack"), "{line}");

    // A stack whose top was overwritten: the classifier refuses it, --kind shows why.
    let mut bytes = golden_bytes("cpp_all.bin");
    let top = entry_offset("cpp_all.bin", "stk_i32");
    bytes[top..top + 4].copy_from_slice(&99i32.to_le_bytes());
    let name = install("top99", &bytes);
    let plain = zeroipc_json(&["show", name.as_str(), "stk_i32", "--json"]);
    assert_ne!(plain["kind"], "stack");
    let text = zeroipc(&[
        "show",
        name.as_str(),
        "stk_i32",
        "--kind",
        "stack",
        "--as",
        "i32",
    ])
    .ok();
    assert!(
        text.contains("problem  corrupt: top 99 >= capacity 8"),
        "{text}"
    );
    assert!(text.contains("fill     8/8"), "{text}");
    let doc = zeroipc_json(&[
        "show",
        name.as_str(),
        "stk_i32",
        "--kind",
        "stack",
        "--json",
    ]);
    assert_eq!(doc["problems"], json!(["corrupt: top 99 >= capacity 8"]));
}

#[test]
fn codata_show_state_error_text_values_and_fill_as_json() {
    let file = "cpp_all.bin";
    let name = load_golden(file);
    let show = |entry: &str, t: Option<&str>| {
        let mut args = vec!["show", name.as_str(), entry, "--json"];
        if let Some(t) = t {
            args.extend(["--as", t]);
        }
        zeroipc_json(&args)
    };
    // A Future (maybe ambiguous with a Lazy): the details are on the future candidate.
    let future = |doc: &Json| -> Json {
        if doc.get("candidates").is_some() {
            candidate(doc, "future").clone()
        } else {
            doc.clone()
        }
    };
    let exp = expected(file, "fut_err");
    for t in [None, Some("i32")] {
        let d = future(&show("fut_err", t));
        assert_eq!(d["fields"]["state"], "error");
        assert_eq!(d["error"], exp["error"]);
        assert!(d.get("value").is_none(), "{d}");
    }
    for (entry, t) in [("fut_ready", "f64"), ("fut_i64", "i64")] {
        let d = future(&show(entry, Some(t)));
        assert_eq!(d["fields"]["state"], "ready");
        assert_eq!(d["value"], expected(file, entry)["value"], "{entry}");
        assert!(d.get("error").is_none(), "{d}");
    }

    let d = show("lazy_mul", Some("f64"));
    let d = if d.get("candidates").is_some() {
        candidate(&d, "lazy").clone()
    } else {
        d
    };
    let exp = expected(file, "lazy_mul");
    assert_eq!(d["fields"]["op"], "multiply");
    assert_eq!(d["fields"]["compute_count"], exp["compute_count"]);
    assert_eq!(d["operands"], json!([2.5, 4.0]));
    assert_eq!(d["value"], 10.0);

    let exp = expected(file, "strm");
    for entry in ["strm", "strm_header"] {
        let d = show(entry, Some("i32"));
        assert_eq!(d["structure"], "stream");
        assert_eq!(d["fields"]["sequence"], exp["sequence"]);
        assert_eq!(d["transform"], "");
        assert_eq!(d["fill"], json!({ "len": 7, "capacity": 16 }));
        assert_eq!(d["values"], exp["read_order"]);
    }

    let exp = expected(file, "chb");
    let d = show("chb", Some("i32"));
    assert_eq!(d["structure"], "channel");
    assert_eq!(d["fields"]["capacity"], exp["capacity"]);
    assert_eq!(d["fields"]["buffered"], true);
    assert_eq!(d["fill"], json!({ "len": 5, "capacity": 8 }));
    assert_eq!(d["values"], exp["recv_order"]);
    let d = show("chu", None);
    assert_eq!(d["fields"]["capacity"], 0);
    assert_eq!(d["fields"]["buffered"], false);
    assert_eq!(d["fields"]["slot_ready"], 0);
    assert_eq!(d["fields"]["slot_consumed"], 1);
}

#[test]
fn codata_show_as_text() {
    let name = load_golden("cpp_all.bin");
    let out = zeroipc(&["show", name.as_str(), "fut_err"]).ok();
    assert!(
        out.contains("error                  \"boom: negative input\""),
        "{out}"
    );
    let out = zeroipc(&["show", name.as_str(), "strm", "--as", "i32"]).ok();
    assert!(out.contains("kind     stream"), "{out}");
    assert!(out.contains("fill     7/16"), "{out}");
    assert!(out.contains("values   7 x i32, read_pos first"), "{out}");
    let out = zeroipc(&["show", name.as_str(), "chc", "--as", "f64"]).ok();
    assert!(out.contains("closed                 1"), "{out}");
    assert!(out.contains("fill     1/2"), "{out}");
    assert!(out.contains("[0] 9.5"), "{out}");
}

/// `a` and `b` are the same number (the manifest writes 4.0 as 4), or the same arrays of
/// numbers.
fn same_number(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_number(p, q))
        }
        _ => a.as_f64().is_some() && a.as_f64() == b.as_f64(),
    }
}

#[test]
fn every_future_lazy_stream_and_channel_of_the_cpp_image_decodes_with_as() {
    let file = "cpp_all.bin";
    let name = load_golden(file);
    let show =
        |entry: &str, t: &str| zeroipc_json(&["show", name.as_str(), entry, "--as", t, "--json"]);
    // Futures and lazies: (entry, type, the kind the type selects when the bytes are
    // ambiguous, or None when they are not).
    let cases = [
        ("fut_pending", "f64", Some("future")),
        ("fut_ready", "f64", Some("future")),
        ("fut_err", "i32", Some("future")),
        ("fut_i64", "i64", Some("future")),
        ("fut_point", "i32,f32,f64,u8", Some("future")),
        ("lazy_const", "f64", None),
        ("lazy_c2", "f64", None),
        ("lazy_add", "f64", None),
        ("lazy_mul", "f64", None),
        ("lazy_i32", "i32", Some("lazy")),
    ];
    for (entry, t, selected) in cases {
        let doc = show(entry, t);
        let want = expected(file, entry);
        let kind = if entry.starts_with("fut") {
            "future"
        } else {
            "lazy"
        };
        assert_eq!(doc["structure"], kind, "{entry}: {doc}");
        if let Some(s) = selected {
            // Still shown as ambiguous, with the candidate the type picked.
            assert_eq!(doc["kind"], "ambiguous", "{entry}: {doc}");
            assert_eq!(doc["selected"], s, "{entry}: {doc}");
            assert!(doc["candidates"].as_array().unwrap().len() >= 2, "{doc}");
        }
        match want.get("value") {
            Some(Json::Object(fields)) => {
                // Point's fields in declaration order.
                let got: Vec<Json> = ["id", "x", "y", "flag"]
                    .iter()
                    .map(|f| fields[*f].clone())
                    .collect();
                assert!(
                    same_number(&doc["value"], &Json::Array(got)),
                    "{entry}: {doc}"
                );
            }
            Some(v) => assert!(same_number(&doc["value"], v), "{entry}: {doc}"),
            None => assert!(doc.get("value").is_none(), "{entry}: {doc}"),
        }
        if let Some(e) = want.get("error") {
            assert_eq!(&doc["error"], e, "{entry}: {doc}");
        }
        if let Some(ops) = want.get("operands") {
            assert!(same_number(&doc["operands"], ops), "{entry}: {doc}");
        }
        if let Some(state) = want.get("state") {
            let s = state.as_str().unwrap().to_ascii_lowercase();
            assert_eq!(doc["fields"]["state"], s.as_str(), "{entry}: {doc}");
        }
    }
    // Streams and channels: their buffered values in read / receive order.
    for (entry, t, key) in [
        ("strm", "i32", "read_order"),
        ("strm_closed", "f64", "read_order"),
        ("chb", "i32", "recv_order"),
        ("chc", "f64", "recv_order"),
    ] {
        let doc = show(entry, t);
        let want = &expected(file, entry)[key];
        assert!(same_number(&doc["values"], want), "{entry}: {doc}");
    }
    // An unbuffered channel has no buffer: its slot's flags.
    let doc = show("chu", "i32");
    assert_eq!(doc["structure"], "channel", "{doc}");
    assert_eq!(doc["fields"]["slot_consumed"], 1, "{doc}");
}

#[test]
fn ambiguous_codata_text_says_which_candidate_the_type_selects() {
    let name = load_golden("cpp_all.bin");
    let out = zeroipc(&["show", name.as_str(), "fut_ready", "--as", "f64"]).ok();
    assert!(out.contains("kind     ambiguous (future | lazy)"), "{out}");
    assert!(
        out.contains("as       f64 selects future (candidates: future, lazy)"),
        "{out}"
    );
    assert!(out.contains("value    3.25 (f64)"), "{out}");
    let out = zeroipc(&["show", name.as_str(), "lazy_i32", "--as", "i32"]).ok();
    assert!(out.contains("as       i32 selects lazy"), "{out}");
    assert!(out.contains("value    -42 (i32)"), "{out}");
    let out = zeroipc(&["show", name.as_str(), "fut_i64", "--as", "i64"]).ok();
    assert!(out.contains("value    -9876543210 (i64)"), "{out}");
}

#[test]
fn kind_accepts_the_codata_kinds() {
    let name = load_golden("cpp_all.bin");
    let show = |entry: &str, kind: &str, t: &str| {
        zeroipc_json(&[
            "show",
            name.as_str(),
            entry,
            "--kind",
            kind,
            "--as",
            t,
            "--json",
        ])
    };
    let doc = show("fut_ready", "future", "f64");
    assert_eq!(doc["kind"], "future", "{doc}");
    assert_eq!(doc["value"], 3.25, "{doc}");
    let doc = show("lazy_i32", "lazy", "i32");
    assert_eq!(doc["kind"], "lazy", "{doc}");
    assert_eq!(doc["value"], -42, "{doc}");
    let doc = show("strm", "stream", "i32");
    assert_eq!(doc["values"], json!([4, 5, 6, 7, 8, 9, 10]), "{doc}");
    let doc = show("chb", "channel", "i32");
    assert_eq!(doc["values"], json!([3, 4, 5, 6, 7]), "{doc}");
    // The sync kinds too, and a misfit is one line saying why.
    let doc = zeroipc_json(&["show", name.as_str(), "latch", "--kind", "latch", "--json"]);
    assert_eq!(doc["kind"], "latch", "{doc}");
    let line = zeroipc(&["show", name.as_str(), "strm", "--kind", "future"]).one_line_error();
    assert!(line.contains("is not a future"), "{line}");
    let line = zeroipc(&["show", name.as_str(), "fut_ready", "--kind", "channel"]).one_line_error();
    assert!(line.contains("a channel is 32 bytes"), "{line}");
}
