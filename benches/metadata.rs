//! Micro-benchmarks of the per-update work of a sync: parsing an update document and
//! decoding a compressed blob, on the real documents in ../shared/protocol/samples.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/protocol/samples/real-wsusss"
);

fn parse_documents(c: &mut Criterion) {
    let bundle = std::fs::read_to_string(format!(
        "{SAMPLES}/docs/a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe-r200.xml"
    ))
    .expect("sample document");
    let mut g = c.benchmark_group("update_document");
    g.throughput(Throughput::Bytes(bundle.len() as u64));
    g.bench_function("parse_bundle_37k", |b| {
        b.iter(|| outpost::xml::update::parse(black_box(&bundle)).expect("parses"))
    });
    g.finish();

    // Every real document once: the mix a sync sees (categories, bundles, file carriers).
    let mut all: Vec<String> = std::fs::read_dir(format!("{SAMPLES}/docs"))
        .expect("sample documents")
        .map(|entry| std::fs::read_to_string(entry.expect("entry").path()).expect("document"))
        .collect();
    all.sort();
    let mut g = c.benchmark_group("update_document");
    g.throughput(Throughput::Bytes(all.iter().map(|d| d.len() as u64).sum()));
    g.bench_function("parse_real_docs", |b| {
        b.iter(|| {
            for doc in &all {
                outpost::xml::update::parse(black_box(doc)).expect("parses");
            }
        })
    });
    g.finish();
}

fn decode_blob(c: &mut Criterion) {
    let body = std::fs::read_to_string(format!("{SAMPLES}/exchanges/000014/response.body"))
        .expect("sample exchange");
    let start = body.find("<XmlUpdateBlobCompressed>").expect("blob") + 25;
    let end = body.find("</XmlUpdateBlobCompressed>").expect("blob end");
    let blob = &body[start..end];
    c.bench_function("decode_compressed_blob_lzx", |b| {
        b.iter(|| outpost::upstream::decode_compressed_blob(black_box(blob)).expect("decodes"))
    });
}

criterion_group!(benches, parse_documents, decode_blob);
criterion_main!(benches);
